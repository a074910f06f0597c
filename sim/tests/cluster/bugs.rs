//! Planted bugs are caught: for each, some seed in a small fixed range makes
//! agreement or the chosen-value invariant fail (the log itself goes wrong,
//! which is what these bugs do). The seeds that catch each bug are printed
//! (`cargo test -p riptide-sim --test cluster bugs -- --nocapture`).
//!
//! The runs are loaded (8 clients, 2,000 operations over the fault window),
//! so phase 2 traffic is in flight whenever an election starts: the
//! promise-before-fence race needs an ACCEPT acked by the NIC while its
//! record is still on its way to the host.
//!
//! The bugs are hunted with the five kinds the seeds were found with
//! (`FaultKind::CLASSIC`, whose schedules the newer kinds left unchanged):
//! with every kind, commit-on-any-ack and ack-without-store escape seeds
//! 0..40. The correct protocol is held to every kind.

use riptide_sim::faults::FaultKind;
use riptide_sim::{SimConfig, SimVariant};

use super::{HEAL_US, run};

const SEEDS: std::ops::Range<u64> = 0..40;

fn loaded(variant: SimVariant, replicas: u8, kinds: &[FaultKind], seed: u64) -> SimConfig {
    let mut config = SimConfig::new(replicas, seed, 2_000).with_faults(kinds, HEAL_US);
    config.variant = variant;
    config.clients = 8;
    config.think_us = Some(100);
    config
}

/// The seeds of `SEEDS` whose run breaks agreement or the chosen-value
/// invariant, with the violation.
fn catching_seeds(config: impl Fn(u64) -> SimConfig) -> Vec<(u64, String)> {
    SEEDS
        .filter_map(|seed| {
            let checks = run(&config(seed)).checks;
            let violation = checks
                .agreement
                .violation()
                .map(|v| format!("agreement: {v}"))
                .or_else(|| {
                    checks
                        .chosen
                        .violation()
                        .map(|v| format!("chosen values: {v}"))
                })?;
            Some((seed, violation))
        })
        .collect()
}

fn assert_caught(variant: SimVariant, replicas: u8, kinds: &[FaultKind]) {
    let caught = catching_seeds(|seed| loaded(variant, replicas, kinds, seed));
    let seeds: Vec<u64> = caught.iter().map(|(seed, _)| *seed).collect();
    println!("{variant}, {replicas} replicas: caught by seeds {seeds:?} of {SEEDS:?}");
    if let Some((seed, violation)) = caught.first() {
        println!("  seed {seed}: {violation}");
    }
    assert!(
        !caught.is_empty(),
        "{variant} went unnoticed on seeds {SEEDS:?} with {replicas} replicas"
    );
}

#[test]
fn commit_on_minority_is_caught() {
    assert_caught(SimVariant::CommitOnMinority, 5, &FaultKind::CLASSIC);
}

#[test]
fn promise_before_fence_is_caught() {
    // Partitions and cuts start elections while the old leader still
    // replicates to the promiser.
    assert_caught(SimVariant::PromiseBeforeFence, 3, &[FaultKind::Partition]);
}

#[test]
fn snapshot_drops_sessions_is_caught() {
    // Under every fault kind, with a snapshot every few entries: the first
    // install of a snapshot without its session table diverges from the
    // agreed log replayed to it.
    let caught = catching_seeds(|seed| {
        let mut config = loaded(SimVariant::SnapshotDropsSessions, 3, &FaultKind::ALL, seed);
        config.timing.snapshot_every = super::snapshots::SNAPSHOT_EVERY;
        config
    });
    println!(
        "snapshot-drops-sessions: caught by seeds {:?} of {SEEDS:?}",
        caught.iter().map(|(seed, _)| seed).collect::<Vec<_>>()
    );
    assert!(!caught.is_empty(), "snapshot-drops-sessions went unnoticed");
}

#[test]
fn leader_log_wins_is_caught() {
    assert_caught(SimVariant::LeaderLogWins, 3, &FaultKind::CLASSIC);
}

#[test]
fn commit_on_any_ack_is_caught() {
    // A deposed leader, cut off while it proposed a write only it holds,
    // hears the new leader's commit index and applies its own stale entry.
    assert_caught(SimVariant::CommitOnAnyAck, 3, &FaultKind::CLASSIC);
}

#[test]
fn ack_without_store_is_caught() {
    assert_caught(SimVariant::AckWithoutStore, 3, &FaultKind::CLASSIC);
}

#[test]
fn the_correct_protocol_keeps_its_log_under_the_same_load() {
    let caught = catching_seeds(|seed| loaded(SimVariant::Correct, 3, &FaultKind::ALL, seed));
    assert!(caught.is_empty(), "{caught:?}");
}

#[test]
fn a_failing_schedule_minimizes_to_the_faults_it_needs() {
    let config = loaded(SimVariant::CommitOnMinority, 5, &FaultKind::CLASSIC, 21);
    let broken = |report: &riptide_sim::SimReport| {
        !report.checks.agreement.passed() || !report.checks.chosen.passed()
    };
    let original = config.schedule();
    let (schedule, report) = riptide_sim::minimize(&config, broken);
    println!(
        "seed 21 minimized from {original} to {schedule}:\n{}",
        schedule.to_json()
    );
    assert!(broken(&report), "{report}");
    assert!(schedule.faults.len() < original.faults.len());
    assert!(
        schedule
            .faults
            .iter()
            .all(|fault| original.faults.contains(fault))
    );
}
