//! Refinement to an abstract replicated log, the atomic distributed object
//! of "Much ADO about Failures" (Honoré, Kim, Shin, Shao: OOPSLA 2021): a log
//! of committed operations, plus the operations invoked and not committed,
//! exposed as *pending* (some replica, NIC or frame still carries it: it may
//! yet commit) or *failed* (nothing carries it any more: it commits only if
//! its client invokes it again).
//!
//! [`AbstractLog::of`] maps every reachable state to that object: the
//! committed log is the learned-chosen prefix (from the ghost), with no-ops
//! and repeated requests left out (the session table executes a request
//! once, so a second copy in the log is no operation); the clients' writes
//! not in it are pending or failed by whether any log, leader's queue,
//! card-to-host record or frame holds their bytes. [`check_step`] checks
//! that each concrete step is a composition of abstract steps — invoke,
//! commit (a pending operation, or one invoked in this very step, appended),
//! fail (pending to failed),
//! retry (failed to pending, only by its client), acknowledge (a committed
//! operation only) — or a stutter. The committed log only grows by appends.

use std::collections::BTreeSet;

use riptide_control::kv::LogValue;
use riptide_wire::host::{CardToHost, NicEvent};

use crate::bounds::Bounds;
use crate::properties::{Property, Violation, client_id, client_write_bytes};
use crate::world::World;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbstractLog {
    /// Committed operations (clients), in execution order.
    pub committed: Vec<u8>,
    pub pending: BTreeSet<u8>,
    pub failed: BTreeSet<u8>,
    pub acknowledged: BTreeSet<u8>,
}

impl AbstractLog {
    pub fn of(world: &World, bounds: &Bounds) -> AbstractLog {
        let mut committed = Vec::new();
        let mut slot = 1;
        while let Some((value, _)) = world.ghost.chosen.get(&slot) {
            // A slot's writes: one request, or every write of a batch.
            let decoded = LogValue::decode(value);
            for (client, _, _) in decoded.iter().flat_map(LogValue::writes) {
                if let Some(c) = (0..bounds.clients).find(|&c| client_id(c) == client)
                    && !committed.contains(&c)
                {
                    committed.push(c);
                }
            }
            slot += 1;
        }
        let (mut pending, mut failed) = (BTreeSet::new(), BTreeSet::new());
        for &c in world.invoked.iter().filter(|c| !committed.contains(c)) {
            if carried(world, &client_write_bytes(c)) {
                pending.insert(c);
            } else {
                failed.insert(c);
            }
        }
        AbstractLog {
            committed,
            pending,
            failed,
            acknowledged: world.ghost.acked.clone(),
        }
    }
}

/// Whether `bytes` (a frame) carry any client's write.
pub(crate) fn carries_a_write(bytes: &[u8], bounds: &Bounds) -> bool {
    (0..bounds.clients).any(|c| contains(bytes, &client_write_bytes(c)))
}

/// Whether any log, leader's queue, card-to-host record or frame in flight
/// holds `value`.
fn carried(world: &World, value: &[u8]) -> bool {
    world.nodes.iter().any(|node| {
        node.replica
            .entries()
            .any(|(_, e)| contains(&e.value, value))
            || node
                .replica
                .queued_values()
                .iter()
                .any(|queued| contains(queued, value))
            || node.to_host.iter().any(|record| match record {
                CardToHost::Event(NicEvent::Accepted { value: v, .. }) => contains(v, value),
                CardToHost::Punted(frame) => contains(frame, value),
                CardToHost::Event(_) => false,
            })
    }) || world
        .network
        .iter()
        .any(|frame| contains(&frame.bytes, value))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks that `from` → `to` is a composition of abstract steps or a
/// stutter; `retried` is the client that (re)invoked its write in this step.
pub fn check_step(
    from: &AbstractLog,
    to: &AbstractLog,
    retried: Option<u8>,
) -> Result<(), Violation> {
    let fail = |detail: String| Err(Violation::new(Property::Refinement, detail));
    if !to.committed.starts_with(&from.committed) {
        return fail(format!(
            "the committed log {:?} became {:?}: not an append",
            from.committed, to.committed
        ));
    }
    for &c in &to.committed[from.committed.len()..] {
        if !from.pending.contains(&c) && retried != Some(c) {
            let was = if from.failed.contains(&c) {
                "failed"
            } else {
                "never invoked"
            };
            return fail(format!(
                "client {}'s write committed, but it was {was} and not retried",
                client_id(c)
            ));
        }
    }
    for &c in from.failed.intersection(&to.pending) {
        if retried != Some(c) {
            return fail(format!(
                "client {}'s write came back from failed without a retry",
                client_id(c)
            ));
        }
    }
    if let Some(c) = to.acknowledged.iter().find(|c| !to.committed.contains(c)) {
        return fail(format!(
            "client {}'s write was acknowledged but is not in the committed log {:?}",
            client_id(*c),
            to.committed
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(committed: &[u8], pending: &[u8], failed: &[u8], acked: &[u8]) -> AbstractLog {
        AbstractLog {
            committed: committed.to_vec(),
            pending: pending.iter().copied().collect(),
            failed: failed.iter().copied().collect(),
            acknowledged: acked.iter().copied().collect(),
        }
    }

    #[test]
    fn committing_a_pending_write_and_acknowledging_it_are_abstract_steps() {
        let a = log(&[], &[0], &[], &[]);
        let b = log(&[0], &[], &[], &[0]);
        assert!(check_step(&a, &b, None).is_ok());
        assert!(check_step(&b, &b, None).is_ok(), "a stutter");
    }

    #[test]
    fn a_failed_write_commits_only_when_its_client_retries() {
        let a = log(&[], &[], &[0], &[]);
        let b = log(&[0], &[], &[], &[]);
        assert!(check_step(&a, &b, None).is_err());
        assert!(check_step(&a, &b, Some(0)).is_ok());
    }

    #[test]
    fn the_committed_log_never_loses_or_reorders_an_operation() {
        let a = log(&[0, 1], &[], &[], &[]);
        assert!(check_step(&a, &log(&[1, 0], &[], &[], &[]), None).is_err());
        assert!(check_step(&a, &log(&[0], &[1], &[], &[]), None).is_err());
    }

    #[test]
    fn an_acknowledgement_needs_a_committed_write() {
        let a = log(&[], &[0], &[], &[]);
        assert!(check_step(&a, &log(&[], &[0], &[], &[0]), None).is_err());
    }
}
