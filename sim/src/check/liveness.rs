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
}
