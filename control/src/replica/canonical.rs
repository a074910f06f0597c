//! A replica's canonical form: what decides its future behaviour, written
//! out so an exhaustive explorer (`mc/`, `docs/model-check.md`) can tell two
//! states apart or find them equal.
//!
//! Two replicas whose state differs only by a shift of the clock behave the
//! same: every timer is compared with `now` (`now >= deadline`,
//! `now - last_progress >= threshold`), never read as an absolute time. So
//! the canonical form writes every timestamp relative to `now`, clamped to
//! `±horizon`: a caller passing a horizon above every threshold the replica
//! compares against (election timeout, heartbeat, retransmission, four
//! retransmission periods) keeps every comparison's outcome. The seed and
//! the RNG's position are left out: with a degenerate election range
//! (`election_ticks.0 == election_ticks.1`) the RNG's only other use is
//! drawing recovery nonces, which are compared for equality only and carry
//! the incarnation in their high half, so they differ between lives
//! whatever the RNG's position.

use std::fmt;

use super::{Replica, State};
use crate::rng::Rng;

impl Replica {
    /// Writes the canonical form (above) of this replica to `out`.
    pub fn write_canonical(&self, out: &mut dyn fmt::Write, horizon: u64) -> fmt::Result {
        let mut copy = self.clone();
        let now = self.now;
        let shift = move |t: u64| -> u64 {
            let relative = i128::from(t) - i128::from(now);
            let bound = i128::from(horizon);
            // Non-negative by the clamp: horizon + [-horizon, horizon].
            (bound + relative.clamp(-bound, bound)) as u64
        };
        copy.now = horizon;
        copy.election_deadline = shift(self.election_deadline);
        copy.catchup.rebase_time(&shift);
        match &mut copy.state {
            State::Recovering(recovery) => recovery.rebase_time(&shift),
            State::Follower => {}
            State::Candidate(candidacy) => candidacy.rebase_time(&shift),
            State::Leader(leadership) => leadership.rebase_time(&shift),
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
        replica.write_canonical(&mut out, 8).unwrap();
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
    fn a_tick_changes_the_canonical_form_until_the_timers_are_past_the_horizon() {
        let mut a = replica(1);
        let before = canonical(&a);
        a.step(Input::Tick);
        assert_ne!(canonical(&a), before, "a tick brings the election closer");
    }
}
