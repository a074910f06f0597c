//! Records between the host and the NIC: the commands host software gives its
//! NIC (host-to-card) and the events the NIC reports (card-to-host).
//!
//! Every NIC backend (the behavioural model, the RTL simulation, the Alveo board
//! over VFIO) speaks exactly these records, so the control plane cannot tell them
//! apart.

use crate::message::Ballot;
use crate::regs::MAX_REPLICAS;

/// What the NIC's fast path does with phase-2 traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NicRole {
    /// Fast path off: every frame is punted to software, nothing is acked.
    Idle,
    /// Accept in-order ACCEPTs of the programmed ballot and ack them.
    Follower,
    /// Assign slots to submitted entries, fan ACCEPTs out, count ACCEPTEDs.
    Leader,
}

/// A full programming of the fast path, written by host software when its
/// role or ballot changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicConfig {
    pub role: NicRole,
    pub ballot: Ballot,
    /// Follower: the next slot expected from the leader; leader: the next slot
    /// to assign to a submitted entry.
    pub next_slot: u64,
    /// The commit index known to software.
    pub commit: u64,
    /// Number of replicas in the group (3 or 5, up to 8).
    pub replicas: u8,
    /// Leader: the most slots in flight (assigned, not yet committed).
    pub window: u64,
    /// The lives table, indexed by replica id: the `LIFE` byte of each
    /// replica's newest incarnation the host knows. Phase-2 frames from an
    /// older life are dropped; this replica's own entry is the `LIFE` of the
    /// frames the NIC builds.
    pub lives: [u8; MAX_REPLICAS],
}

/// Host-to-card commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicCommand {
    /// Reprogram the fast path.
    Configure(NicConfig),
    /// From now on ack nothing below `ballot`; report [`NicEvent::FenceDone`]
    /// once every entry acked so far is visible to host software.
    Fence { ballot: Ballot },
    /// Leader: replicate `value` in the next slot.
    Submit { value: Vec<u8> },
    /// Leader: send a COMMIT (heartbeat) frame with the commit index to every
    /// follower now.
    Heartbeat,
    /// Send a datagram built by host software (a rare-path message, or a
    /// phase-2 message sent by software) to replica `to`, as-is.
    Transmit { to: u8, datagram: Vec<u8> },
}

/// Card-to-host events, delivered to host software in the order the NIC
/// produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicEvent {
    /// The NIC accepted (and acked, or is about to ack) `value` in `slot` at
    /// `ballot`. On the leader, reported for each submitted entry as it is
    /// assigned its slot.
    Accepted {
        ballot: Ballot,
        slot: u64,
        value: Vec<u8>,
    },
    /// Every slot up to `commit` is chosen, as learned under `ballot` (by
    /// counting a quorum on the leader, from the leader's ACCEPT/COMMIT
    /// frames on a follower).
    Committed { ballot: Ballot, commit: u64 },
    /// The fence at `ballot` is complete: nothing below it will be acked, and
    /// every entry acked before it precedes this event.
    FenceDone { ballot: Ballot },
}

/// One record on the card-to-host stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardToHost {
    /// An event of the fast path.
    Event(NicEvent),
    /// A frame the fast path does not handle (rare-path type, higher ballot,
    /// slot gap, …), passed up whole for software to decode and handle.
    Punted(Vec<u8>),
}
