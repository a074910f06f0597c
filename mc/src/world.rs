//! The checked system: every replica (control plane + NIC model + the
//! card-to-host stream), the network, the clients, and the ghost state; the
//! actions that move it; one step with every property checked.
//!
//! The network is a set of frames in flight, delivered in any order
//! (reordering) or never (loss: for safety, a frame never delivered is a
//! lost frame). Delivery takes a frame out of the set; a copy delivered while
//! the frame stays in it is a duplicate, bounded by `Bounds::duplicates`.
//! The protocol's own retransmissions put identical frames back, so those
//! arrive again whatever the bound. (An unbounded duplicating network, where
//! delivery never removes, lets every card-to-host queue fill with every
//! sequence of stale records: the state space has no end.)

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use riptide_control::kv::Reply;
use riptide_control::{Input, Output, Role};
use riptide_wire::Message;
use riptide_wire::host::NicCommand;

use crate::bounds::Bounds;
use crate::fingerprint::HashWriter;
use crate::node::{Frames, Node, frame_message};
use crate::properties::{
    Ghost, Property, Violation, check_durability, check_fence, check_leader_completeness,
    check_store, client_id, client_write,
};
use crate::refinement::{AbstractLog, check_step};

/// A frame on the wire, for replica `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame {
    pub to: u8,
    pub bytes: Vec<u8>,
}

/// One thing that can happen next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A unit of time passes at one replica.
    Tick(u8),
    /// One replica's host takes the next card-to-host record.
    Host(u8),
    /// The `i`-th frame of the network (in its order) reaches its NIC and
    /// leaves the network.
    Deliver(usize),
    /// A copy of the `i`-th frame reaches its NIC and the frame stays in
    /// the network: the network duplicated it (bounded by
    /// `Bounds::duplicates`).
    Duplicate(usize),
    /// Client `client` sends (or resends) its write to `replica`.
    Client { client: u8, replica: u8 },
    /// A replica crashes, losing everything (NIC included), and restarts
    /// with amnesia.
    Crash(u8),
}

/// What a step led to.
#[derive(Debug)]
pub enum Outcome {
    Next(Box<World>),
    /// Past a bound: not explored further.
    OutOfBounds,
    Violation(Violation),
}

#[derive(Debug, Clone)]
pub struct World {
    pub nodes: Vec<Node>,
    pub network: BTreeSet<Frame>,
    /// Clients that sent their write at least once.
    pub invoked: BTreeSet<u8>,
    pub crashes: u32,
    /// Frames the network duplicated so far.
    pub duplicates: u32,
    pub ghost: Ghost,
    /// The last delivery wrote a card-to-host record identical to one its
    /// host has not taken yet (not part of the state; see `out_of_bounds`).
    duplicate_record: bool,
    /// What the last step did beyond its replica's control plane (not part
    /// of the state): the partial-order reduction asks (`reduction.rs`).
    pub(crate) effects: Effects,
}

/// What one step did to the NIC and the network (not part of the state).
#[derive(Debug, Clone, Default)]
pub(crate) struct Effects {
    /// Host software gave its NIC a command other than `Transmit`.
    pub nic_programmed: bool,
    /// Frames put on the network, in order (merged ones included).
    pub sent: Vec<Frame>,
}

impl World {
    pub fn initial(bounds: &Bounds) -> World {
        World {
            nodes: (0..bounds.replicas)
                .map(|id| Node::boot(bounds, id))
                .collect(),
            network: BTreeSet::new(),
            invoked: BTreeSet::new(),
            crashes: 0,
            duplicates: 0,
            ghost: Ghost::default(),
            duplicate_record: false,
            effects: Effects::default(),
        }
    }

