//! The cluster with every replica's NIC simulated as RTL (`--nic rtl`):
//! riptide_core in the RustHDL simulator behind the PCIe driver and the fake
//! XDMA board. A leader crash is survived, and the same seed and fault
//! schedule commit the same log as on the behavioural model.
//!
//! The RTL runs some thousand core cycles per second, so the runs are short.

use riptide_hw::quorum::WINDOW_SLOTS;
use riptide_sim::faults::{Fault, FaultKind, FaultSchedule};
use riptide_sim::{FaultPlan, NicBackend, SimConfig, SimReport};

/// Replica 1 wins the first election of seed 1 (checked below through the
/// number of elections) and crashes while leading.
const FIRST_LEADER: u8 = 1;
const CRASH_US: u64 = 8_000;
const RESTART_US: u64 = 20_000;
const HEAL_US: u64 = 30_000;
/// Enough operations to keep clients busy through the crash and after.
const OPS: u64 = 60;

/// 3 replicas, seed 1: the first leader crashes mid-run and comes back with
/// amnesia; a frame drop window on top so retransmission runs through the
/// driver too.
fn leader_crash(nic: NicBackend, ops: u64) -> SimConfig {
    let mut config = SimConfig::new(3, 1, ops);
    config.faults = FaultPlan::Explicit(FaultSchedule {
        heal_us: HEAL_US,
        faults: vec![
            Fault::Crash {
                replica: FIRST_LEADER,
                at_us: CRASH_US,
                restart_us: RESTART_US,
            },
            Fault::Drop {
                start_us: 2_000,
                end_us: 6_000,
                rate: 0.1,
            },
        ],
    });
    config
        .with_nic(nic)
        .expect("the correct protocol runs on both NICs")
}

fn run(config: &SimConfig) -> SimReport {
    riptide_sim::run(config, &mut |_, _| {})
}

#[test]
fn a_three_replica_rtl_cluster_commits_through_a_leader_crash() {
    let report = run(&leader_crash(NicBackend::Rtl, OPS));
    assert!(report.all_ok(), "{report}");
    assert_eq!(report.stats.ops_completed, OPS, "{report}");
    assert_eq!(report.stats.crashes, 1, "{report}");
    assert!(
        report.stats.elections >= 2,
        "the crash of the leader forces a new election: {report}"
    );
    let new_leader = report
        .nodes
        .iter()
        .find(|n| n.role == "leader")
        .unwrap_or_else(|| panic!("a leader at the end: {report}"));
    assert_ne!(new_leader.id, FIRST_LEADER, "{report}");
    let committed_after_crash = report
        .history
        .ops
        .iter()
        .filter(|op| op.call > CRASH_US && op.ret.is_some())
        .count();
    assert!(
        committed_after_crash > 0,
        "the new leader's NIC commits in hardware leader mode: {report}"
    );
}

/// `replicas` replicas, seed `seed` with every fault kind drawn from it
/// (drops, duplicates, reordering, partitions, crashes), the window the RTL
/// holds on both NICs.
fn all_faults(nic: NicBackend, replicas: u8, seed: u64) -> SimConfig {
    let mut config = SimConfig::new(replicas, seed, 40).with_faults(&FaultKind::ALL, HEAL_US);
    config.timing.window = WINDOW_SLOTS as u64;
    config
        .with_nic(nic)
        .expect("the correct protocol runs on both NICs")
}

/// Runs `config` on both NICs: both pass every check and commit the same log.
fn same_log(config: impl Fn(NicBackend) -> SimConfig) {
    let model = run(&config(NicBackend::Model));
    let rtl = run(&config(NicBackend::Rtl));
    assert!(model.all_ok(), "{model}");
    assert!(rtl.all_ok(), "{rtl}");
    assert!(!model.committed.is_empty(), "{model}");
    assert_eq!(
        model.committed, rtl.committed,
        "model:\n{model}\nrtl:\n{rtl}"
    );
    // Stronger still: every event, frame byte and virtual time is the same.
    assert_eq!(model.stats.trace_hash, rtl.stats.trace_hash);
}

#[test]
fn model_and_rtl_commit_the_same_log_through_a_leader_crash() {
    same_log(|nic| leader_crash(nic, OPS));
}

#[test]
fn model_and_rtl_commit_the_same_log_under_every_fault_kind() {
    for (replicas, seed) in [(3, 2), (3, 3), (5, 1)] {
        same_log(|nic| all_faults(nic, replicas, seed));
    }
}
