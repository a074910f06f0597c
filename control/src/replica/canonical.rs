//! A replica's canonical form: what decides its future behaviour, written
//! out so an exhaustive explorer (`mc/`, `docs/model-check.md`) can tell two
//! states apart or find them equal.
//!
//! Time. Every timer is compared with `now` — a deadline as `now >=
//! deadline`, a past moment as `now - t >= threshold` — never read as an
//! absolute time. So the canonical form writes `now` as 0, a deadline as how
//! far ahead it is (0 once passed: every passed deadline fires alike), and a
//! past moment as its age, each capped at the largest threshold it is
//! compared with (past it, every comparison comes out the same). Two
//! replicas whose clocks differ, or whose timers differ only where no
//! comparison can tell, get the same form.
//!
//! The seed and the RNG's position are left out: with a degenerate election
//! range (`election_ticks.0 == election_ticks.1`) the RNG's only other use
//! is drawing recovery nonces, which are compared for equality only and
//! carry the incarnation in their high half, so they differ between lives
//! whatever the RNG's position. With a real range the form is not
//! canonical (the next timeout depends on the RNG).

use std::fmt;

use super::{Replica, State};
use crate::rng::Rng;

/// Reads timestamps relative to `now` (see the module docs).
pub(super) struct TimeView {
    now: u64,
}

impl TimeView {
    /// A deadline: how far ahead it is, at most `cap`; 0 once passed.
    pub(super) fn deadline(&self, t: u64, cap: u64) -> u64 {
        t.saturating_sub(self.now).min(cap)
    }

    /// A past moment: its age, at most `cap`.
    pub(super) fn age(&self, t: u64, cap: u64) -> u64 {
        self.now.saturating_sub(t).min(cap)
    }
}

impl Replica {
    /// Writes the canonical form (above) of this replica to `out`.
    pub fn write_canonical(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        let mut copy = self.clone();
        let time = TimeView { now: self.now };
        let cfg = &self.cfg;
        let retransmit = cfg.retransmit_ticks;
        copy.now = 0;
        copy.election_deadline = time.deadline(self.election_deadline, cfg.election_ticks.1);
        copy.catchup.rebase_time(&time, retransmit);
        match &mut copy.state {
            State::Recovering(recovery) => recovery.rebase_time(&time, retransmit),
            State::Follower => {}
            State::Candidate(candidacy) => candidacy.rebase_time(&time, retransmit),
            State::Leader(leadership) => leadership.rebase_time(&time, cfg),
        }
        copy.rng = Rng::new(0);
        copy.cfg.seed = 0;
        write!(out, "{copy:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, ReplicaConfig};

    fn canonical(replica: &Replica) -> String {
        let mut out = String::new();
        replica.write_canonical(&mut out).unwrap();
        out
    }

    fn replica(seed: u64) -> Replica {
        let mut cfg = ReplicaConfig::new(1, 3, 7, seed);
        cfg.election_ticks = (3, 3);
        Replica::new(cfg)
    }

    #[test]
    fn replicas_that_differ_only_by_seed_are_canonically_equal() {
        assert_eq!(canonical(&replica(1)), canonical(&replica(2)));
    }

    #[test]
    fn a_tick_changes_the_canonical_form_while_a_timer_is_running() {
        let mut a = replica(1);
        let before = canonical(&a);
        a.step(Input::Tick);
        assert_ne!(canonical(&a), before, "a tick brings the election closer");
    }
}
