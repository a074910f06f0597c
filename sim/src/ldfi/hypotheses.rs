//! Fault hypotheses: from an outcome's supports, a CNF over fault variables
//! (omit this message, cut this link for a while, crash this replica at this
//! time) whose models are fault sets breaking every support, within the
//! crash budget and before the end of finite failures. Minimal models are
//! enumerated with batsat and blocking clauses (each found set's supersets
//! are excluded). Beside the CNF, two timing hypotheses built from the
//! lineage directly: races (an ACCEPT held into a vote's fence window) and
//! stale votes (a follower's counted ack outliving its state).

use std::collections::{BTreeMap, BTreeSet};

use batsat::{BasicCallbacks, Lit, Solver, SolverInterface, Var, lbool};
use serde::{Deserialize, Serialize};

use super::lineage::{Ack, MessageId, Outcome, Recovery, Sent, Supports, Vote, VoteRace};
use crate::latency::Micros;

/// One fault the search may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FaultVar {
    Omit(MessageId),
    /// The replica crashes at `at_us`: before a message sent to it at that
    /// time arrives, after one it sent at `at_us - 1` left.
    Crash {
        replica: u8,
        at_us: Micros,
    },
    /// The link between `a` and `b` (a < b) is down both ways from
    /// `start_us` for the configured cut length: the omission of every
    /// frame on it meanwhile (heartbeats included, so the far side may
    /// start an election while phase 2 is in flight).
    Cut {
        a: u8,
        b: u8,
        start_us: Micros,
    },
    /// The frame arrives `by_us` later than it did.
    Hold {
        id: MessageId,
        by_us: Micros,
    },
    /// The replica crashes at `at_us` as for `Crash`, but restarts with
    /// amnesia after the configured bounce time, short enough to recover
    /// while the leader is still retransmitting: only from stale votes
    /// (below), not from the CNF. Counted against the crash budget.
    Bounce {
        replica: u8,
        at_us: Micros,
    },
}

impl FaultVar {
    pub fn is_crash(&self) -> bool {
        matches!(self, FaultVar::Crash { .. } | FaultVar::Bounce { .. })
    }

    pub fn cut(x: u8, y: u8, start_us: Micros) -> FaultVar {
        FaultVar::Cut {
            a: x.min(y),
            b: x.max(y),
            start_us,
        }
    }
}

/// Minimal hypotheses enumerated per outcome before the smallest are kept.
const ENUMERATED: usize = 64;

/// What bounds a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Crashes a hypothesis may add.
    pub crashes: u32,
    /// End of finite failures: every fault happens before it.
    pub eff_us: Micros,
    /// Most hypotheses returned for one outcome (the smallest).
    pub per_outcome: usize,
    /// Replicas in the group (a majority of them elects and chooses).
    pub replicas: u8,
}

/// The minimal fault sets that break every support of `outcome`: its ack is
/// prevented (its ballot's election, or the phase 2 acks of every follower
/// that acked it, or the recovery of its leader, broken), or fewer than a
/// majority keep its value.
pub fn break_outcome(outcome: &Outcome, supports: &Supports, budget: Budget) -> Vec<Vec<FaultVar>> {
    let mut cnf = Cnf {
        eff_us: budget.eff_us,
        replicas: budget.replicas,
        ..Cnf::default()
    };
    let mut ways: Vec<Lit> = Vec::new();
    ways.extend(phase2_broken(&mut cnf, outcome, supports));
    ways.extend(election_broken(&mut cnf, outcome, &supports.votes));
    if let Some(recovery) = supports.recovery_of(outcome.leader) {
        ways.extend(recovery_broken(&mut cnf, recovery));
    }
    ways.extend(forgetting(&mut cnf, outcome, &supports.acks));
    if ways.is_empty() {
        return Vec::new();
    }
    cnf.solver.add_clause_reuse(&mut ways);
    cnf.at_most(budget.crashes);
    // The smallest hypotheses first, as Molly orders them, among the first
    // `ENUMERATED` the solver finds; ties keep the solver's order.
    let mut models = cnf.minimal_models(ENUMERATED);
    models.sort_by_key(Vec::len);
    models.truncate(budget.per_outcome);
    models
}

