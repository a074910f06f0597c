//! Leadership hygiene in whole-cluster runs: a follower cut off for many
//! election timeouts returns without deposing the leader (pre-vote), and a
//! leader cut off alone steps down within the check-quorum interval
//! (check-quorum). Each planted variant that removes the mechanism is
//! caught by the same test.

use riptide_sim::faults::{Fault, FaultSchedule};
use riptide_sim::latency::Micros;
use riptide_sim::{FaultPlan, SimConfig, SimReport, SimVariant};

use super::run;

/// Replica 2 is cut off from the start for 60 ms (10 to 20 election
/// timeouts of 3–6 ms), then returns while the clients keep writing.
fn follower_cut_off(variant: SimVariant, seed: u64) -> SimConfig {
    let schedule = FaultSchedule {
        heal_us: 60_000,
        faults: vec![Fault::Partition {
            start_us: 0,
            end_us: 60_000,
            side: vec![2],
        }],
    };
    let mut config = SimConfig::new(3, seed, 300);
    config.variant = variant;
    config.faults = FaultPlan::Explicit(schedule);
    // 100 operations a client, 0.8 ms apart: writes go on for ~20 ms
    // after the heal.
    config.think_us = Some(800);
    config
}

const PRE_VOTE_SEEDS: std::ops::Range<u64> = 0..4;

#[test]
fn a_follower_returning_from_a_long_partition_does_not_depose_the_leader() {
    for seed in PRE_VOTE_SEEDS {
        let report = run(&follower_cut_off(SimVariant::Correct, seed));
        assert!(report.all_ok(), "{report}");
        assert!(
            report.stats.virtual_us > 70_000,
            "ran past the heal: {report}"
        );
        assert_eq!(report.stats.elections, 1, "one leader ballot: {report}");
        let ballots: Vec<u64> = report.nodes.iter().map(|n| n.promised).collect();
        assert!(
            ballots.iter().all(|&b| b == ballots[0]),
            "replica 2 follows the leader again: {report}"
        );
    }
}

#[test]
fn without_pre_vote_the_returning_follower_deposes_the_leader() {
    for seed in PRE_VOTE_SEEDS {
        let report = run(&follower_cut_off(SimVariant::NoPreVote, seed));
        assert!(
            report.stats.elections >= 2,
            "no-pre-vote went unnoticed with seed {seed}: {report}"
        );
    }
}

/// When the partition that cuts the leader off alone starts.
const CUT_US: Micros = 10_000;

/// Replica `side` is cut off alone from [`CUT_US`] for 30 ms. One client
/// writes every 4 ms or so, so the leader is mostly idle when it is cut off.
fn alone(variant: SimVariant, seed: u64, side: u8) -> SimConfig {
    let schedule = FaultSchedule {
        heal_us: CUT_US + 30_000,
        faults: vec![Fault::Partition {
            start_us: CUT_US,
            end_us: CUT_US + 30_000,
            side: vec![side],
        }],
    };
    let mut config = SimConfig::new(3, seed, 20);
    config.clients = 1;
    config.variant = variant;
    config.faults = FaultPlan::Explicit(schedule);
    config.think_us = Some(4_000);
    config.log = true;
    config
}

/// Replica `id`'s steps from `from_us` on: when, and the role it was in.
fn steps(report: &SimReport, id: u8, from_us: Micros) -> Vec<(Micros, String)> {
    let tag = format!("r{id}#");
    report
        .log
        .iter()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let at: Micros = words.next()?.parse().ok()?;
            let who = words.next()?;
            let role = words.next()?;
            (who.starts_with(&tag) && at >= from_us).then(|| (at, role.to_string()))
        })
        .collect()
}

/// For the seed's run whose leader at [`CUT_US`] is the one cut off alone:
/// how long after the cut it was first seen in another role (`None`: it
/// led until the heal).
fn step_down_after_cut(variant: SimVariant, seed: u64) -> (Option<Micros>, SimReport) {
    for side in 0..3 {
        let report = run(&alone(variant, seed, side));
        let steps = steps(&report, side, CUT_US);
        if steps.first().is_none_or(|(_, role)| role != "Leader") {
            continue;
        }
        let left = steps
            .iter()
            .find(|(_, role)| role != "Leader")
            .map(|(at, _)| at - CUT_US)
            .filter(|&after| after < 30_000);
        return (left, report);
    }
    panic!("seed {seed}: nobody led at the cut");
}

/// The check-quorum interval (30 ticks of 100 us) plus a tick and the
/// network's round trip.
const STEP_DOWN_BOUND_US: Micros = 3_000 + 200;

const CHECK_QUORUM_SEEDS: std::ops::Range<u64> = 0..4;

#[test]
fn a_leader_cut_off_alone_steps_down_within_the_check_quorum_interval() {
    for seed in CHECK_QUORUM_SEEDS {
        let (left, report) = step_down_after_cut(SimVariant::Correct, seed);
        assert!(report.all_ok(), "{report}");
        let left = left.unwrap_or_else(|| panic!("seed {seed}: it kept leading: {report}"));
        println!("seed {seed}: the cut-off leader stepped down after {left} us");
        assert!(left <= STEP_DOWN_BOUND_US, "seed {seed}: {left} us");
    }
}

/// Without check-quorum the cut-off leader leaves only by the stall
/// re-election, once a client's write reached it and went unanswered.
#[test]
fn without_check_quorum_a_leader_cut_off_alone_leads_past_the_bound() {
    let late: Vec<Option<Micros>> = CHECK_QUORUM_SEEDS
        .map(|seed| step_down_after_cut(SimVariant::NoCheckQuorum, seed).0)
        .collect();
    println!("no-check-quorum: stepped down after {late:?} us");
    assert!(
        late.iter()
            .all(|left| left.is_none_or(|us| us > STEP_DOWN_BOUND_US)),
        "no-check-quorum went unnoticed: {late:?}"
    );
}
