//! `--nic rtl` speed: committed entries per wall-clock second for a 3-replica
//! cluster whose NICs are riptide_core's RTL (RustHDL) behind the PCIe driver
//! and the fake XDMA board, without faults and with every fault kind, next
//! to the same runs on the behavioural model. `cargo bench -p riptide-sim --bench rtl`.

use std::time::Instant;

use riptide_hw::quorum::WINDOW_SLOTS;
use riptide_sim::faults::FaultKind;
use riptide_sim::{NicBackend, SimConfig};

const OPS: u64 = 300;
/// 8 clients keep several entries in flight at once.
const CLIENTS: u32 = 8;

fn main() {
    println!("3 replicas, {CLIENTS} clients, {OPS} ops per run, window {WINDOW_SLOTS}, seed 1");
    println!(
        "{:<6} {:<7} {:>10} {:>9} {:>18} {:>14}",
        "nic", "faults", "committed", "wall s", "committed/wall s", "ops/wall s"
    );
    for faulty in [false, true] {
        for nic in [NicBackend::Model, NicBackend::Rtl] {
            measure(nic, faulty);
        }
    }
}

fn measure(nic: NicBackend, faulty: bool) {
    let mut config = SimConfig::new(3, 1, OPS);
    config.clients = CLIENTS;
    config.timing.window = WINDOW_SLOTS as u64;
    if faulty {
        config = config.with_faults(&FaultKind::ALL, 60_000);
    }
    let config = config.with_nic(nic).expect("the correct protocol");
    let started = Instant::now();
    let report = riptide_sim::run(&config, &mut |_, _| {});
    let wall = started.elapsed().as_secs_f64();
    assert!(report.all_ok(), "{report}");
    let committed = report.committed.len();
    println!(
        "{:<6} {:<7} {:>10} {:>9.2} {:>18.0} {:>14.0}",
        nic.name(),
        if faulty { "all" } else { "none" },
        committed,
        wall,
        committed as f64 / wall,
        report.stats.ops_completed as f64 / wall
    );
}
