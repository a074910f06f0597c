//! Snapshots and installs in the seed loops: part of the CI schedules take a
//! snapshot every [`SNAPSHOT_EVERY`] applied entries, so replicas behind a
//! compacted log (lost messages, partitions, crashes with amnesia) catch up
//! by installing one, with every checker on (agreement also compares each
//! installed state with the agreed log replayed to its slot).

use riptide_sim::SimConfig;

use super::run;

/// Small enough that a 200-operation run snapshots many times.
pub const SNAPSHOT_EVERY: u64 = 8;

pub fn snapshotting(mut config: SimConfig) -> SimConfig {
    config.timing.snapshot_every = SNAPSHOT_EVERY;
    config
}

/// Prints how many snapshots the seed loop installed, and fails if none
/// was: a loop that never installs does not test installs.
pub fn installs_happened(what: &str, installs: u64) {
    println!("{what}: {installs} snapshot installs");
    assert!(installs > 0, "{what}: no snapshot was ever installed");
}

#[test]
fn a_replica_cut_off_past_a_snapshot_installs_it_and_the_run_checks_out() {
    use riptide_sim::faults::{Fault, FaultSchedule};
    // Replica 2 is partitioned away while the others apply hundreds of
    // entries and compact them; it can only come back by an install.
    let schedule = FaultSchedule {
        heal_us: 30_000,
        faults: vec![Fault::Partition {
            start_us: 2_000,
            end_us: 20_000,
            side: vec![2],
        }],
    };
    let mut config = snapshotting(SimConfig::new(3, 7, 300));
    config.clients = 4;
    config.faults = riptide_sim::FaultPlan::Explicit(schedule);
    let report = run(&config);
    assert!(report.all_ok(), "{report}");
    assert!(report.stats.installs >= 1, "{report}");
    // Replica 2 holds the state again: within a slot of the highest applied.
    assert!(
        report.nodes[2].applied + 1 >= report.stats.commits,
        "{report}"
    );
}
