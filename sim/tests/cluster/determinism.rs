//! A run is a pure function of its configuration: same seed, same trace; an
//! explicit schedule saved from a run replays that run.

use riptide_sim::FaultPlan;
use riptide_sim::faults::FaultSchedule;

use super::{faulty, run};

#[test]
fn the_same_seed_gives_the_same_trace_and_report_twice() {
    for (replicas, seed) in [(3, 7), (5, 8), (3, 1234)] {
        let config = faulty(replicas, seed, 60);
        let first = run(&config);
        let second = run(&config);
        assert_eq!(first.stats.trace_hash, second.stats.trace_hash);
        assert_eq!(first.to_string(), second.to_string());
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            serde_json::to_string(&second).unwrap()
        );
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let a = run(&faulty(3, 1, 40));
    let b = run(&faulty(3, 2, 40));
    assert_ne!(a.stats.trace_hash, b.stats.trace_hash);
    assert_ne!(a.schedule, b.schedule);
}

#[test]
fn a_saved_schedule_replays_bit_for_bit() {
    let generated = run(&faulty(5, 99, 60));
    let saved = generated.schedule.to_json();
    let mut config = faulty(5, 99, 60);
    config.faults = FaultPlan::Explicit(FaultSchedule::from_json(&saved, 5).unwrap());
    let replayed = run(&config);
    assert_eq!(replayed.schedule, generated.schedule);
    assert_eq!(replayed.stats.trace_hash, generated.stats.trace_hash);
    assert_eq!(replayed.history, generated.history);
}
