//! Lineage-driven fault injection (Molly, Alvaro et al.): run a good
//! execution, take the lineage of each good outcome, and inject only fault
//! sets that break every support of one, found with a SAT solver; repeat on
//! the new runs until a checker fails or no untried hypothesis remains.
//! [`random_search`] injects random fault sets of the same budget, for
//! comparison. See `docs/ldfi.md`.

pub mod hypotheses;
pub mod lineage;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cluster::Cluster;
use crate::config::{FaultPlan, SimConfig};
use crate::faults::{Fault, FaultSchedule};
use crate::latency::Micros;
use crate::report::SimReport;
use crate::rng::Rng;
use hypotheses::{Budget, FaultVar};

/// What to search.
#[derive(Debug, Clone)]
pub struct LdfiConfig {
    /// The run every hypothesis is injected into (its `faults` are replaced).
    pub sim: SimConfig,
    pub budget_crashes: u32,
    /// End of finite failures: faults happen before it, none after.
    pub eff_us: Micros,
    pub max_executions: u64,
    /// How long a crashed replica stays down (cut short at `eff_us`).
    pub down_us: Micros,
    /// How long a cut link stays down (cut short at `eff_us`): longer than
    /// the longest election timeout, so the far side may elect meanwhile.
    pub cut_us: Micros,
    /// Most hypotheses taken from one outcome of one run.
    pub per_outcome: usize,
    /// Most hypotheses a run is extended with (the first in the order of
    /// [`hypotheses_of`]).
    pub per_run: usize,
    /// Most hypotheses stacked on the fault-free run. With `per_run` and
    /// `per_run_races` this bounds the search tree: 1 + 3 + 9 + ... + 3^5 =
    /// 364 executions, plus up to 2 race leaves under each of the 121 runs
    /// above the deepest level: 606.
    pub max_depth: usize,
    /// Most race hypotheses (an ACCEPT held into a later vote's fence
    /// window) a run is extended with, tried first, as leaves.
    pub per_run_races: usize,
    /// Most stale-vote hypotheses (a follower bounced after its counted
    /// ack) a run with a crash left in its budget is extended with; each is
    /// followed only by isolating its outcome's holders.
    pub per_run_stale: usize,
    /// How long a bounced replica stays down (`FaultVar::Bounce`): less than
    /// the leader's retransmission period (1 ms), so it has recovered by the
    /// leader's next copy.
    pub bounce_us: Micros,
    /// [`random_search`]: most omissions and most cuts in one execution
    /// (about what LDFI's hypotheses hold).
    pub random_omissions: u64,
    pub random_cuts: u64,
    /// [`random_search`]: most held frames in one execution, and the
    /// longest hold (about the spread of LDFI's holds).
    pub random_holds: u64,
    pub random_hold_us: Micros,
}

impl LdfiConfig {
    /// A small workload (2 clients, 12 operations over 3 keys, 1 ms apart)
    /// so that each execution takes about a millisecond, yet lasts (about
    /// 10 ms of virtual time) long enough for a leader change to play out
    /// while clients still write; every write is acknowledged well before
    /// the end of finite failures.
    pub fn small(replicas: u8, seed: u64) -> LdfiConfig {
        let mut sim = SimConfig::new(replicas, seed, 12);
        sim.clients = 2;
        sim.think_us = Some(1_000);
        LdfiConfig {
            sim,
            budget_crashes: 1,
            eff_us: 40_000,
            max_executions: 1_000,
            down_us: 5_000,
            cut_us: 8_000,
            per_outcome: 2,
            per_run: 3,
            max_depth: 5,
            per_run_races: 2,
            per_run_stale: 2,
            bounce_us: 500,
            random_omissions: 6,
            random_cuts: 2,
            random_holds: 2,
            random_hold_us: 1_000,
        }
    }

