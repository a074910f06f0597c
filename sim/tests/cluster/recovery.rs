//! Recovery after amnesia against the schedule an outside review found
//! (`sim/tests/schedules/s4.json`): with 5 replicas, replica 0 acks slot 10
//! for the leader r4 alone, crashes, restarts and recovers from r1–r3 while
//! r4 is cut off from them; r4's retransmission then reaches r1. Without
//! lives and the recovery fence, r4 counts r0's pre-crash ack with r1's and
//! commits a value that r0, r2 and r3 then replace with a no-op.

use riptide_sim::faults::FaultSchedule;
use riptide_sim::{FaultPlan, NicBackend, SimConfig, SimVariant};

use super::run;

fn s4(variant: SimVariant, nic: NicBackend) -> SimConfig {
    let text = include_str!("../schedules/s4.json");
    let schedule = FaultSchedule::from_json(text, 5).expect("s4.json is a valid schedule");
    let mut config = SimConfig::new(5, 1, 200)
        .with_nic(nic)
        .expect("a NIC backend");
    config.clients = 2;
    config.variant = variant;
    config.faults = FaultPlan::Explicit(schedule);
    config
}

#[test]
fn a_vote_of_a_former_life_never_completes_a_quorum_on_the_model_nic() {
    let report = run(&s4(SimVariant::Correct, NicBackend::Model));
    assert!(report.all_ok(), "{report}");
    assert_eq!(report.stats.crashes, 1, "{report}");
}

#[test]
fn a_vote_of_a_former_life_never_completes_a_quorum_on_the_rtl_nic() {
    let report = run(&s4(SimVariant::Correct, NicBackend::Rtl));
    assert!(report.all_ok(), "{report}");
}

#[test]
fn ignoring_lives_chooses_two_values_for_slot_10() {
    let report = run(&s4(SimVariant::StaleIncarnation, NicBackend::Model));
    let violation = report
        .checks
        .agreement
        .violation()
        .unwrap_or_else(|| panic!("stale-incarnation went unnoticed:\n{report}"));
    let violation = violation.to_string();
    assert!(violation.starts_with("slot 10:"), "{violation}");
}

#[test]
fn without_the_recovery_fence_alone_slot_10_gets_two_values() {
    let report = run(&s4(SimVariant::UnfencedRecovery, NicBackend::Model));
    let violation = report
        .checks
        .agreement
        .violation()
        .unwrap_or_else(|| panic!("unfenced-recovery went unnoticed:\n{report}"));
    assert!(violation.to_string().starts_with("slot 10:"), "{violation}");
}

#[test]
fn the_fence_alone_keeps_s4_safe_when_the_nic_ignores_lives() {
    // docs/protocol.md, "What each mechanism carries": the f+1 fenced
    // answers leave the old leader no third ack, whatever its NIC counts.
    let report = run(&s4(SimVariant::NicIgnoresLives, NicBackend::Model));
    assert!(report.all_ok(), "{report}");
    assert_eq!(report.stats.crashes, 1, "{report}");
}
