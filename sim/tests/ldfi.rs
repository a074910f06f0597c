//! LDFI in CI: on the correct protocol the search finds no counterexample
//! within its budget; every planted bug of the catalogue (and
//! commit-on-minority) is found, and its saved schedule replays to the same
//! violation.

use std::collections::BTreeSet;

use riptide_sim::cluster::Cluster;
use riptide_sim::faults::FaultSchedule;
use riptide_sim::ldfi::hypotheses::{self, Budget, FaultVar};
use riptide_sim::ldfi::lineage::Lineage;
use riptide_sim::ldfi::{self, LdfiConfig, SearchResult};
use riptide_sim::{FaultPlan, SimReport, SimVariant};

fn config(variant: SimVariant) -> LdfiConfig {
    let mut config = LdfiConfig::small(3, 1);
    config.sim.variant = variant;
    config
}

fn search(config: &LdfiConfig) -> SearchResult {
    let result = ldfi::search(config, &mut |_, _| {});
    println!(
        "{}: {} executions, exhausted {}, counterexample {:?}",
        config.sim.variant, result.executions, result.exhausted, result.counterexample
    );
    result
}

fn fault_free_run(config: &LdfiConfig) -> (SimReport, Lineage) {
    let mut sim = config.sim.clone();
    sim.faults = FaultPlan::Explicit(config.schedule(&BTreeSet::new()));
    let (report, lineage) = Cluster::new(&sim).with_lineage().run_traced(&mut |_, _| {});
    (report, lineage.expect("a run with lineage returns it"))
}

#[test]
fn acknowledged_writes_rest_on_an_election_and_phase_2() {
    let config = config(SimVariant::Correct);
    let (report, lineage) = fault_free_run(&config);
    assert!(report.all_ok(), "{report}");
    let outcomes: Vec<_> = lineage.outcomes().collect();
    // Only client writes: the workload's gets are answered through no-op
    // barriers, which are not outcomes.
    assert!(!outcomes.is_empty());
    assert!(outcomes.len() < report.stats.commits as usize);
    for outcome in outcomes {
        let supports = lineage.supports(outcome).expect("the leader proposed it");
        assert_eq!(supports.acks.len(), 2, "{outcome:?}");
        assert!(supports.acks.iter().all(|a| !a.accepteds.is_empty()));
        assert!(!supports.votes.is_empty(), "{outcome:?}: no election");
        assert!(supports.votes.iter().all(|v| !v.prepares.is_empty()));
        assert!(supports.recoveries.is_empty());
    }
}

#[test]
fn hypotheses_are_minimal_and_within_budget() {
    let config = config(SimVariant::Correct);
    let (_, lineage) = fault_free_run(&config);
    let budget = Budget {
        crashes: 1,
        eff_us: config.eff_us,
        per_outcome: 64,
        replicas: 3,
    };
    let mut kinds = BTreeSet::new();
    for outcome in lineage.outcomes() {
        let supports = lineage.supports(outcome).unwrap();
        let found = hypotheses::break_outcome(outcome, &supports, budget);
        assert!(!found.is_empty());
        for hypothesis in &found {
            assert!(!hypothesis.is_empty());
            assert!(hypothesis.iter().filter(|f| f.is_crash()).count() <= 1);
            for other in &found {
                assert!(other == hypothesis || !other.iter().all(|f| hypothesis.contains(f)));
            }
            for fault in hypothesis {
                let (kind, at_us) = match fault {
                    FaultVar::Omit(_) => ("omit", 0),
                    FaultVar::Cut { start_us, .. } => ("cut", *start_us),
                    FaultVar::Crash { at_us, .. } => ("crash", *at_us),
                };
                kinds.insert(kind);
                assert!(at_us < config.eff_us);
            }
        }
    }
    assert_eq!(kinds.len(), 3, "omissions, cuts and crashes all appear");
}

#[test]
fn correct_protocol_has_no_counterexample_within_budget() {
    for seed in [1, 2] {
        let mut config = config(SimVariant::Correct);
        config.sim.seed = seed;
        let result = search(&config);
        assert!(result.counterexample.is_none());
        assert!(result.exhausted, "every hypothesis within budget tried");
    }
}

/// Seeds tried in turn until the search finds the bug: the search tree of
/// one seed is bounded (364 executions), and some workloads (seeds) never
/// put a write where a bug needs it.
const SEEDS: std::ops::Range<u64> = 0..12;

/// Finds `variant`'s bug on the first seed of `SEEDS` that shows it, and
/// replays the saved schedule to the same violations.
fn found_and_replayed(variant: SimVariant) {
    let mut tried = 0;
    let (config, found) = SEEDS
        .clone()
        .find_map(|seed| {
            let mut config = config(variant);
            config.sim.seed = seed;
            let result = search(&config);
            tried += result.executions;
            result.counterexample.map(|found| (config, found))
        })
        .unwrap_or_else(|| panic!("{variant} not found on seeds {SEEDS:?} ({tried} executions)"));
    println!(
        "{variant}: found on seed {} after {tried} executions in all",
        config.sim.seed
    );
    assert!(!found.failures.is_empty());
    let saved = FaultSchedule::from_json(&found.schedule.to_json(), 3).unwrap();
    let mut sim = config.sim.clone();
    sim.faults = FaultPlan::Explicit(saved);
    let replay = riptide_sim::run(&sim, &mut |_, _| {});
    assert_eq!(ldfi::safety_failures(&replay), found.failures);
}

#[test]
fn ack_without_store_is_found_and_replays() {
    found_and_replayed(SimVariant::AckWithoutStore);
}

#[test]
fn promise_before_fence_is_found_and_replays() {
    found_and_replayed(SimVariant::PromiseBeforeFence);
}

#[test]
fn leader_log_wins_is_found_and_replays() {
    found_and_replayed(SimVariant::LeaderLogWins);
}

#[test]
fn commit_on_any_ack_is_found_and_replays() {
    found_and_replayed(SimVariant::CommitOnAnyAck);
}

#[test]
fn commit_on_minority_is_found_and_replays() {
    found_and_replayed(SimVariant::CommitOnMinority);
}
