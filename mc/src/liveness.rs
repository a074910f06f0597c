//! Liveness, bounded: from a state, with faults stopped, a fair extension
//! commits.
//!
//! The extension runs in rounds. Each round: every frame in the network is
//! delivered exactly once (frames sent during the round wait for the next;
//! nothing is lost or duplicated any more, and the frames still in flight
//! when faults stopped are each delivered once, late), every host takes
//! every record its NIC wrote, every client whose write is not acknowledged
//! sends it to every replica — a fresh client among them, with a write never
//! sent before — and every replica ticks once. No crash. The check passes
//! when the fresh client's write is acknowledged within `rounds` rounds (its
//! client was told `Done`, so it was learned chosen and applied by a
//! leader). Bounds do not apply in the extension: it may elect in ballots
//! and fill slots past them.
//!
//! Timing after faults stop is that of a well-configured group (partial
//! synchrony after its stabilisation time): timeouts are long against a
//! round trip. The checker's timers are one tick each (so any tick of a
//! follower is a timeout), so the extension says who ticks instead
//! ([`ticking`]): leaders and recovering replicas every round, a candidate
//! every [`CANDIDATE_PERIOD`] rounds (a PROMISE needs two), and followers
//! only while nobody leads or campaigns, one at a time (the lowest id).

use riptide_control::{Input, Role};

use crate::bounds::Bounds;
use crate::properties::{Property, Violation, client_id, client_write};
use crate::world::{Action, World};

/// Default rounds: a few elections' worth (an election takes about five
/// rounds with the checker's timers; two candidates may duel once).
pub const ROUNDS: usize = 40;

/// A candidate restarts its election this often, in rounds.
pub const CANDIDATE_PERIOD: usize = 4;

/// The replicas whose timers fire at the end of `round` (module docs).
fn ticking(world: &World, round: usize) -> Vec<u8> {
    let contested = world
        .nodes
        .iter()
        .any(|n| matches!(n.role(), Role::Leader | Role::Candidate));
    let mut ticks: Vec<u8> = world
        .nodes
        .iter()
        .filter(|n| match n.role() {
            Role::Leader | Role::Recovering => true,
            Role::Candidate => round.is_multiple_of(CANDIDATE_PERIOD),
            Role::Follower => false,
        })
        .map(|n| n.id())
        .collect();
    if !contested && let Some(follower) = world.nodes.iter().find(|n| n.role() == Role::Follower) {
        ticks.push(follower.id());
    }
    ticks
}

/// Runs the fair extension of `world`; `Ok(rounds it took)`.
pub fn fair_extension(world: &World, bounds: &Bounds, rounds: usize) -> Result<usize, Violation> {
    let mut world = world.clone();
    let fresh = bounds.clients;
    for round in 1..=rounds {
        let frames = std::mem::take(&mut world.network);
        for frame in frames {
            let node = &mut world.nodes[usize::from(frame.to)];
            let out = node.receive(&frame.bytes);
            node.refresh_fingerprint();
            world.network.extend(
                out.into_iter()
                    .map(|(to, bytes)| crate::world::Frame { to, bytes }),
            );
        }
        for r in 0..bounds.replicas {
            // A host's own commands write records too (fences, submits):
            // take until the stream is empty, within reason.
            for _ in 0..1000 {
                if world.nodes[usize::from(r)].to_host.is_empty() {
                    break;
                }
                world.take_unchecked(bounds, Action::Host(r));
            }
        }
        let waiting: Vec<u8> = (0..=fresh)
            .filter(|c| !world.ghost.acked.contains(c))
            .filter(|c| *c == fresh || world.invoked.contains(c))
            .collect();
        for client in waiting {
            for r in 0..bounds.replicas {
                world.step_unchecked(
                    r,
                    Input::Client {
                        client: client_id(client),
                        request: 1,
                        command: client_write(client),
                    },
                );
            }
        }
        if world.ghost.acked.contains(&fresh) {
            return Ok(round);
        }
        for r in ticking(&world, round) {
            world.take_unchecked(bounds, Action::Tick(r));
        }
    }
    Err(Violation::new(
        Property::Liveness,
        format!(
            "with faults stopped, a fresh write (client {}) was not acknowledged within {rounds} fair rounds",
            client_id(fresh)
        ),
    ))
}
