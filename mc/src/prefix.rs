//! Start states for a search: a search may begin where a prefix of steps
//! leaves the group (`--from FILE`, or a [`Named`] one with `--prefix`), so
//! its depth goes to the part of a run the prefix does not fix. A prefix
//! file holds steps, as a counterexample's (`trace.rs`).

use std::fmt;
use std::str::FromStr;

use riptide_control::Role;
use riptide_wire::Message;
use thiserror::Error;

use crate::bounds::Bounds;
use crate::node::frame_message;
use crate::world::{Action, Outcome, World};

/// The prefixes the CLI knows by name (`--prefix NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// [`election_and_write`] with replica 0 as the leader.
    ElectionAndWrite,
    /// [`crash_after_ack`] with replica 0 as the leader and replica 1 as
    /// the follower that crashes.
    CrashAfterAck,
    /// [`recovered_from_others`] with the same replicas.
    RecoveredFromOthers,
}

impl Named {
    pub const ALL: [Named; 3] = [
        Named::ElectionAndWrite,
        Named::CrashAfterAck,
        Named::RecoveredFromOthers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Named::ElectionAndWrite => "election-and-write",
            Named::CrashAfterAck => "crash-after-ack",
            Named::RecoveredFromOthers => "recovered-from-others",
        }
    }

    /// The prefix's steps under `bounds`; `None` if they do not fit them.
    pub fn actions(self, bounds: &Bounds) -> Option<Vec<Action>> {
        match self {
            Named::ElectionAndWrite => election_and_write(bounds, 0),
            Named::CrashAfterAck => crash_after_ack(bounds, 0, 1),
            Named::RecoveredFromOthers => recovered_from_others(bounds, 0, 1),
        }
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown prefix {0:?} (expected election-and-write, crash-after-ack or recovered-from-others)"
)]
pub struct UnknownPrefix(pub String);

impl FromStr for Named {
    type Err = UnknownPrefix;

    fn from_str(name: &str) -> Result<Named, UnknownPrefix> {
        Named::ALL
            .into_iter()
            .find(|n| n.name() == name)
            .ok_or_else(|| UnknownPrefix(name.to_string()))
    }
}

/// Rounds the driver gives an election before it gives up.
const ELECTION_ROUNDS: usize = 8;

/// Steps that elect `leader` and have it take client 0's write: a tick,
/// then rounds in which every frame in flight is delivered once (each
/// NIC's host taking its records at once), until `leader` leads; then the
/// write, and the leader's host taking what its NIC reported. The ACCEPTs
/// the NIC sent are left in flight. `None` if no such run exists within
/// `bounds` (every step is checked, as in a search).
pub fn election_and_write(bounds: &Bounds, leader: u8) -> Option<Vec<Action>> {
    let mut driver = Driver {
        world: World::initial(bounds),
        actions: Vec::new(),
        bounds,
    };
    driver.take(Action::Tick(leader))?;
    for _ in 0..ELECTION_ROUNDS {
        if driver.world.nodes[usize::from(leader)].role() == Role::Leader {
            break;
        }
        let frames: Vec<_> = driver.world.network.iter().cloned().collect();
        for frame in frames {
            if let Some(i) = driver.world.network.iter().position(|f| *f == frame) {
                driver.take(Action::Deliver(i))?;
                driver.drain(frame.to)?;
            }
        }
        for r in 0..bounds.replicas {
            driver.drain(r)?;
        }
    }
    if driver.world.nodes[usize::from(leader)].role() != Role::Leader {
        return None;
    }
    driver.take(Action::Client {
        client: 0,
        replica: leader,
    })?;
    driver.drain(leader)?;
    Some(driver.actions)
}

/// [`election_and_write`], then the leader's ACCEPT reaches `follower`,
/// whose NIC acks it (the ACCEPTED stays in flight), and `follower`
/// crashes before its host took the ACCEPT: the start of the scenario a
/// vote of a former life needs (`docs/protocol.md`, "Crash with amnesia").
/// What follows — the recovery, who answers it, which ACCEPTs and acks
/// arrive when — is left to the search. `None` if no such run exists
/// within `bounds`.
pub fn crash_after_ack(bounds: &Bounds, leader: u8, follower: u8) -> Option<Vec<Action>> {
    let mut driver = Driver {
        world: World::initial(bounds),
        actions: Vec::new(),
        bounds,
    };
    for action in election_and_write(bounds, leader)? {
        driver.take(action)?;
    }
    let accept = driver.world.network.iter().position(|frame| {
        frame.to == follower
            && matches!(
                frame_message(&frame.bytes),
                Some((from, Message::Accept { .. })) if from == leader
            )
    })?;
    driver.take(Action::Deliver(accept))?;
    driver.take(Action::Crash(follower))?;
    Some(driver.actions)
}

/// [`crash_after_ack`], then `follower`'s new life recovers from the
/// answers of every replica but the leader and itself, none of which took
/// the ACCEPT: each takes the request and answers it, and `follower`'s
/// host takes the answers. The leader's ACCEPTs to them, and the former
/// life's ACCEPTED, are still in flight; what they do is left to the
/// search. `None` if no such run exists within `bounds`.
pub fn recovered_from_others(bounds: &Bounds, leader: u8, follower: u8) -> Option<Vec<Action>> {
    let mut driver = Driver {
        world: World::initial(bounds),
        actions: Vec::new(),
        bounds,
    };
    for action in crash_after_ack(bounds, leader, follower)? {
        driver.take(action)?;
    }
    driver.take(Action::Tick(follower))?;
    for responder in (0..bounds.replicas).filter(|r| ![leader, follower].contains(r)) {
        let request = driver.world.network.iter().position(|frame| {
            frame.to == responder
                && matches!(
                    frame_message(&frame.bytes),
                    Some((from, Message::RecoveryRequest { .. })) if from == follower
                )
        })?;
        driver.take(Action::Deliver(request))?;
        driver.drain(responder)?;
    }
    while let Some(answer) = driver.world.network.iter().position(|frame| {
        frame.to == follower
            && matches!(
                frame_message(&frame.bytes),
                Some((_, Message::RecoveryResponse { .. }))
            )
    }) {
        driver.take(Action::Deliver(answer))?;
        driver.drain(follower)?;
    }
    Some(driver.actions)
}

struct Driver<'a> {
    world: World,
    actions: Vec<Action>,
    bounds: &'a Bounds,
}

impl Driver<'_> {
    /// Takes `action` if it is enabled (as a search would) and breaks
    /// nothing.
    fn take(&mut self, action: Action) -> Option<()> {
        if !self.world.actions(self.bounds).contains(&action) {
            return None;
        }
        match self.world.apply(self.bounds, action) {
            Outcome::Next(next) => {
                self.world = *next;
                self.actions.push(action);
                Some(())
            }
            Outcome::OutOfBounds | Outcome::Violation(_) => None,
        }
    }

    /// Replica `r`'s host takes every record its NIC wrote.
    fn drain(&mut self, r: u8) -> Option<()> {
        while !self.world.nodes[usize::from(r)].to_host.is_empty() {
            self.take(Action::Host(r))?;
        }
        Some(())
    }
}
