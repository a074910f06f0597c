//! Whole-cluster simulations: thousands of seeded fault schedules with zero
//! violations, determinism, planted bugs caught, and the fault-free baseline.
//! One test binary so the test harness spreads the seed loops over the cores.

mod bugs;
mod determinism;
mod fault_free;
mod fault_kinds;
mod recovery;
mod schedules;
mod snapshots;

use riptide_sim::faults::FaultKind;
use riptide_sim::{SimConfig, SimReport};

/// The fault window of the seed loops: long enough for several elections,
/// crashes and recoveries (election timeouts are 1-2 ms).
pub const HEAL_US: u64 = 40_000;

/// A run with every fault kind and 4 clients.
pub fn faulty(replicas: u8, seed: u64, ops: u64) -> SimConfig {
    let mut config = SimConfig::new(replicas, seed, ops).with_faults(&FaultKind::ALL, HEAL_US);
    config.clients = 4;
    config
}

pub fn run(config: &SimConfig) -> SimReport {
    riptide_sim::run(config, &mut |_, _| {})
}

/// Runs `config(seed)` for every seed and fails with every failing seed's
/// report (first lines: the violation; last line: the replay command).
/// Returns the snapshots installed over all the runs.
pub fn all_seeds_pass(seeds: std::ops::Range<u64>, config: impl Fn(u64) -> SimConfig) -> u64 {
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut installs = 0;
    for seed in seeds {
        let report = run(&config(seed));
        runs += 1;
        installs += report.stats.installs;
        if !report.all_ok() {
            failures.push(report.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} seeds failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    installs
}
