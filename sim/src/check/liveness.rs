//! Liveness after the faults heal: from the heal time on, the network is
//! reliable and every replica is up, so every operation must complete within
//! a bound, counted from the later of its invocation and the heal time; and
//! every replica that is up must hold its share of the state again (recovered
//! and caught up) within the same bound, counted from the later of its
//! restart and the heal time. The second catches a replica that never
//! rejoins while the others keep serving, which client operations alone
//! cannot show.

use std::fmt;

use serde::Serialize;

use super::Check;
use crate::latency::Micros;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LivenessViolation {
    /// A client operation still pending at its deadline.
    Operation {
        client: u64,
        request: u64,
        operation: String,
        invoked_us: Micros,
        heal_us: Micros,
        deadline_us: Micros,
    },
    /// A replica up but still without its state (recovering, or recovered
    /// and not caught up) at its deadline.
    Rejoin {
        replica: u8,
        incarnation: u32,
        up_since_us: Micros,
        heal_us: Micros,
        deadline_us: Micros,
    },
}

impl fmt::Display for LivenessViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LivenessViolation::Operation {
                client,
                request,
                operation,
                invoked_us,
                heal_us,
                deadline_us,
            } => write!(
                f,
                "client {client} request {request} ({operation}) invoked at {invoked_us} us was still pending at its deadline {deadline_us} us (faults healed at {heal_us} us)"
            ),
            LivenessViolation::Rejoin {
                replica,
                incarnation,
                up_since_us,
                heal_us,
                deadline_us,
            } => write!(
                f,
                "replica {replica}#{incarnation}, up since {up_since_us} us, was still without its state (recovering or not caught up) at its deadline {deadline_us} us (faults healed at {heal_us} us)"
            ),
        }
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

    /// The first replica that is up, without its state and past its
    /// deadline at `now`, if any; `replicas` gives (id, incarnation, up
    /// since) of each replica up and without its state.
    pub fn check_rejoined(
        &self,
        now: Micros,
        replicas: impl IntoIterator<Item = (u8, u32, Micros)>,
    ) -> Check<LivenessViolation> {
        let late = replicas
            .into_iter()
            .find(|&(_, _, up_since)| self.deadline(up_since) < now);
        match late {
            None => Check::Passed,
            Some((replica, incarnation, up_since_us)) => Check::Failed(LivenessViolation::Rejoin {
                replica,
                incarnation,
                up_since_us,
                heal_us: self.heal_us,
                deadline_us: self.deadline(up_since_us),
            }),
        }
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
            Some(op) => Check::Failed(LivenessViolation::Operation {
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
    fn a_replica_up_without_its_state_past_its_deadline_is_a_violation() {
        let checker = LivenessChecker::new(1_000, 500);
        assert!(checker.check_rejoined(1_600, []).passed());
        assert!(
            checker.check_rejoined(1_400, [(2, 1, 200)]).passed(),
            "the bound runs from the heal time"
        );
        assert!(
            checker.check_rejoined(1_650, [(2, 1, 1_200)]).passed(),
            "and from a restart after it"
        );
        let Check::Failed(violation) = checker.check_rejoined(1_501, [(2, 1, 200)]) else {
            panic!("not caught")
        };
        assert!(
            violation
                .to_string()
                .starts_with("replica 2#1, up since 200 us")
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
