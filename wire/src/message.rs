//! The protocol's messages and their encoding as a riptide datagram.
//!
//! A datagram is the fixed riptide header ([`crate::layout::header`]) followed by
//! `payload_len` bytes of payload. Phase-2 messages (ACCEPT, ACCEPTED, COMMIT,
//! NACK) keep everything the fast path needs in the header so the hardware never
//! parses a payload; rare-path messages carry structured payloads.

use crate::DecodeError;

/// A Paxos ballot: `round << 8 | leader`. Ordered by round, then leader id, so
/// two replicas never pick the same ballot. Ballot 0 is "none yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ballot(pub u64);

impl Ballot {
    pub const ZERO: Ballot = Ballot(0);

    pub const fn new(round: u64, leader: u8) -> Ballot {
        Ballot(round << 8 | leader as u64)
    }
    pub const fn round(self) -> u64 {
        self.0 >> 8
    }
    pub const fn leader(self) -> u8 {
        self.0 as u8
    }
    /// The smallest ballot led by `leader` that is above `self`.
    pub const fn next_for(self, leader: u8) -> Ballot {
        Ballot::new(self.round() + 1, leader)
    }
}

/// Message type codes. Codes below 0x10 are phase 2: the fast path handles them.
/// Everything else is punted to host software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    Accept = 0x01,
    Accepted = 0x02,
    Commit = 0x03,
    Nack = 0x04,
    Prepare = 0x10,
    Promise = 0x11,
    CatchupRequest = 0x12,
    CatchupResponse = 0x13,
    RecoveryRequest = 0x14,
    RecoveryResponse = 0x15,
    ClientRequest = 0x20,
    ClientReply = 0x21,
}

/// A log entry as carried by rare-path messages: a value accepted at `ballot`
/// in `slot`. The value is opaque bytes to the wire format and the NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub slot: u64,
    pub ballot: Ballot,
    pub value: Vec<u8>,
}

/// A protocol message, without its envelope (group and sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Phase 2a: leader asks followers to accept `value` in `slot` at `ballot`.
    /// `commit` piggybacks the leader's commit index.
    Accept {
        ballot: Ballot,
        slot: u64,
        commit: u64,
        value: Vec<u8>,
    },
    /// Phase 2b: the sender accepted `slot` at `ballot`.
    Accepted { ballot: Ballot, slot: u64 },
    /// Heartbeat from the leader of `ballot`, carrying its commit index.
    Commit { ballot: Ballot, commit: u64 },
    /// The sender rejected a message about `slot` because it promised `ballot`,
    /// which is higher than the one the message carried.
    Nack { ballot: Ballot, slot: u64 },
    /// Phase 1a: a candidate asks for promises at `ballot`; `commit` is the
    /// candidate's commit index, so promises carry only entries above it.
    Prepare { ballot: Ballot, commit: u64 },
    /// Phase 1b: the sender promised `ballot`; `entries` are every accepted entry
    /// above the candidate's commit; `commit` is the sender's commit index.
    Promise {
        ballot: Ballot,
        commit: u64,
        entries: Vec<Entry>,
    },
    /// A lagging replica asks for chosen entries from slot `from` on.
    CatchupRequest { ballot: Ballot, from: u64 },
    /// Chosen entries (a contiguous run starting at the requested slot), and
    /// the sender's commit index.
    CatchupResponse {
        ballot: Ballot,
        commit: u64,
        entries: Vec<Entry>,
    },
    /// A restarted replica (state lost) asks the others for their state.
    /// `nonce` ties responses to this recovery attempt.
    RecoveryRequest { nonce: u64 },
    /// The sender's promised ballot, commit index and accepted log entries.
    RecoveryResponse {
        nonce: u64,
        ballot: Ballot,
        commit: u64,
        entries: Vec<Entry>,
    },
    /// A client command (opaque bytes, the state machine's encoding) with the
    /// client's id and request number for at-most-once execution.
    ClientRequest {
        client: u64,
        request: u64,
        command: Vec<u8>,
    },
    /// The outcome of a client request. `result` is `None` when the receiver
    /// did not execute it (not the leader); `leader` hints who is.
    ClientReply {
        client: u64,
        request: u64,
        leader: Option<u8>,
        result: Option<Vec<u8>>,
    },
}

/// A message with the header fields that say where it belongs and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub group: u16,
    pub sender: u8,
    pub message: Message,
}