    /// The canonical state's fingerprint: the nodes' cached ones, the
    /// network (a set, so in canonical order), clients, crashes, ghost.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::Hash;
        let mut h = HashWriter::new();
        for node in &self.nodes {
            node.fingerprint().hash(&mut h.0);
        }
        self.network.hash(&mut h.0);
        self.invoked.hash(&mut h.0);
        self.crashes.hash(&mut h.0);
        self.duplicates.hash(&mut h.0);
        self.ghost.hash(&mut h.0);
        h.finish()
    }

    /// Every action enabled here, in a fixed order.
    pub fn actions(&self, bounds: &Bounds) -> Vec<Action> {
        let mut actions = Vec::new();
        for node in &self.nodes {
            if !node.to_host.is_empty() {
                actions.push(Action::Host(node.id()));
            }
        }
        // A frame for a NIC whose card-to-host queue is full is not
        // delivered: the hardware drops it (`drop_overflow`), and a frame
        // never delivered is a lost frame, which the search covers anyway.
        let room: Vec<bool> = self
            .nodes
            .iter()
            .map(|n| n.to_host.len() < bounds.host_queue)
            .collect();
        let deliverable: Vec<usize> = self
            .network
            .iter()
            .enumerate()
            .filter(|(_, frame)| room[usize::from(frame.to)])
            .map(|(i, _)| i)
            .collect();
        actions.extend(deliverable.iter().copied().map(Action::Deliver));
        if self.duplicates < bounds.duplicates {
            actions.extend(deliverable.iter().copied().map(Action::Duplicate));
        }
        for node in &self.nodes {
            actions.push(Action::Tick(node.id()));
        }
        // A client's write only does something at a leader: anyone else
        // answers `NotLeader` and changes nothing, so sending it there is a
        // stutter the checker does not take (the client's retry at the
        // leader is explored instead).
        for client in 0..bounds.clients {
            if !self.ghost.acked.contains(&client) {
                for node in self.nodes.iter().filter(|n| n.role() == Role::Leader) {
                    actions.push(Action::Client {
                        client,
                        replica: node.id(),
                    });
                }
            }
        }
        if self.crashes < bounds.crashes {
            let f = usize::from(bounds.replicas) / 2;
            for node in &self.nodes {
                let others_without_state = self
                    .nodes
                    .iter()
                    .filter(|n| n.id() != node.id() && !n.replica.recovered())
                    .count();
                // Like the simulator: never more than f replicas without
                // their state at once (past that no protocol without stable
                // storage keeps chosen values; `docs/protocol.md`).
                if others_without_state < f {
                    actions.push(Action::Crash(node.id()));
                }
            }
        }
        actions
    }

    /// Takes `action`, checking every property on the way.
    pub fn apply(&self, bounds: &Bounds, action: Action) -> Outcome {
        let mut next = self.clone();
        next.duplicate_record = false;
        next.effects = Effects::default();
        if let Err(violation) = next.take(bounds, action) {
            return Outcome::Violation(violation);
        }
        next.note_ballots();
        if let Err(violation) = next.check_state(bounds, self, action) {
            return Outcome::Violation(violation);
        }
        if next.out_of_bounds(bounds) {
            return Outcome::OutOfBounds;
        }
        Outcome::Next(Box::new(next))
    }

    fn take(&mut self, bounds: &Bounds, action: Action) -> Result<(), Violation> {
        match action {
            Action::Tick(r) => self.step(r, Input::Tick),
            Action::Host(r) => {
                let node = &mut self.nodes[usize::from(r)];
                let record = node.to_host.pop_front();
                node.refresh_fingerprint();
                match record.and_then(Node::host_input) {
                    Some(input) => self.step(r, input),
                    None => Ok(()),
                }
            }
            Action::Deliver(i) | Action::Duplicate(i) => {
                let Some(frame) = self.network.iter().nth(i).cloned() else {
                    return Ok(());
                };
                if let Action::Deliver(_) = action {
                    self.network.remove(&frame);
                } else {
                    self.duplicates += 1;
                }
                let node = &mut self.nodes[usize::from(frame.to)];
                let pending = node.to_host.len();
                let frames = node.receive(&frame.bytes);
                node.refresh_fingerprint();
                self.duplicate_record |= node
                    .to_host
                    .iter()
                    .skip(pending)
                    .any(|new| node.to_host.iter().take(pending).any(|old| old == new));
                self.send(frames);
                Ok(())
            }
            Action::Client { client, replica } => {
                self.invoked.insert(client);
                let input = Input::Client {
                    client: client_id(client),
                    request: 1,
                    command: client_write(client),
                };
                self.step(replica, input)
            }
            Action::Crash(r) => {
                self.crashes += 1;
                let old = &self.nodes[usize::from(r)];
                let (before, restarts) = (old.replica.incarnation(), old.restarts + 1);
                let new = Node::restarted(bounds, r, restarts);
                if new.replica.incarnation() <= before {
                    return Err(Violation::new(
                        Property::IncarnationsNeverGoBack,
                        format!(
                            "replica {r} restarted as incarnation {} after {before}",
                            new.replica.incarnation()
                        ),
                    ));
                }
                self.nodes[usize::from(r)] = new;
                Ok(())
            }
        }
    }

    /// Takes `action` without checking properties (the liveness extension
    /// runs past the bounds, and with a client the ghost does not know).
    pub(crate) fn take_unchecked(&mut self, bounds: &Bounds, action: Action) {
        let _ = self.take(bounds, action);
    }

    /// Steps replica `r` without checking properties.
    pub(crate) fn step_unchecked(&mut self, r: u8, input: Input) {
        let _ = self.step(r, input);
    }

    fn send(&mut self, frames: Frames) {
        for (to, bytes) in frames {
            let frame = Frame { to, bytes };
            self.effects.sent.push(frame.clone());
            self.network.insert(frame);
        }
    }

    /// Steps replica `r`'s control plane and carries out its outputs in order.
    fn step(&mut self, r: u8, input: Input) -> Result<(), Violation> {
        let index = usize::from(r);
        let node = &mut self.nodes[index];
        let lives_before = node.replica.lives().to_vec();
        let applied_before = node.replica.applied();
        let outputs = catch_unwind(AssertUnwindSafe(|| node.step(input))).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Violation::new(
                Property::ReplicaInvariants,
                format!("replica {r} panicked: {message}"),
            )
        })?;
        check_leader_completeness(&self.nodes[index], &outputs, &self.ghost)?;
        for output in outputs {
            match output {
                Output::Send { to, message } => {
                    if let Message::Promise { ballot, .. } = &message {
                        check_fence(&self.nodes[index], *ballot)?;
                    }
                    let node = &mut self.nodes[index];
                    let command = node.transmit(to, message);
                    let frames = node.command(command);
                    self.send(frames);
                }
                Output::Nic(command) => {
                    if !matches!(command, NicCommand::Transmit { .. }) {
                        self.effects.nic_programmed = true;
                    }
                    let frames = self.nodes[index].command(command);
                    self.send(frames);
                }
                Output::Applied { slot, value } => {
                    let ballot = self.nodes[index]
                        .replica
                        .entries()
                        .find(|(s, _)| *s == slot)
                        .map(|(_, entry)| entry.ballot);
                    self.ghost.learn(r, slot, &value, ballot)?;
                }
                Output::Reply {
                    client,
                    reply: Reply::Done,
                    ..
                } => {
                    if let Some(c) = client.checked_sub(1).and_then(|c| u8::try_from(c).ok()) {
                        self.ghost.acked.insert(c);
                    }
                }
                Output::Reply { .. } => {}
                // The bounds keep runs far below the snapshot interval.
                Output::Installed { .. } => {}
            }
        }
        let node = &self.nodes[index];
        for (slot, entry) in node.replica.entries().filter(|(_, e)| e.chosen) {
            self.ghost
                .learn(r, slot, &entry.value, Some(entry.ballot))?;
        }
        if let Some(went_back) = lives_before
            .iter()
            .zip(node.replica.lives())
            .position(|(before, after)| after < before)
        {
            return Err(Violation::new(
                Property::IncarnationsNeverGoBack,
                format!(
                    "replica {r}'s crash vector went back at {went_back}: {lives_before:?} -> {:?}",
                    node.replica.lives()
                ),
            ));
        }
        if node.replica.applied() != applied_before {
            check_store(node, &self.ghost)?;
        }
        self.nodes[index].refresh_fingerprint();
        Ok(())
    }

    /// Properties of the whole state after a step from `before`.
    fn check_state(
        &self,
        bounds: &Bounds,
        before: &World,
        action: Action,
    ) -> Result<(), Violation> {
        check_durability(&self.nodes, &self.ghost, bounds.quorum())?;
        let from = AbstractLog::of(before, bounds);
        let to = AbstractLog::of(self, bounds);
        let retried = match action {
            Action::Client { client, .. } => Some(client),
            _ => None,
        };
        check_step(&from, &to, retried)
    }

    /// Records the ballots in use (the ghost's `ballots`).
    fn note_ballots(&mut self) {
        for node in &self.nodes {
            for ballot in [node.replica.status().promised, node.nic.fence()] {
                if ballot != riptide_wire::Ballot::ZERO {
                    self.ghost.ballots.insert(ballot);
                }
            }
        }
    }

    /// Whether a step is not taken: it went past a bound, or it delivered
    /// a duplicate frame whose record duplicates one still waiting for the
    /// host. Without that rule the network's duplication would grow the
    /// card-to-host queues without end (a COMMIT writes a record on every
    /// arrival); with it, the same duplicate is delivered once the host
    /// took the first copy, and the host sees the same sequence of records.
    fn out_of_bounds(&self, bounds: &Bounds) -> bool {
        self.duplicate_record
            || self.ghost.ballots.len() as u64 > bounds.ballots
            || self.nodes.iter().any(|node| {
                node.replica
                    .entries()
                    .last()
                    .is_some_and(|(s, _)| s > bounds.slots)
                    || node.nic.config().next_slot > bounds.slots + 1
            })
    }

    /// An action, readable, with the message a delivered frame carries.
    pub fn describe(&self, action: Action) -> String {
        let mut out = String::new();
        let _ = match action {
            Action::Tick(r) => write!(out, "tick r{r}"),
            Action::Host(r) => match self.nodes[usize::from(r)].to_host.front() {
                Some(record) => write!(out, "r{r} host takes {}", describe_record(record)),
                None => write!(out, "r{r} host takes nothing"),
            },
            Action::Deliver(i) | Action::Duplicate(i) => match self.network.iter().nth(i) {
                Some(frame) => match frame_message(&frame.bytes) {
                    Some((from, message)) => {
                        let verb = match action {
                            Action::Duplicate(_) => "duplicate",
                            _ => "deliver",
                        };
                        write!(out, "{verb} r{from} -> r{}: {message:?}", frame.to)
                    }
                    None => write!(out, "deliver an undecodable frame to r{}", frame.to),
                },
                None => write!(out, "deliver nothing"),
            },
            Action::Client { client, replica } => {
                write!(
                    out,
                    "client {} sends its write to r{replica}",
                    client_id(client)
                )
            }
            Action::Crash(r) => write!(out, "crash r{r} (restarts with amnesia)"),
        };
        out
    }
}

fn describe_record(record: &riptide_wire::host::CardToHost) -> String {
    use riptide_wire::host::CardToHost;
    match record {
        CardToHost::Event(event) => format!("{event:?}"),
        CardToHost::Punted(frame) => match frame_message(frame) {
            Some((from, message)) => format!("punted from r{from}: {message:?}"),
            None => "an undecodable punted frame".into(),
        },
    }
}
