//! Simulator throughput: simulated client operations per wall-clock second,
//! and virtual seconds simulated per wall-clock second, for 3 and 5 replicas
//! with and without faults (every kind). `cargo bench -p riptide-sim`.

use std::time::Instant;

use riptide_sim::SimConfig;
use riptide_sim::faults::FaultKind;

/// Wall time each configuration is run for, at least (whole runs).
const BUDGET_SECS: f64 = 3.0;

fn main() {
    println!(
        "{:<10} {:<8} {:>6} {:>12} {:>14} {:>16}",
        "replicas", "faults", "runs", "ops/run", "sim ops/s", "virtual s / s"
    );
    for replicas in [3u8, 5] {
        for faulty in [false, true] {
            measure(replicas, faulty);
        }
    }
}

fn measure(replicas: u8, faulty: bool) {
    let ops = if faulty { 200 } else { 2_000 };
    let started = Instant::now();
    let (mut runs, mut completed, mut virtual_us) = (0u64, 0u64, 0u64);
    while runs == 0 || started.elapsed().as_secs_f64() < BUDGET_SECS {
        let mut config = SimConfig::new(replicas, runs, ops);
        if faulty {
            config = config.with_faults(&FaultKind::ALL, 100_000);
        }
        let report = riptide_sim::run(&config, &mut |_, _| {});
        assert!(report.all_ok(), "{report}");
        runs += 1;
        completed += report.stats.ops_completed;
        virtual_us += report.stats.virtual_us;
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{:<10} {:<8} {:>6} {:>12} {:>14.0} {:>16.2}",
        replicas,
        if faulty { "all" } else { "none" },
        runs,
        ops,
        completed as f64 / wall,
        virtual_us as f64 / 1e6 / wall
    );
}
