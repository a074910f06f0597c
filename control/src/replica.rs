//! The replica state machine. See `docs/protocol.md`.

use riptide_wire::Message;
use riptide_wire::host::{NicCommand, NicEvent};

use crate::kv::{Command, Reply};

/// Static configuration of one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// This replica's id, `0..replicas`.
    pub id: u8,
    /// Group size 2f+1.
    pub replicas: u8,
    pub group: u16,
    /// Seeds the replica's own randomness (election timeouts).
    pub seed: u64,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: u64,
    /// Election timeout is drawn uniformly from this range of ticks.
    pub election_ticks: (u64, u64),
    /// Ticks without commit progress before the leader retransmits.
    pub retransmit_ticks: u64,
    /// Most slots the leader keeps in flight.
    pub window: u64,
    /// Protocol variant; anything but [`Variant::Correct`] is a planted bug.
    pub variant: Variant,
}

/// Host-side protocol variants. The planted bugs exist so the checkers and the
/// fault search can prove they catch them; they are never on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    #[default]
    Correct,
    /// Send PROMISE before the NIC fence completes.
    PromiseBeforeFence,
    /// A new leader keeps its own log instead of the highest-ballot value per slot.
    LeaderLogWins,
}

/// What a replica is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Restarted with its state lost; collecting state before it may vote.
    Recovering,
    Follower,
    /// Running phase 1 for its own ballot.
    Candidate,
    Leader,
}

/// Inputs a replica reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One unit of logical time passed.
    Tick,
    /// A message from replica `from` (decoded from a punted frame or a socket).
    Receive { from: u8, message: Message },
    /// A record from this replica's NIC.
    Nic(NicEvent),
    /// A client request that reached this replica.
    Client {
        client: u64,
        request: u64,
        command: Command,
    },
}

/// Effects a replica asks its caller to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a message to replica `to`.
    Send { to: u8, message: Message },
    /// Command this replica's NIC.
    Nic(NicCommand),
    /// The entry in `slot` is chosen and was applied to the state machine, in
    /// slot order (the agreement checker watches these).
    Applied { slot: u64, value: Vec<u8> },
    /// Answer a client.
    Reply {
        client: u64,
        request: u64,
        reply: Reply,
    },
}

/// A snapshot of a replica's state for logs, status dumps and checkers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: u8,
    pub role: Role,
    pub promised: riptide_wire::Ballot,
    pub commit: u64,
    pub applied: u64,
}

pub struct Replica {}
