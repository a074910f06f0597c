//! LDFI in CI: on the correct protocol the search finds no counterexample
//! within its budget; a planted bug it finds replays from the saved schedule
//! to the same violation.

use std::collections::BTreeSet;

use riptide_sim::faults::FaultSchedule;
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

#[test]
fn hypotheses_break_an_outcome_within_the_budget() {
    use riptide_sim::ldfi::hypotheses::{self, Budget, FaultVar};
    let config = config(SimVariant::Correct);
    let mut sim = config.sim.clone();
    sim.faults = FaultPlan::Explicit(config.schedule(&BTreeSet::new()));
    let (_, lineage) = riptide_sim::cluster::Cluster::new(&sim)
        .with_lineage()
        .run_traced(&mut |_, _| {});
    let lineage = lineage.unwrap();
    let outcome = lineage.outcomes().next().unwrap();
    let budget = Budget {
        crashes: 1,
        eff_us: config.eff_us,
        per_outcome: 64,
    };
    let found = hypotheses::break_outcome(outcome, &lineage.supports(outcome), budget);
    assert!(!found.is_empty());
    for hypothesis in &found {
        assert!(!hypothesis.is_empty());
        assert!(hypothesis.iter().filter(|f| f.is_crash()).count() <= 1);
        // Minimal: no hypothesis contains another.
        for other in &found {
            assert!(other == hypothesis || !other.iter().all(|f| hypothesis.contains(f)));
        }
        assert!(hypothesis.iter().all(|f| match f {
            FaultVar::Crash { at_us, .. } => *at_us < config.eff_us,
            FaultVar::Omit(_) => true,
        }));
    }
}

#[test]
fn commit_on_minority_is_found_and_its_schedule_replays() {
    let variant = SimVariant::CommitOnMinority;
    let result = search(variant);
    let found = result
        .counterexample
        .unwrap_or_else(|| panic!("{variant} not found in {} executions", result.executions));
    let saved = FaultSchedule::from_json(&found.schedule.to_json(), 3).unwrap();
    let mut sim = config(variant).sim;
    sim.faults = FaultPlan::Explicit(saved);
    let replay = riptide_sim::run(&sim, &mut |_, _| {});
    assert!(!found.failures.is_empty());
    assert_eq!(ldfi::safety_failures(&replay), found.failures);
}
