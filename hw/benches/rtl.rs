//! RTL figures (`riptide_hw::bench`): `cargo bench -p riptide-hw`, or
//! `riptide bench --backend rtl`. Prints a markdown table;
//! `RIPTIDE_BENCH_NO_YOSYS=1` skips the synthesis (minutes).

use riptide_hw::bench::{Options, run};

fn main() {
    let options = Options {
        yosys: std::env::var_os("RIPTIDE_BENCH_NO_YOSYS").is_none(),
        ..Options::default()
    };
    print!("{}", run(&options).markdown());
}
