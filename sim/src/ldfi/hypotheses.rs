//! Fault hypotheses: from an outcome's supports, a CNF over fault variables
//! (omit this message, crash this replica at this time) whose models are
//! fault sets breaking every support, within the crash budget and before
//! the end of finite failures. Minimal models are enumerated with batsat and
//! blocking clauses (each found set's supersets are excluded).

use std::collections::{BTreeMap, BTreeSet};

use batsat::{BasicCallbacks, Lit, Solver, SolverInterface, Var, lbool};
use serde::{Deserialize, Serialize};

use super::lineage::{MessageId, Outcome, Sent, Support};
use crate::latency::Micros;

/// One fault the search may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FaultVar {
    Omit(MessageId),
    /// The replica crashes at `at_us`, before the message it would act on arrives.
    Crash {
        replica: u8,
        at_us: Micros,
    },
}

impl FaultVar {
    pub fn is_crash(&self) -> bool {
        matches!(self, FaultVar::Crash { .. })
    }
}

/// What bounds a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Crashes a hypothesis may add.
    pub crashes: u32,
    /// End of finite failures: every fault happens before it.
    pub eff_us: Micros,
    /// Most hypotheses enumerated for one outcome.
    pub per_outcome: usize,
}

/// The minimal fault sets that break every support of `outcome`.
pub fn break_outcome(
    outcome: &Outcome,
    supports: &[Support],
    budget: Budget,
) -> Vec<Vec<FaultVar>> {
    let mut cnf = Cnf::default();
    let in_time = |at: Micros| at < budget.eff_us;
    // The outcome also rests on the replicas holding the value once it is
    // acknowledged: the leader and every follower an ACCEPT reached. Losing
    // all of them (the leader crashing right after the ack, with amnesia;
    // each follower crashing too or never getting the ACCEPT) breaks it as
    // surely as preventing the ack.
    let forgotten = forgetting(&mut cnf, outcome, supports, budget.eff_us);
    let first_accept = supports.iter().flat_map(|s| &s.accepts).map(|s| s.at).min();
    let leader_crash = first_accept.filter(|&at| in_time(at)).map(|at_us| {
        cnf.var(FaultVar::Crash {
            replica: outcome.leader,
            at_us,
        })
    });
    if supports.iter().all(|s| s.accepteds.is_empty()) {
        match forgotten {
            Some(lit) => cnf.solver.add_clause_reuse(&mut vec![lit]),
            None => return Vec::new(),
        };
    }
    for support in supports.iter().filter(|s| !s.accepteds.is_empty()) {
        let mut clause: Vec<Lit> = leader_crash.into_iter().chain(forgotten).collect();
        let follower_down = support.accepts.iter().map(|s| s.at).min();
        if let Some(at_us) = follower_down.filter(|&at| in_time(at)) {
            clause.push(cnf.var(FaultVar::Crash {
                replica: support.follower,
                at_us,
            }));
        }
        for messages in [&support.accepts, &support.accepteds] {
            if let Some(all_lost) = cnf.all_omitted(messages, budget.eff_us) {
                clause.push(all_lost);
            }
        }
        if clause.is_empty() {
            return Vec::new();
        }
        cnf.solver.add_clause_reuse(&mut clause);
    }
    cnf.at_most(budget.crashes);
    cnf.minimal_models(budget.per_outcome)
}

/// A literal implying the replicas holding `outcome`'s value all lose it.
fn forgetting(
    cnf: &mut Cnf,
    outcome: &Outcome,
    supports: &[Support],
    eff_us: Micros,
) -> Option<Lit> {
    let after_ack = outcome.at + 1;
    if after_ack >= eff_us {
        return None;
    }
    let mut lost = vec![cnf.var(FaultVar::Crash {
        replica: outcome.leader,
        at_us: after_ack,
    })];
    for support in supports {
        let crashed = cnf.var(FaultVar::Crash {
            replica: support.follower,
            at_us: after_ack,
        });
        let never_reached = cnf.all_omitted(&support.accepts, eff_us);
        lost.push(cnf.any(std::iter::once(crashed).chain(never_reached).collect()));
    }
    Some(cnf.all(lost))
}

#[derive(Default)]
struct Cnf {
    solver: Solver<BasicCallbacks>,
    vars: BTreeMap<FaultVar, Var>,
}