    /// The schedule injecting `faults`.
    pub fn schedule(&self, faults: &BTreeSet<FaultVar>) -> FaultSchedule {
        let faults = faults
            .iter()
            .filter_map(|fault| match *fault {
                FaultVar::Omit(id) => Some(Fault::Omit {
                    from: id.from,
                    to: id.to,
                    seq: id.seq,
                }),
                FaultVar::Crash { replica, at_us } => {
                    let restart_us = (at_us + self.down_us).min(self.eff_us);
                    (at_us < restart_us).then_some(Fault::Crash {
                        replica,
                        at_us,
                        restart_us,
                    })
                }
                FaultVar::Bounce { replica, at_us } => {
                    let restart_us = (at_us + self.bounce_us).min(self.eff_us);
                    (at_us < restart_us).then_some(Fault::Crash {
                        replica,
                        at_us,
                        restart_us,
                    })
                }
                FaultVar::Hold { id, by_us } => Some(Fault::Hold {
                    from: id.from,
                    to: id.to,
                    seq: id.seq,
                    by_us,
                }),
                FaultVar::Cut { a, b, start_us } => {
                    let end_us = (start_us + self.cut_us).min(self.eff_us);
                    (start_us < end_us).then_some(Fault::Cut {
                        start_us,
                        end_us,
                        a,
                        b,
                    })
                }
            })
            .collect();
        FaultSchedule {
            heal_us: self.eff_us,
            faults,
        }
    }

    fn sim_with(&self, schedule: FaultSchedule) -> SimConfig {
        let mut sim = self.sim.clone();
        sim.faults = FaultPlan::Explicit(schedule);
        sim
    }
}

/// How a search ended.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub executions: u64,
    /// The first schedule that broke a safety check, with what broke.
    pub counterexample: Option<Counterexample>,
    /// No untried hypothesis was left (rather than running out of executions).
    pub exhausted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counterexample {
    pub schedule: FaultSchedule,
    pub failures: Vec<String>,
}

/// The checks a counterexample breaks: safety (agreement, chosen values,
/// linearizability, replies). Liveness is left out: it is the simulator's
/// own check once the faults heal, not a property of an outcome's lineage.
pub fn safety_failures(report: &SimReport) -> Vec<String> {
    report
        .checks
        .failures()
        .into_iter()
        .filter(|f| !f.starts_with("liveness"))
        .collect()
}

/// Runs `sim` once, with its lineage.
fn execute(sim: &SimConfig) -> (SimReport, lineage::Lineage) {
    let (report, lineage) = Cluster::new(sim).with_lineage().run_traced(&mut |_, _| {});
    (report, lineage.expect("a run with lineage returns it"))
}

/// LDFI. `progress` is called with the executions so far and the hypotheses
/// waiting.
pub fn search(config: &LdfiConfig, progress: &mut dyn FnMut(u64, usize)) -> SearchResult {
    // Depth first: a run's hypotheses are tried before its siblings', so a
    // chain of faults (a leader cut off, then the new leader losing what it
    // chose) is followed to its end at once instead of level by level.
    let mut waiting: Vec<Pending> = vec![Pending {
        faults: BTreeSet::new(),
        depth: 0,
        parent_ballots: BTreeSet::new(),
        stale: false,
    }];
    let mut seen: BTreeSet<BTreeSet<FaultVar>> = BTreeSet::from([BTreeSet::new()]);
    let mut executions = 0;
    while let Some(pending) = waiting.pop() {
        if executions == config.max_executions {
            return SearchResult {
                executions,
                counterexample: None,
                exhausted: false,
            };
        }
        let schedule = config.schedule(&pending.faults);
        let (report, lineage) = execute(&config.sim_with(schedule.clone()));
        executions += 1;
        let failures = safety_failures(&report);
        if !failures.is_empty() {
            return SearchResult {
                executions,
                counterexample: Some(Counterexample { schedule, failures }),
                exhausted: false,
            };
        }
        if pending.depth < config.max_depth || pending.stale {
            let children = hypotheses_of(config, &pending, &lineage);
            for child in children.into_iter().rev() {
                if seen.insert(child.faults.clone()) {
                    waiting.push(child);
                }
            }
        }
        progress(executions, waiting.len());
    }
    SearchResult {
        executions,
        counterexample: None,
        exhausted: true,
    }
}

