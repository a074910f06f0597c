//! The path report of a netlist yosys already wrote, without synthesizing
//! again: `cargo run -p riptide-hw --example paths -- riptide_core.json [N]`
//! (`write_json` after `synth_xilinx -family xcup -flatten`; the script is
//! `riptide_hw::paths::yosys_script`). Prints the LUT-level distribution and
//! the N worst paths (20 by default).

use riptide_hw::paths::analyze;
use riptide_hw::verilog::TOP;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: paths NETLIST.json [WORST]");
        std::process::exit(2);
    };
    let worst = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match analyze(&json, TOP) {
        Ok(analysis) => print!("{}", analysis.markdown(worst)),
        Err(why) => {
            eprintln!("{path}: {why}");
            std::process::exit(1);
        }
    }
}
