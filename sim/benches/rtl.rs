//! RTL NIC speed: committed entries per wall-clock second for a 3-replica
//! cluster whose NICs are riptide_core behind the PCIe driver and the fake
//! XDMA board — in the RustHDL simulator (`--nic rtl`) and as the emitted
//! Verilog under Verilator (`--nic verilator`) — without faults and with
//! every fault kind, next to the same runs on the behavioural model.
//! `cargo bench -p riptide-sim --bench rtl`. The goal for `verilator` is
//! 20,000 committed entries per wall second (docs/simulator.md). Names after
//! `--` run only those NICs: `cargo bench -p riptide-sim --bench rtl --
//! model verilator` (e.g. to profile one).

use std::time::Instant;

use riptide_hw::quorum::WINDOW_SLOTS;
use riptide_sim::faults::FaultKind;
use riptide_sim::{NicBackend, SimConfig};

/// Operations per run: the RustHDL core runs a few thousand cycles a second,
/// so its runs are short; the others run long enough to time.
fn ops(nic: NicBackend) -> u64 {
    match nic {
        NicBackend::Rtl => 300,
        NicBackend::Model | NicBackend::Verilator => 5_000,
    }
}
/// 8 clients keep several entries in flight at once.
const CLIENTS: u32 = 8;

fn main() {
    let chosen: Vec<NicBackend> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .map(|name| name.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    println!("3 replicas, {CLIENTS} clients, window {WINDOW_SLOTS}, seed 1");
    println!(
        "{:<10} {:<7} {:>6} {:>10} {:>9} {:>18} {:>14} {:>8} {:>17}",
        "nic",
        "faults",
        "ops",
        "committed",
        "wall s",
        "committed/wall s",
        "ops/wall s",
        "CPU s",
        "committed/CPU s"
    );
    for faulty in [false, true] {
        for nic in NicBackend::ALL {
            if !chosen.is_empty() && !chosen.contains(&nic) {
                continue;
            }
            if nic == NicBackend::Verilator && !riptide_verilated::AVAILABLE {
                println!(
                    "verilator  (not built: {})",
                    riptide_verilated::VerilatedError::NotBuilt
                );
                continue;
            }
            measure(nic, faulty);
        }
    }
}

fn measure(nic: NicBackend, faulty: bool) {
    let mut config = SimConfig::new(3, 1, ops(nic));
    config.clients = CLIENTS;
    config.timing.window = WINDOW_SLOTS as u64;
    if faulty {
        config = config.with_faults(&FaultKind::ALL, 60_000);
    }
    let config = config.with_nic(nic).expect("the correct protocol");
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let report = riptide_sim::run(&config, &mut |_, _| {});
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_started.zip(cpu_seconds()).map(|(from, to)| to - from);
    assert!(report.all_ok(), "{report}");
    let committed = report.committed.len();
    let (cpu, per_cpu) = match cpu {
        Some(cpu) => (
            format!("{cpu:.2}"),
            format!("{:.0}", committed as f64 / cpu),
        ),
        None => ("-".into(), "-".into()),
    };
    println!(
        "{:<10} {:<7} {:>6} {:>10} {:>9.2} {:>18.0} {:>14.0} {cpu:>8} {per_cpu:>17}",
        nic.name(),
        if faulty { "all" } else { "none" },
        config.ops,
        committed,
        wall,
        committed as f64 / wall,
        report.stats.ops_completed as f64 / wall
    );
}

/// CPU time this thread has run, where Linux says (`/proc/thread-self/
/// schedstat`, in ns): on a shared machine the wall clock also counts the
/// time others' work held the CPU, so both are printed.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
