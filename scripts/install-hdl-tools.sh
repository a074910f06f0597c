#!/usr/bin/env bash
# Installs the HDL tools the Verilog checks of riptide-hw and riptide-deploy
# use (yosys for synthesis, verilator for lint, iverilog, tclsh for the stub
# Vivado), from Debian's packages, only when one is missing: idempotent, so CI
# and developers can run it every time.
set -euo pipefail

missing=()
# tool:package
for entry in yosys:yosys verilator:verilator iverilog:iverilog tclsh:tcl make:make; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing HDL tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
