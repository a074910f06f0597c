#!/usr/bin/env bash
# Installs what riptide's build and tests need on a Debian machine. Idempotent:
# installs only what is missing, so CI and developers can run it every time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found. Install a Rust toolchain (rustup, Rust >= 1.85) first." >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done

# iproute2 (`ip`): the replica partition tests build network namespaces.
if ! command -v ip >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq iproute2
fi

# HDL tools (yosys, verilator, iverilog) for the Verilog lint and synthesis checks.
if [ -x "$here/install-hdl-tools.sh" ]; then
    "$here/install-hdl-tools.sh"
fi