/// The holds that land an outcome's ACCEPT inside a later vote's fence
/// window instead of before it: the NIC may still ack it while the vote,
/// taken from the host's log, misses it, so a new leader elected with that
/// vote overwrites a chosen value. It lands as the PREPARE arrives and just
/// after (the host is fencing; the fence lands a few microseconds later).
/// Only ACCEPTs sent before the end of finite failures are held.
pub fn race_outcome(races: &[VoteRace], eff_us: Micros) -> Vec<FaultVar> {
    let mut holds = Vec::new();
    for race in races.iter().filter(|r| r.accept.at < eff_us) {
        for land in [race.prepare_arrives, race.prepare_arrives + 1] {
            if land > race.accept.arrives {
                holds.push(FaultVar::Hold {
                    id: race.accept.id,
                    by_us: land - race.accept.arrives,
                });
            }
        }
    }
    holds
}

/// What a stale-vote hypothesis needs to know of the run's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleTiming {
    /// How long a bounced replica stays down: less than the leader's
    /// retransmission period, so it has recovered when the leader's next
    /// copy of the ACCEPT goes out.
    pub bounce_us: Micros,
    /// The network's latency jitter: once faults drop frames the latencies
    /// are drawn in another order, so an ACCEPT may land (and be acked) this
    /// much later than in the run the hypothesis comes from.
    pub jitter_us: Micros,
    pub eff_us: Micros,
}

/// The stale-vote hypothesis of `outcome` (a second-level, timing
/// hypothesis, like races): its quorum counts follower F's ACCEPTED, and
/// the leader's NIC keeps counting that vote whatever becomes of F. So F
/// bounces (crashes right after its ACCEPTED left, restarts with amnesia
/// at once) and recovers from the others while the leader's ACCEPT has
/// reached none of them: the leader's links to the other followers are cut
/// (they never ack, and for want of heartbeats they will elect), save the
/// f - 1 that completed the quorum with F, whose ACCEPTs are lost once so
/// that they ack the leader's retransmission, after answering F's
/// recovery; the link between the leader and F is cut from F's restart, so
/// F is not rebuilt from the leader. The quorum then completes with F's
/// former-life ack plus the late ones. Whether the value survives is for
/// [`isolate`] to test on the run this produces. `None` below 5 replicas
/// (with f = 1 the former-life ack alone completes the quorum, and F's
/// recovery cannot avoid the leader) or when a fault would fall at or after
/// the end of finite failures.
pub fn stale_vote(
    outcome: &Outcome,
    supports: &Supports,
    replicas: u8,
    timing: StaleTiming,
) -> Option<Vec<FaultVar>> {
    let f = usize::from(replicas / 2);
    if f < 2 {
        return None;
    }
    let leader = outcome.leader;
    let counted_at = |ack: &Ack| {
        ack.accepteds
            .iter()
            .filter(|s| s.arrives <= outcome.at)
            .min_by_key(|s| s.arrives)
            .copied()
    };
    // Followers in the order their votes reached the leader: the first is
    // F, the next f - 1 are the late ackers (those that completed the
    // quorum with F), the rest never ack.
    let mut order: Vec<(&Ack, Option<Sent>)> =
        supports.acks.iter().map(|a| (a, counted_at(a))).collect();
    order.sort_by_key(|(ack, counted)| {
        (counted.is_none(), counted.map(|s| s.arrives), ack.follower)
    });
    let (first, rest) = order.split_first()?;
    let (f_ack, f_vote) = (first.0, first.1?);
    let first_accept = supports
        .acks
        .iter()
        .flat_map(|a| &a.accepts)
        .map(|s| s.at)
        .min()?;
    let crash_at = f_vote.at + 1 + timing.jitter_us;
    let restart_at = crash_at + timing.bounce_us;
    if restart_at >= timing.eff_us {
        return None;
    }
    let mut faults = vec![
        FaultVar::Bounce {
            replica: f_ack.follower,
            at_us: crash_at,
        },
        FaultVar::cut(leader, f_ack.follower, restart_at),
    ];
    let late: Vec<&Ack> = rest.iter().take(f - 1).map(|(a, _)| *a).collect();
    if late.len() < f - 1 {
        return None;
    }
    for ack in &late {
        // Every copy that would land before F has recovered.
        let early: Vec<&Sent> = ack.accepts.iter().filter(|s| s.at < restart_at).collect();
        if early.is_empty() {
            return None;
        }
        faults.extend(early.iter().map(|s| FaultVar::Omit(s.id)));
    }
    let never = (0..replicas)
        .filter(|&r| r != leader && r != f_ack.follower && !late.iter().any(|a| a.follower == r));
    faults.extend(never.map(|r| FaultVar::cut(leader, r, first_accept)));
    Some(faults)
}

