//! Partial-order reduction: persistent (ample) sets of one replica's
//! host-side steps (`docs/model-check.md`, "Partial-order reduction").
//!
//! In a state s, for a replica r whose card-to-host stream is not empty,
//! the candidate set A is every enabled host-side action of r: `Host(r)`,
//! `Tick(r)`, `Client{_, r}`. Exploring only A from s is sound for the
//! properties when A is
//!
//! - *persistent*: no sequence of actions outside A, from s, contains an
//!   action dependent on A. Outside A are actions of other replicas, NIC-side
//!   deliveries to r, and crashes. r's control plane and the record at the
//!   head of its stream do not change along such a sequence, so what each A
//!   action does (its outputs) is fixed at s and is checked there:
//!   - it programs nothing on the NIC but `Transmit`, so it commutes with a
//!     delivery to r (which reads and writes only the NIC and the stream's
//!     tail);
//!   - every frame it sends is not in flight at s and is of a kind r's NIC
//!     never builds itself (not ACCEPT, ACCEPTED, COMMIT, NACK), so no
//!     delivery elsewhere can remove an identical frame first (the network
//!     is a set);
//!   - a step past a bound at s stays past it: the ballot bound counts a set
//!     that only grows, and the slot bound reads r's own state.
//!
//!   A crash of r does not commute with A, but it erases r: exploring A
//!   first reaches the same state plus the frames A sent, which carry no
//!   client write (checked), so every step of the crash-first run is
//!   enabled there with the same effect and the same property values.
//! - *invisible*: each A action leaves the ghost, the abstract log, and r's
//!   observable state ([`Node::observable`]) unchanged, so every property
//!   (checked on every state, or on a step from the ghost and r alone) has
//!   the same value on the reordered runs;
//! - *not ignoring* (the cycle proviso): if any A successor was already
//!   visited, the state is expanded fully. Along any cycle of the reduced
//!   graph, the state expanded last sees its successor visited, so every
//!   cycle holds a fully expanded state and no action is put off forever.
//!
//! Liveness is not checked under the reduction: its sample is a state
//! property of states the reduction skips.

use riptide_wire::Message;

use crate::bounds::Bounds;
use crate::node::frame_message;
use crate::refinement::{AbstractLog, carries_a_write};
use crate::world::{Action, Outcome, World};

/// An ample set chosen in a state: the actions' indices (in
/// [`World::actions`] order) and their outcomes.
pub struct Ample {
    pub steps: Vec<(u32, Outcome)>,
}

/// A persistent, invisible set of one replica's host-side actions, if some
/// replica has one smaller than `actions`; `None` means expand fully.
pub fn ample(world: &World, bounds: &Bounds, actions: &[Action]) -> Option<Ample> {
    let before = AbstractLog::of(world, bounds);
    for node in world.nodes.iter().filter(|n| !n.to_host.is_empty()) {
        let r = node.id();
        let chosen: Vec<u32> = actions
            .iter()
            .enumerate()
            .filter(|(_, action)| host_side(**action) == Some(r))
            .map(|(i, _)| i as u32)
            .collect();
        if chosen.len() == actions.len() {
            return None;
        }
        let mut steps = Vec::with_capacity(chosen.len());
        let fits = chosen.into_iter().all(|i| {
            let outcome = world.apply(bounds, actions[i as usize]);
            let fits = match &outcome {
                Outcome::Next(next) => invisible_and_independent(world, next, r, &before, bounds),
                Outcome::OutOfBounds => true,
                // Found the usual way, by the full expansion.
                Outcome::Violation(_) => false,
            };
            steps.push((i, outcome));
            fits
        });
        // A persistent set holds an enabled action (one within the bounds),
        // or the state would wrongly look like a dead end.
        let enabled = steps
            .iter()
            .any(|(_, outcome)| matches!(outcome, Outcome::Next(_)));
        if fits && enabled {
            return Some(Ample { steps });
        }
    }
    None
}

/// The replica whose host-side action this is.
fn host_side(action: Action) -> Option<u8> {
    match action {
        Action::Host(r) | Action::Tick(r) | Action::Client { replica: r, .. } => Some(r),
        Action::Deliver(_) | Action::Duplicate(_) | Action::Crash(_) => None,
    }
}

fn invisible_and_independent(
    world: &World,
    next: &World,
    r: u8,
    before: &AbstractLog,
    bounds: &Bounds,
) -> bool {
    let index = usize::from(r);
    let effects = &next.effects;
    next.ghost == world.ghost
        && next.invoked == world.invoked
        && next.nodes[index].observable() == world.nodes[index].observable()
        && !effects.nic_programmed
        && effects.sent.iter().all(|frame| {
            !world.network.contains(frame)
                && !carries_a_write(&frame.bytes, bounds)
                && !matches!(
                    frame_message(&frame.bytes),
                    None | Some((
                        _,
                        Message::Accept { .. }
                            | Message::Accepted { .. }
                            | Message::Commit { .. }
                            | Message::Nack { .. }
                    ))
                )
        })
        && AbstractLog::of(next, bounds) == *before
}