/// A fault set waiting to be injected.
struct Pending {
    faults: BTreeSet<FaultVar>,
    /// Hypotheses stacked on the fault-free run.
    depth: usize,
    /// The ballots the outcomes of the run it extends were chosen in.
    parent_ballots: BTreeSet<u64>,
    /// Injected by a stale-vote hypothesis: followed only by isolating the
    /// holders of an outcome that counted a former life's ack.
    stale: bool,
}

/// The run's fault set extended with each hypothesis breaking one of its
/// outcomes, in the order to try them: race holds and holder isolations
/// (leaves), stale votes, then the CNF's hypotheses, outcomes chosen in a
/// ballot the parent run did not have first (the new lineage this run's
/// faults produced, as Molly adds a new run's supports), then by slot.
fn hypotheses_of(config: &LdfiConfig, run: &Pending, lineage: &lineage::Lineage) -> Vec<Pending> {
    let crashes = run.faults.iter().filter(|f| f.is_crash()).count() as u32;
    let budget = Budget {
        crashes: config.budget_crashes.saturating_sub(crashes),
        eff_us: config.eff_us,
        per_outcome: config.per_outcome,
        replicas: config.sim.replicas,
    };
    let supported: Vec<_> = lineage
        .outcomes()
        .filter_map(|o| lineage.supports(o).map(|s| (o, s)))
        .collect();
    let ballots: BTreeSet<u64> = supported.iter().map(|(_, s)| s.ballot).collect();
    let mut children: Vec<(bool, Pending)> = Vec::new();
    for (outcome, supports) in &supported {
        let old = run.parent_ballots.contains(&supports.ballot);
        for hypothesis in hypotheses::break_outcome(outcome, supports, budget) {
            let mut faults = run.faults.clone();
            faults.extend(hypothesis);
            let child = Pending {
                faults,
                depth: run.depth + 1,
                parent_ballots: ballots.clone(),
                stale: false,
            };
            children.push((old, child));
        }
    }
    children.sort_by_key(|(old, _)| *old);
    let leaf = |faults: BTreeSet<FaultVar>| Pending {
        faults,
        depth: config.max_depth,
        parent_ballots: ballots.clone(),
        stale: false,
    };
    // Isolations are leaves: the majority that elects without the holders
    // either chooses another value or it does not.
    let isolations: Vec<Pending> = supported
        .iter()
        .filter(|(outcome, supports)| !lineage.former_life_acks(outcome, supports).is_empty())
        .filter_map(|(outcome, supports)| {
            let at_us = outcome.at + 1;
            let cut = |x: u8, y: u8| {
                run.faults.iter().any(|f| {
                    matches!(*f, FaultVar::Cut { a, b, start_us }
                        if (a, b) == (x.min(y), x.max(y))
                            && start_us <= at_us
                            && at_us < start_us + config.cut_us)
                })
            };
            let holders = lineage.holders(outcome, supports);
            hypotheses::isolate(&holders, config.sim.replicas, at_us, config.eff_us, &cut)
        })
        .take(config.per_run_stale)
        .map(|cuts| {
            let mut faults = run.faults.clone();
            faults.extend(cuts);
            leaf(faults)
        })
        .collect();
    if run.stale {
        return isolations;
    }
    let timing = hypotheses::StaleTiming {
        bounce_us: config.bounce_us,
        jitter_us: config.sim.latency.network_jitter_us,
        eff_us: config.eff_us,
    };
    let mut in_order: Vec<_> = supported.iter().collect();
    in_order.sort_by_key(|(o, s)| (run.parent_ballots.contains(&s.ballot), o.slot));
    let stale: Vec<Pending> = if budget.crashes == 0 {
        Vec::new()
    } else {
        in_order
            .into_iter()
            .filter_map(|(outcome, supports)| {
                hypotheses::stale_vote(outcome, supports, config.sim.replicas, timing)
            })
            .take(config.per_run_stale)
            .map(|hypothesis| {
                let mut faults = run.faults.clone();
                faults.extend(hypothesis);
                Pending {
                    faults,
                    depth: run.depth + 1,
                    parent_ballots: ballots.clone(),
                    stale: true,
                }
            })
            .collect()
    };
    let mut holds: Vec<FaultVar> = supported
        .iter()
        .flat_map(|(_, supports)| {
            hypotheses::race_outcome(&lineage.vote_races(supports), config.eff_us)
        })
        .collect();
    // The smallest holds first: the ACCEPT that reached the voter last
    // before its vote, moved the least.
    holds.sort_by_key(|hold| match hold {
        FaultVar::Hold { by_us, .. } => *by_us,
        _ => 0,
    });
    holds.dedup();
    // A race is tried as a leaf: it tests one vote's content, it does not
    // open a new election to follow.
    let races = holds.into_iter().take(config.per_run_races).map(|hold| {
        let mut faults = run.faults.clone();
        faults.insert(hold);
        leaf(faults)
    });
    races
        .chain(isolations)
        .chain(stale)
        .chain(
            children
                .into_iter()
                .map(|(_, child)| child)
                .take(config.per_run),
        )
        .collect()
}