/// After [`stale_vote`]: an outcome whose quorum counted a former life's
/// ack is held by fewer replicas than it seems (`holders`: the leader and
/// the followers that have not lost it). If the others are a majority, cut
/// every link between them and the holders from `at_us` (the outcome) on,
/// save those `cut` already has down then: the others elect without
/// anyone who holds the value. `None` if the others are no majority.
pub fn isolate(
    holders: &[u8],
    replicas: u8,
    at_us: Micros,
    eff_us: Micros,
    cut: &dyn Fn(u8, u8) -> bool,
) -> Option<Vec<FaultVar>> {
    let others: Vec<u8> = (0..replicas).filter(|r| !holders.contains(r)).collect();
    if others.len() <= usize::from(replicas / 2) || at_us >= eff_us {
        return None;
    }
    let faults: Vec<FaultVar> = holders
        .iter()
        .flat_map(|&h| others.iter().map(move |&o| (h, o)))
        .filter(|&(h, o)| !cut(h, o))
        .map(|(h, o)| FaultVar::cut(h, o, at_us))
        .collect();
    (!faults.is_empty()).then_some(faults)
}

/// A literal implying no follower's ack reaches the leader before the
/// outcome: the leader crashes with its ACCEPTs just sent or about to be, or
/// every acking follower's part is broken.
fn phase2_broken(cnf: &mut Cnf, outcome: &Outcome, supports: &Supports) -> Option<Lit> {
    let acking: Vec<&Ack> = supports
        .acks
        .iter()
        .filter(|a| !a.accepteds.is_empty())
        .collect();
    if acking.is_empty() {
        return None;
    }
    let mut ways = Vec::new();
    let first_accept = acking.iter().flat_map(|a| &a.accepts).map(|s| s.at).min();
    if let Some(at) = first_accept {
        for at_us in [at, at + 1] {
            ways.extend(cnf.crash(outcome.leader, at_us));
        }
    }
    let each: Option<Vec<Lit>> = acking
        .iter()
        .map(|ack| ack_broken(cnf, outcome, ack, supports))
        .collect();
    if let Some(each) = each {
        ways.push(cnf.all(each));
    }
    (!ways.is_empty()).then(|| cnf.any(ways))
}

/// A literal implying `ack`'s follower does not ack: it crashes before the
/// ACCEPT arrives, every ACCEPT or every ACCEPTED copy is lost, the link is
/// cut before the ACCEPT or between the accept and the ack, or its recovery
/// is broken. `None` if nothing in budget can.
fn ack_broken(cnf: &mut Cnf, outcome: &Outcome, ack: &Ack, supports: &Supports) -> Option<Lit> {
    let leader = outcome.leader;
    let mut ways = Vec::new();
    if let Some(first) = ack.accepts.first() {
        ways.extend(cnf.crash(ack.follower, first.at));
        ways.extend(cnf.cut(leader, ack.follower, first.at));
    }
    if let Some(first) = ack.accepteds.first() {
        ways.extend(cnf.cut(leader, ack.follower, first.at));
    }
    ways.extend(cnf.all_omitted(&ack.accepts));
    ways.extend(cnf.all_omitted(&ack.accepteds));
    if let Some(recovery) = supports.recovery_of(ack.follower) {
        ways.extend(recovery_broken(cnf, recovery));
    }
    (!ways.is_empty()).then(|| cnf.any(ways))
}

/// A literal implying the leader's ballot is not elected: every promiser's
/// vote is broken (its PREPAREs or PROMISEs lost, the link cut, or the
/// promiser crashing before the PREPARE arrives or before its fence
/// completes and it answers).
fn election_broken(cnf: &mut Cnf, outcome: &Outcome, votes: &[Vote]) -> Option<Lit> {
    // A majority counting the candidate: with fewer promisers on record
    // than it needs, the election is not in this run's lineage.
    if votes.is_empty() || votes.len() < usize::from(cnf.replicas / 2) {
        return None;
    }
    let mut each = Vec::new();
    for vote in votes {
        let mut ways = Vec::new();
        if let Some(first) = vote.prepares.first() {
            ways.extend(cnf.crash(vote.promiser, first.at));
            ways.extend(cnf.cut(outcome.leader, vote.promiser, first.at));
        }
        if let Some(first) = vote.promises.first() {
            // After the PREPARE arrived, before the fence completed and the
            // PROMISE left.
            ways.extend(cnf.crash(vote.promiser, first.at));
        }
        ways.extend(cnf.all_omitted(&vote.prepares));
        ways.extend(cnf.all_omitted(&vote.promises));
        if ways.is_empty() {
            return None;
        }
        each.push(cnf.any(ways));
    }
    Some(cnf.all(each))
}

