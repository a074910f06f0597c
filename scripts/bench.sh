#!/usr/bin/env bash
# riptide's main job: build the CLI in release mode and run its default
# benchmark (a simulated 3-replica cluster). Extra arguments go to `riptide bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
exec target/release/riptide bench "$@"