/// Random fault injection in the same budget and vocabulary: each
/// execution omits a random number (up to `random_omissions`) of random
/// frames sent before the end of finite failures, cuts up to `random_cuts`
/// random links at random times, holds up to `random_holds` random frames
/// for up to `random_hold_us` each, and crashes up to `budget_crashes` random
/// replicas at random times (each restarting after `down_us` or, half the
/// time, after `bounce_us`). Frames are drawn from those a fault-free run
/// sent, so every omission hits a real message.
pub fn random_search(
    config: &LdfiConfig,
    seed: u64,
    progress: &mut dyn FnMut(u64, usize),
) -> SearchResult {
    let (_, good) = execute(&config.sim_with(config.schedule(&BTreeSet::new())));
    let frames: Vec<lineage::MessageId> = good.frames_before(config.eff_us);
    let replicas = u64::from(config.sim.replicas);
    let mut rng = Rng::new(seed);
    for executions in 1..=config.max_executions {
        let mut faults = BTreeSet::new();
        if !frames.is_empty() {
            for _ in 0..rng.range_inclusive(0, config.random_omissions) {
                let id = frames[rng.below(frames.len() as u64) as usize];
                faults.insert(FaultVar::Omit(id));
            }
        }
        if replicas > 1 {
            for _ in 0..rng.range_inclusive(0, config.random_cuts) {
                let a = rng.below(replicas);
                let b = (a + 1 + rng.below(replicas - 1)) % replicas;
                faults.insert(FaultVar::cut(a as u8, b as u8, rng.below(config.eff_us)));
            }
        }
        if !frames.is_empty() {
            for _ in 0..rng.range_inclusive(0, config.random_holds) {
                let id = frames[rng.below(frames.len() as u64) as usize];
                let by_us = rng.range_inclusive(1, config.random_hold_us);
                faults.insert(FaultVar::Hold { id, by_us });
            }
        }
        for _ in 0..rng.range_inclusive(0, u64::from(config.budget_crashes)) {
            let replica = rng.below(replicas) as u8;
            let at_us = rng.below(config.eff_us);
            // Half the crashes bounce, as LDFI's stale votes do.
            faults.insert(if rng.below(2) == 0 {
                FaultVar::Crash { replica, at_us }
            } else {
                FaultVar::Bounce { replica, at_us }
            });
        }
        let schedule = config.schedule(&faults);
        let (report, _) = execute(&config.sim_with(schedule.clone()));
        let failures = safety_failures(&report);
        progress(executions, 0);
        if !failures.is_empty() {
            return SearchResult {
                executions,
                counterexample: Some(Counterexample { schedule, failures }),
                exhausted: false,
            };
        }
    }
    SearchResult {
        executions: config.max_executions,
        counterexample: None,
        exhausted: false,
    }
}