/// A literal implying `recovery` does not complete: the answers of enough
/// responders lost that fewer than the f + 1 it needs remain.
fn recovery_broken(cnf: &mut Cnf, recovery: &Recovery) -> Option<Lit> {
    let needed = usize::from(cnf.replicas / 2 + 1);
    let lost: Vec<Lit> = recovery
        .responses
        .iter()
        .filter_map(|(_, responses)| cnf.all_omitted(responses))
        .collect();
    if lost.is_empty() || lost.len() + needed < recovery.responses.len() + 1 {
        return None;
    }
    // Losing one of exactly f + 1 responders is enough (always so with three
    // replicas); with more, losing all the omittable ones is a sufficient,
    // if not minimal, way.
    if recovery.responses.len() <= needed {
        Some(cnf.any(lost))
    } else {
        Some(cnf.all(lost))
    }
}

/// A literal implying fewer than a majority keep `outcome`'s value (the
/// chosen value's own support: a majority's acceptances): enough holders
/// lose it, the leader by crashing right after the ack, a follower by
/// crashing right after its own ack or the leader's, or by never getting an
/// ACCEPT. The protocol must then rebuild it by recovery.
fn forgetting(cnf: &mut Cnf, outcome: &Outcome, acks: &[Ack]) -> Option<Lit> {
    let after_ack = outcome.at + 1;
    let mut holders = vec![cnf.crash(outcome.leader, after_ack)];
    for ack in acks {
        let mut ways: Vec<Lit> = Vec::new();
        ways.extend(cnf.crash(ack.follower, after_ack));
        if let Some(first) = ack.accepteds.first() {
            ways.extend(cnf.crash(ack.follower, first.at + 1));
        }
        ways.extend(cnf.all_omitted(&ack.accepts));
        holders.push((!ways.is_empty()).then(|| cnf.any(ways)));
    }
    let f = usize::from(cnf.replicas / 2);
    let must_lose = (holders.len() + 1).saturating_sub(f + 1).max(1);
    let losable: Vec<Lit> = holders.into_iter().flatten().collect();
    cnf.at_least(must_lose, &losable)
}

#[derive(Default)]
struct Cnf {
    solver: Solver<BasicCallbacks>,
    vars: BTreeMap<FaultVar, Var>,
    /// Faults at or after this are out of budget.
    eff_us: Micros,
    replicas: u8,
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

    /// `replica` crashing at `at_us`, if before the end of finite failures.
    fn crash(&mut self, replica: u8, at_us: Micros) -> Option<Lit> {
        (at_us < self.eff_us).then(|| self.var(FaultVar::Crash { replica, at_us }))
    }

    /// The link `x`-`y` cut from `start_us`, if before the end of finite failures.
    fn cut(&mut self, x: u8, y: u8, start_us: Micros) -> Option<Lit> {
        (start_us < self.eff_us).then(|| self.var(FaultVar::cut(x, y, start_us)))
    }

    /// A literal implying every message of `messages` is omitted; `None` if
    /// there are none or one was sent too late to omit.
    fn all_omitted(&mut self, messages: &[Sent]) -> Option<Lit> {
        if messages.is_empty() || messages.iter().any(|s| s.at >= self.eff_us) {
            return None;
        }
        let lits = messages
            .iter()
            .map(|s| self.var(FaultVar::Omit(s.id)))
            .collect();
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

    /// A literal implying at least `k` of `lits` (one conjunction per
    /// choice of `k`: the lists here have at most a handful of literals).
    fn at_least(&mut self, k: usize, lits: &[Lit]) -> Option<Lit> {
        if k == 0 || k > lits.len() {
            return None;
        }
        let mut choices = Vec::new();
        let mut chosen = Vec::new();
        choose(lits, k, &mut chosen, &mut choices);
        let alls = choices.into_iter().map(|c| self.all(c)).collect();
        Some(self.any(alls))
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

/// Every `k`-element subset of `lits`, in order.
fn choose(lits: &[Lit], k: usize, chosen: &mut Vec<Lit>, out: &mut Vec<Vec<Lit>>) {
    if chosen.len() == k {
        out.push(chosen.clone());
        return;
    }
    for (i, &lit) in lits.iter().enumerate() {
        chosen.push(lit);
        choose(&lits[i + 1..], k, chosen, out);
        chosen.pop();
    }
}
