//! Liveness after the faults heal: from the heal time on, the network is
//! reliable and every replica is up, so every operation must complete within
//! a bound, counted from the later of its invocation and the heal time.

use std::fmt;

use serde::Serialize;

use super::Check;
use crate::latency::Micros;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LivenessViolation {
    pub client: u64,
    pub request: u64,
    pub operation: String,
    pub invoked_us: Micros,
    pub heal_us: Micros,
    pub deadline_us: Micros,
}

impl fmt::Display for LivenessViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "client {} request {} ({}) invoked at {} us was still pending at its deadline {} us (faults healed at {} us)",
            self.client,
            self.request,
            self.operation,
            self.invoked_us,
            self.deadline_us,
            self.heal_us
        )
    }
}

/// The outcome `docs/protocol.md` documents for a group that lost f+1
/// replicas' state: it stops. Recovering replicas wait for f+1 others that
/// hold their share of the state, and only f remain; going on would risk
/// losing chosen values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// When the first operation missed its deadline.
    pub at_us: Micros,
    /// Replicas down or without their share of the state then.
    pub without_state: Vec<u8>,
    pub replicas: u8,
    /// Operations left pending.
    pub pending: usize,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.without_state.iter().map(|r| format!("r{r}")).collect();
        write!(
            f,
            "the group stopped, as documented: {} of {} replicas ({}) without their state at {} us, more than f = {}; recovery needs f+1 copies and waits forever; {} operations left pending",
            self.without_state.len(),
            self.replicas,
            names.join(", "),
            self.at_us,
            (self.replicas - 1) / 2,
            self.pending
        )
    }
}

/// An operation still waiting for its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOp {
    pub client: u64,
    pub request: u64,
    pub operation: String,
    pub invoked_us: Micros,
}

#[derive(Debug, Clone)]
pub struct LivenessChecker {
    heal_us: Micros,
    bound_us: Micros,
}

impl LivenessChecker {
    pub fn new(heal_us: Micros, bound_us: Micros) -> LivenessChecker {
        LivenessChecker { heal_us, bound_us }
    }

    /// When an operation invoked at `invoked_us` must have completed.
    pub fn deadline(&self, invoked_us: Micros) -> Micros {
        invoked_us.max(self.heal_us) + self.bound_us
    }

    /// The documented stall, if an operation is past its deadline at `now`
    /// while more than f of the `replicas` are without their state (down,
    /// recovering, or not caught up: `without_state`). With f or fewer the
    /// group must make progress, and an overdue operation is a violation
    /// ([`LivenessChecker::check`]).
    pub fn stall<'a>(
        &self,
        now: Micros,
        pending: impl IntoIterator<Item = &'a PendingOp>,
        without_state: &[u8],
        replicas: u8,
    ) -> Option<Stall> {
        let f = usize::from((replicas - 1) / 2);
        let pending: Vec<&PendingOp> = pending.into_iter().collect();
        let overdue = pending.iter().any(|op| self.deadline(op.invoked_us) < now);
        (overdue && without_state.len() > f).then(|| Stall {
            at_us: now,
            without_state: without_state.to_vec(),
            replicas,
            pending: pending.len(),
        })
    }

    /// The first pending operation past its deadline at `now`, if any.
    pub fn check<'a>(
        &self,
        now: Micros,
        pending: impl IntoIterator<Item = &'a PendingOp>,
    ) -> Check<LivenessViolation> {
        let overdue = pending
            .into_iter()
            .filter(|op| self.deadline(op.invoked_us) < now)
            .min_by_key(|op| (op.invoked_us, op.client));
        match overdue {
            None => Check::Passed,
            Some(op) => Check::Failed(LivenessViolation {
                client: op.client,
                request: op.request,
                operation: op.operation.clone(),
                invoked_us: op.invoked_us,
                heal_us: self.heal_us,
                deadline_us: self.deadline(op.invoked_us),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_runs_from_the_heal_time_for_ops_invoked_during_faults() {
        let checker = LivenessChecker::new(1_000, 500);
        let op = |invoked_us| PendingOp {
            client: 1,
            request: 2,
            operation: "put k0".into(),
            invoked_us,
        };
        assert!(checker.check(1_500, &[op(10)]).passed());
        assert!(!checker.check(1_501, &[op(10)]).passed());
        assert!(checker.check(2_900, &[op(2_400)]).passed());
        let text = checker.check(3_000, &[op(2_400)]).to_string();
        assert!(
            text.contains("client 1 request 2") && text.contains("2900"),
            "{text}"
        );
    }

    #[test]
    fn a_stall_is_the_documented_outcome_only_past_f_replicas_without_state() {
        let checker = LivenessChecker::new(1_000, 500);
        let op = PendingOp {
            client: 1,
            request: 2,
            operation: "get k0".into(),
            invoked_us: 10,
        };
        assert_eq!(checker.stall(1_400, [&op], &[0, 1], 3), None, "not overdue");
        assert_eq!(
            checker.stall(1_501, [&op], &[0], 3),
            None,
            "f = 1 may stall nothing"
        );
        assert_eq!(checker.stall(1_501, [&op], &[0, 3], 5), None, "f = 2");
        let stall = checker.stall(1_501, [&op], &[0, 2], 3).unwrap();
        assert_eq!(stall.without_state, vec![0, 2]);
        let text = stall.to_string();
        assert!(text.contains("2 of 3 replicas (r0, r2)"), "{text}");
        assert!(checker.stall(1_501, [&op], &[0, 1, 4], 5).is_some());
    }
}