impl Cnf {
    fn var(&mut self, fault: FaultVar) -> Lit {
        let solver = &mut self.solver;
        let var = *self
            .vars
            .entry(fault)
            .or_insert_with(|| solver.new_var_default());
        Lit::new(var, true)
    }

    /// A literal implying every message of `messages` is omitted;
    /// `None` if one was sent too late to omit.
    fn all_omitted(&mut self, messages: &[Sent], eff_us: Micros) -> Option<Lit> {
        if messages.iter().any(|s| s.at >= eff_us) {
            return None;
        }
        self.all_of(Some(
            messages.iter().map(|s| FaultVar::Omit(s.id)).collect(),
        ))
    }

    /// A literal implying every fault of `faults` (Tseitin); `None` for none.
    fn all_of(&mut self, faults: Option<Vec<FaultVar>>) -> Option<Lit> {
        let lits = faults?.into_iter().map(|f| self.var(f)).collect();
        Some(self.all(lits))
    }

    /// A literal implying every one of `lits`.
    fn all(&mut self, lits: Vec<Lit>) -> Lit {
        let all = Lit::new(self.solver.new_var_default(), true);
        for lit in lits {
            self.solver.add_clause_reuse(&mut vec![!all, lit]);
        }
        all
    }

    /// A literal implying at least one of `lits`.
    fn any(&mut self, lits: Vec<Lit>) -> Lit {
        let any = Lit::new(self.solver.new_var_default(), true);
        let mut clause = vec![!any];
        clause.extend(lits);
        self.solver.add_clause_reuse(&mut clause);
        any
    }

    /// At most `k` crash variables true (Sinz's sequential counter).
    fn at_most(&mut self, k: u32) {
        let crashes: Vec<Lit> = self
            .vars
            .iter()
            .filter(|(f, _)| f.is_crash())
            .map(|(_, v)| Lit::new(*v, true))
            .collect();
        let k = k as usize;
        if crashes.len() <= k {
            return;
        }
        if k == 0 {
            for &c in &crashes {
                self.solver.add_clause_reuse(&mut vec![!c]);
            }
            return;
        }
        // counts[i][j]: at least j+1 of the first i+1 crashes are true.
        let mut previous: Vec<Lit> = Vec::new();
        for (i, &x) in crashes.iter().enumerate() {
            let current: Vec<Lit> = (0..k)
                .map(|_| Lit::new(self.solver.new_var_default(), true))
                .collect();
            self.solver.add_clause_reuse(&mut vec![!x, current[0]]);
            if i > 0 {
                for j in 0..k {
                    self.solver
                        .add_clause_reuse(&mut vec![!previous[j], current[j]]);
                }
                for j in 1..k {
                    self.solver
                        .add_clause_reuse(&mut vec![!x, !previous[j - 1], current[j]]);
                }
                self.solver
                    .add_clause_reuse(&mut vec![!x, !previous[k - 1]]);
            }
            previous = current;
        }
    }

    fn model(&self) -> BTreeSet<FaultVar> {
        self.vars
            .iter()
            .filter(|(_, v)| self.solver.value_var(**v) == lbool::TRUE)
            .map(|(f, _)| *f)
            .collect()
    }

    /// Up to `limit` subset-minimal models, each blocked with its supersets
    /// once found, smallest-first by the order the solver finds them.
    fn minimal_models(&mut self, limit: usize) -> Vec<Vec<FaultVar>> {
        let mut found = Vec::new();
        while found.len() < limit && self.solver.solve_limited(&[]) == lbool::TRUE {
            let model = self.shrink(self.model());
            let mut block: Vec<Lit> = model.iter().map(|f| !self.var(*f)).collect();
            found.push(model.into_iter().collect());
            if block.is_empty() || !self.solver.add_clause_reuse(&mut block) {
                break;
            }
        }
        found
    }

    /// Drops faults while the rest still breaks every support.
    fn shrink(&mut self, mut model: BTreeSet<FaultVar>) -> BTreeSet<FaultVar> {
        for fault in model.clone() {
            if !model.contains(&fault) {
                continue;
            }
            let assumptions: Vec<Lit> = self
                .vars
                .iter()
                .filter(|(f, _)| **f == fault || !model.contains(f))
                .map(|(_, v)| !Lit::new(*v, true))
                .collect();
            if self.solver.solve_limited(&assumptions) == lbool::TRUE {
                model = self.model();
            }
        }
        model
    }
}
