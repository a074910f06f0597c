//! The protocol's messages and their encoding as a riptide datagram.
//!
//! A datagram is the fixed riptide header ([`crate::layout::header`]) followed by
//! `payload_len` bytes of payload. Phase-2 messages (ACCEPT, ACCEPTED, COMMIT,
//! NACK) keep everything the fast path needs in the header so the hardware never
//! parses a payload; rare-path messages carry structured payloads.
//!
//! The encoding is canonical: a datagram decodes only if encoding the decoded
//! message gives back the same bytes. Header fields a message type does not use
//! are 0, bodies are exact (no slack, no trailing bytes), so a decoder never has
//! to guess and two replicas never disagree on what a datagram says.

use crate::DecodeError;
use crate::error::EncodeError;
use crate::layout::{self, Field, MAX_PAYLOAD, RIPTIDE_HEADER_LEN, header};

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
    SnapshotRequest = 0x16,
    SnapshotChunk = 0x17,
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
    /// `lives` is the sender's crash vector ([`crate::life`]).
    Prepare {
        ballot: Ballot,
        commit: u64,
        lives: Vec<u32>,
    },
    /// Phase 1b: the sender promised `ballot`; `entries` are every accepted entry
    /// above the candidate's commit; `commit` is the sender's commit index.
    Promise {
        ballot: Ballot,
        commit: u64,
        lives: Vec<u32>,
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
    /// `nonce` ties responses to this recovery attempt; `lives` announces
    /// the sender's new incarnation (its own entry).
    RecoveryRequest { nonce: u64, lives: Vec<u32> },
    /// The sender's promised ballot, commit index and accepted log entries,
    /// sent once its NIC fenced for this recovery. In `lives`, the
    /// recovering replica's own entry is what the sender knew of it before
    /// this nonce (`docs/protocol.md`, "Crash with amnesia").
    RecoveryResponse {
        nonce: u64,
        ballot: Ballot,
        commit: u64,
        lives: Vec<u32>,
        entries: Vec<Entry>,
    },
    /// A replica downloading the snapshot that covers slots up to `slot` asks
    /// for its bytes from `offset` on (`docs/protocol.md`, "Snapshots").
    SnapshotRequest {
        ballot: Ballot,
        slot: u64,
        offset: u64,
    },
    /// Part of the sender's snapshot of every slot up to `slot`: `data` is
    /// its bytes from `offset`, of `total`; `commit` is the sender's commit.
    SnapshotChunk {
        ballot: Ballot,
        slot: u64,
        commit: u64,
        total: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// A client command (opaque bytes, the state machine's encoding) with the
    /// client's id and request number for at-most-once execution. `cookie`
    /// is the receiving replica's proof of the client's address (0: none
    /// yet): a replica answers an unproven address with no more bytes than
    /// it received, and with a cookie when the answer is larger.
    ClientRequest {
        client: u64,
        request: u64,
        cookie: u64,
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
    /// The low 8 bits of the sender's incarnation ([`crate::life`]).
    pub life: u8,
    pub message: Message,
}

impl Envelope {
    /// The datagram for this message.
    ///
    /// # Panics
    /// If the payload exceeds [`MAX_PAYLOAD`] (a value or entry list too big for
    /// one datagram); callers that cannot bound it use [`Envelope::try_encode`].
    pub fn encode(&self) -> Vec<u8> {
        match self.try_encode() {
            Ok(datagram) => datagram,
            Err(error) => panic!("cannot encode {:?}: {error}", self.message.msg_type()),
        }
    }

    /// The datagram for this message, or why it does not fit one.
    pub fn try_encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut datagram = vec![0; RIPTIDE_HEADER_LEN];
        self.message.encode_payload(&mut datagram);
        let payload_len = datagram.len() - RIPTIDE_HEADER_LEN;
        if payload_len > MAX_PAYLOAD {
            return Err(EncodeError::Oversize {
                len: payload_len,
                max: MAX_PAYLOAD,
            });
        }
        let values = self.message.header_values();
        let header = Header {
            version: layout::VERSION,
            msg_type: self.message.msg_type().code(),
            group: self.group,
            sender: self.sender,
            life: self.life,
            // Fits: MAX_PAYLOAD < 2^16.
            payload_len: payload_len as u16,
            ballot: values.ballot,
            slot: values.slot,
            commit: values.commit,
        };
        datagram[..RIPTIDE_HEADER_LEN].copy_from_slice(&header.encode());
        Ok(datagram)
    }

    /// Decodes and validates a datagram (untrusted bytes) addressed to
    /// `group`. Checks, in order: length, version, type, group, payload
    /// length, and unused header fields, body; the first
    /// failure is the error (and the counter a receiver bumps).
    pub fn decode(datagram: &[u8], group: u16) -> Result<Envelope, DecodeError> {
        let header = Header::decode(datagram)?;
        if header.version != layout::VERSION {
            return Err(DecodeError::BadVersion {
                version: header.version,
                expected: layout::VERSION,
            });
        }
        let msg_type = MsgType::from_u8(header.msg_type)?;
        if header.group != group {
            return Err(DecodeError::WrongGroup {
                group: header.group,
                expected: group,
            });
        }
        let payload = &datagram[RIPTIDE_HEADER_LEN..];
        let declared = usize::from(header.payload_len);
        if declared != payload.len() {
            return Err(DecodeError::PayloadLenMismatch {
                declared,
                present: payload.len(),
            });
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(DecodeError::Oversize {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        header.check_unused_fields(msg_type)?;
        let message = Message::decode_payload(msg_type, &header, payload)?;
        Ok(Envelope {
            group: header.group,
            sender: header.sender,
            life: header.life,
            message,
        })
    }
}

/// The fixed riptide header, field for field as on the wire
/// ([`layout::header`]). Raw: nothing is validated but its length, so tests and
/// testbenches can build headers that receivers must reject;
/// [`Envelope::decode`] does the validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    pub version: u8,
    /// A [`MsgType`] code, or any other byte.
    pub msg_type: u8,
    pub group: u16,
    pub sender: u8,
    /// [`layout::header::LIFE`].
    pub life: u8,
    pub payload_len: u16,
    pub ballot: Ballot,
    pub slot: u64,
    pub commit: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; RIPTIDE_HEADER_LEN] {
        let mut bytes = [0; RIPTIDE_HEADER_LEN];
        header::VERSION.set(&mut bytes, self.version.into());
        header::MSG_TYPE.set(&mut bytes, self.msg_type.into());
        header::GROUP.set(&mut bytes, self.group.into());
        header::SENDER.set(&mut bytes, self.sender.into());
        header::LIFE.set(&mut bytes, self.life.into());
        header::PAYLOAD_LEN.set(&mut bytes, self.payload_len.into());
        header::BALLOT.set(&mut bytes, self.ballot.0);
        header::SLOT.set(&mut bytes, self.slot);
        header::COMMIT.set(&mut bytes, self.commit);
        bytes
    }

    /// Reads the header at the start of `datagram` (whatever follows it is
    /// left alone). Fails only if the datagram is shorter than a header.
    pub fn decode(datagram: &[u8]) -> Result<Header, DecodeError> {
        if datagram.len() < RIPTIDE_HEADER_LEN {
            return Err(DecodeError::Short {
                len: datagram.len(),
                need: RIPTIDE_HEADER_LEN,
            });
        }
        // The `as` casts narrow each value to its field's own width.
        Ok(Header {
            version: header::VERSION.get(datagram) as u8,
            msg_type: header::MSG_TYPE.get(datagram) as u8,
            group: header::GROUP.get(datagram) as u16,
            sender: header::SENDER.get(datagram) as u8,
            life: header::LIFE.get(datagram) as u8,
            payload_len: header::PAYLOAD_LEN.get(datagram) as u16,
            ballot: Ballot(header::BALLOT.get(datagram)),
            slot: header::SLOT.get(datagram),
            commit: header::COMMIT.get(datagram),
        })
    }

    /// Ballot, slot and commit must be 0 where the type gives them no meaning,
    /// so the encoding stays canonical.
    fn check_unused_fields(&self, msg_type: MsgType) -> Result<(), DecodeError> {
        let values = [
            (header::BALLOT, self.ballot.0),
            (header::SLOT, self.slot),
            (header::COMMIT, self.commit),
        ];
        let used = msg_type.header_fields();
        match values
            .iter()
            .find(|(field, value)| *value != 0 && !used.contains(field))
        {
            Some((field, _)) => Err(DecodeError::UnusedNonZero { field: field.name }),
            None => Ok(()),
        }
    }
}

impl MsgType {
    /// Every type, in code order.
    pub const ALL: [MsgType; 14] = [
        MsgType::Accept,
        MsgType::Accepted,
        MsgType::Commit,
        MsgType::Nack,
        MsgType::Prepare,
        MsgType::Promise,
        MsgType::CatchupRequest,
        MsgType::CatchupResponse,
        MsgType::RecoveryRequest,
        MsgType::RecoveryResponse,
        MsgType::SnapshotRequest,
        MsgType::SnapshotChunk,
        MsgType::ClientRequest,
        MsgType::ClientReply,
    ];

    pub fn from_u8(code: u8) -> Result<MsgType, DecodeError> {
        MsgType::ALL
            .into_iter()
            .find(|t| t.code() == code)
            .ok_or(DecodeError::UnknownType { code })
    }

    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The protocol's name of the type, as docs and logs spell it.
    pub const fn name(self) -> &'static str {
        match self {
            MsgType::Accept => "ACCEPT",
            MsgType::Accepted => "ACCEPTED",
            MsgType::Commit => "COMMIT",
            MsgType::Nack => "NACK",
            MsgType::Prepare => "PREPARE",
            MsgType::Promise => "PROMISE",
            MsgType::CatchupRequest => "CATCHUP_REQUEST",
            MsgType::CatchupResponse => "CATCHUP_RESPONSE",
            MsgType::RecoveryRequest => "RECOVERY_REQUEST",
            MsgType::RecoveryResponse => "RECOVERY_RESPONSE",
            MsgType::SnapshotRequest => "SNAPSHOT_REQUEST",
            MsgType::SnapshotChunk => "SNAPSHOT_CHUNK",
            MsgType::ClientRequest => "CLIENT_REQUEST",
            MsgType::ClientReply => "CLIENT_REPLY",
        }
    }

    /// Phase 2: everything but an ACCEPT's value is in the header.
    pub const fn is_phase2(self) -> bool {
        self.code() < layout::PHASE2_TYPE_LIMIT
    }

    /// Whether a NIC in follower or leader role acts on a frame of this type
    /// itself (it may still punt one, e.g. of a higher ballot); every other
    /// type always goes to host software. NACK is phase 2 (the NIC sends it)
    /// but is always punted on receipt.
    pub const fn handled_by_nic(self) -> bool {
        matches!(self, MsgType::Accept | MsgType::Accepted | MsgType::Commit)
    }

    /// The header fields (of ballot, slot, commit) this type gives a meaning;
    /// the others are 0 on the wire.
    pub const fn header_fields(self) -> &'static [Field] {
        use header::{BALLOT, COMMIT, SLOT};
        match self {
            MsgType::Accept => &[BALLOT, SLOT, COMMIT],
            MsgType::Accepted
            | MsgType::Nack
            | MsgType::CatchupRequest
            | MsgType::SnapshotRequest => &[BALLOT, SLOT],
            MsgType::SnapshotChunk => &[BALLOT, SLOT, COMMIT],
            MsgType::Commit
            | MsgType::Prepare
            | MsgType::Promise
            | MsgType::CatchupResponse
            | MsgType::RecoveryResponse => &[BALLOT, COMMIT],
            MsgType::RecoveryRequest | MsgType::ClientRequest | MsgType::ClientReply => &[],
        }
    }

    /// The payload, in the grammar of [`body::GRAMMAR`].
    pub const fn payload(self) -> &'static str {
        match self {
            MsgType::Accept => "value: all of the payload, raw",
            MsgType::Accepted | MsgType::Commit | MsgType::Nack | MsgType::CatchupRequest => {
                "empty"
            }
            MsgType::Prepare => "lives",
            MsgType::Promise => "lives, entries",
            MsgType::CatchupResponse => "entries",
            MsgType::RecoveryRequest => "nonce: u64, lives",
            MsgType::RecoveryResponse => "nonce: u64, lives, entries",
            MsgType::SnapshotRequest => "offset: u64",
            MsgType::SnapshotChunk => "total: u64, offset: u64, data: bytes",
            MsgType::ClientRequest => "client: u64, request: u64, cookie: u64, command: bytes",
            MsgType::ClientReply => {
                "client: u64, request: u64, leader: option<u8>, result: option<bytes>"
            }
        }
    }
}

/// What a message puts in the header's ballot, slot and commit fields.
#[derive(Default)]
struct HeaderValues {
    ballot: Ballot,
    slot: u64,
    commit: u64,
}

impl Message {
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Accept { .. } => MsgType::Accept,
            Message::Accepted { .. } => MsgType::Accepted,
            Message::Commit { .. } => MsgType::Commit,
            Message::Nack { .. } => MsgType::Nack,
            Message::Prepare { .. } => MsgType::Prepare,
            Message::Promise { .. } => MsgType::Promise,
            Message::CatchupRequest { .. } => MsgType::CatchupRequest,
            Message::CatchupResponse { .. } => MsgType::CatchupResponse,
            Message::RecoveryRequest { .. } => MsgType::RecoveryRequest,
            Message::RecoveryResponse { .. } => MsgType::RecoveryResponse,
            Message::SnapshotRequest { .. } => MsgType::SnapshotRequest,
            Message::SnapshotChunk { .. } => MsgType::SnapshotChunk,
            Message::ClientRequest { .. } => MsgType::ClientRequest,
            Message::ClientReply { .. } => MsgType::ClientReply,
        }
    }

    /// Must agree with [`MsgType::header_fields`]: decoding rejects a value in
    /// a field the type does not use.
    fn header_values(&self) -> HeaderValues {
        match *self {
            Message::Accept {
                ballot,
                slot,
                commit,
                ..
            } => HeaderValues {
                ballot,
                slot,
                commit,
            },
            Message::SnapshotChunk {
                ballot,
                slot,
                commit,
                ..
            } => HeaderValues {
                ballot,
                slot,
                commit,
            },
            Message::Accepted { ballot, slot }
            | Message::Nack { ballot, slot }
            | Message::CatchupRequest { ballot, from: slot }
            | Message::SnapshotRequest { ballot, slot, .. } => HeaderValues {
                ballot,
                slot,
                commit: 0,
            },
            Message::Commit { ballot, commit }
            | Message::Prepare { ballot, commit, .. }
            | Message::Promise { ballot, commit, .. }
            | Message::CatchupResponse { ballot, commit, .. }
            | Message::RecoveryResponse { ballot, commit, .. } => HeaderValues {
                ballot,
                slot: 0,
                commit,
            },
            Message::RecoveryRequest { .. }
            | Message::ClientRequest { .. }
            | Message::ClientReply { .. } => HeaderValues::default(),
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Message::Accept { value, .. } => out.extend_from_slice(value),
            Message::Accepted { .. }
            | Message::Commit { .. }
            | Message::Nack { .. }
            | Message::CatchupRequest { .. } => {}
            Message::Prepare { lives, .. } => body::put_lives(out, lives),
            Message::Promise { lives, entries, .. } => {
                body::put_lives(out, lives);
                body::put_entries(out, entries);
            }
            Message::CatchupResponse { entries, .. } => body::put_entries(out, entries),
            Message::RecoveryRequest { nonce, lives } => {
                body::put_u64(out, *nonce);
                body::put_lives(out, lives);
            }
            Message::RecoveryResponse {
                nonce,
                lives,
                entries,
                ..
            } => {
                body::put_u64(out, *nonce);
                body::put_lives(out, lives);
                body::put_entries(out, entries);
            }
            Message::SnapshotRequest { offset, .. } => body::put_u64(out, *offset),
            Message::SnapshotChunk {
                total,
                offset,
                data,
                ..
            } => {
                body::put_u64(out, *total);
                body::put_u64(out, *offset);
                body::put_bytes(out, data);
            }
            Message::ClientRequest {
                client,
                request,
                cookie,
                command,
            } => {
                body::put_u64(out, *client);
                body::put_u64(out, *request);
                body::put_u64(out, *cookie);
                body::put_bytes(out, command);
            }
            Message::ClientReply {
                client,
                request,
                leader,
                result,
            } => {
                body::put_u64(out, *client);
                body::put_u64(out, *request);
                body::put_option(out, leader.as_ref(), |out, &id| out.push(id));
                body::put_option(out, result.as_ref(), |out, bytes| {
                    body::put_bytes(out, bytes)
                });
            }
        }
    }

    fn decode_payload(
        msg_type: MsgType,
        header: &Header,
        payload: &[u8],
    ) -> Result<Message, DecodeError> {
        let Header {
            ballot,
            slot,
            commit,
            ..
        } = *header;
        let mut body = body::Reader::new(payload);
        // Struct fields are evaluated in the order written, which is the order
        // they are on the wire.
        let message = match msg_type {
            MsgType::Accept => Message::Accept {
                ballot,
                slot,
                commit,
                value: body.rest(),
            },
            MsgType::Accepted => Message::Accepted { ballot, slot },
            MsgType::Commit => Message::Commit { ballot, commit },
            MsgType::Nack => Message::Nack { ballot, slot },
            MsgType::Prepare => Message::Prepare {
                ballot,
                commit,
                lives: body.lives()?,
            },
            MsgType::Promise => Message::Promise {
                ballot,
                commit,
                lives: body.lives()?,
                entries: body.entries()?,
            },
            MsgType::CatchupRequest => Message::CatchupRequest { ballot, from: slot },
            MsgType::CatchupResponse => Message::CatchupResponse {
                ballot,
                commit,
                entries: body.entries()?,
            },
            MsgType::RecoveryRequest => Message::RecoveryRequest {
                nonce: body.u64()?,
                lives: body.lives()?,
            },
            MsgType::RecoveryResponse => Message::RecoveryResponse {
                nonce: body.u64()?,
                ballot,
                commit,
                lives: body.lives()?,
                entries: body.entries()?,
            },
            MsgType::SnapshotRequest => Message::SnapshotRequest {
                ballot,
                slot,
                offset: body.u64()?,
            },
            MsgType::SnapshotChunk => Message::SnapshotChunk {
                ballot,
                slot,
                commit,
                total: body.u64()?,
                offset: body.u64()?,
                data: body.bytes()?,
            },
            MsgType::ClientRequest => Message::ClientRequest {
                client: body.u64()?,
                request: body.u64()?,
                cookie: body.u64()?,
                command: body.bytes()?,
            },
            MsgType::ClientReply => Message::ClientReply {
                client: body.u64()?,
                request: body.u64()?,
                leader: body.option(body::Reader::u8)?,
                result: body.option(body::Reader::bytes)?,
            },
        };
        body.finish()?;
        Ok(message)
    }
}

/// The rare-path body encoding: big-endian integers, length-prefixed byte
/// strings, counted lists, tagged options.
pub mod body {
    use super::{Ballot, Entry};
    use crate::DecodeError;
    use crate::regs::MAX_REPLICAS;

    /// The body grammar, rule by rule (rendered into `docs/wire.md`).
    pub const GRAMMAR: &[(&str, &str)] = &[
        ("u8, u16, u32, u64", "unsigned integers, big-endian"),
        ("bytes", "len: u16, then len bytes"),
        ("entries", "count: u16, then count × entry"),
        ("entry", "slot: u64, ballot: u64, value: bytes"),
        (
            "lives",
            "count: u8 (at most 8), then count × u32: the sender's crash vector, each replica's highest incarnation it knows",
        ),
        (
            "option<T>",
            "tag: u8 (0 = none, 1 = some), then T if some; any other tag is rejected",
        ),
    ];

    /// Bytes of an entry besides its value: slot, ballot, value length. A count
    /// is plausible only if this many bytes per entry are left.
    pub const ENTRY_FIXED_LEN: usize = 8 + 8 + 2;

    const NONE: u8 = 0;
    const SOME: u8 = 1;

    pub(super) fn put_u64(out: &mut Vec<u8>, value: u64) {
        out.extend_from_slice(&value.to_be_bytes());
    }

    /// Lengths that do not fit a u16 are truncated here, but such a payload
    /// exceeds the datagram limit and the encoder rejects it as a whole.
    pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    /// A count that does not fit a u16 means over 2^16 entries of at least
    /// [`ENTRY_FIXED_LEN`] bytes: too big for a datagram, rejected as a whole.
    pub(super) fn put_entries(out: &mut Vec<u8>, entries: &[Entry]) {
        out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for entry in entries {
            put_u64(out, entry.slot);
            put_u64(out, entry.ballot.0);
            put_bytes(out, &entry.value);
        }
    }

    /// Crash vectors longer than [`MAX_REPLICAS`] are not produced by a
    /// replica; one that is would be rejected by every decoder.
    pub(super) fn put_lives(out: &mut Vec<u8>, lives: &[u32]) {
        out.push(lives.len() as u8);
        for life in lives {
            out.extend_from_slice(&life.to_be_bytes());
        }
    }

    pub(super) fn put_option<T>(
        out: &mut Vec<u8>,
        value: Option<&T>,
        put: impl FnOnce(&mut Vec<u8>, &T),
    ) {
        match value {
            None => out.push(NONE),
            Some(value) => {
                out.push(SOME);
                put(out, value);
            }
        }
    }

    /// Reads a body front to back; every read checks the bytes are there.
    pub(super) struct Reader<'a> {
        rest: &'a [u8],
    }

    impl<'a> Reader<'a> {
        pub(super) fn new(body: &'a [u8]) -> Reader<'a> {
            Reader { rest: body }
        }

        fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
            if self.rest.len() < len {
                return Err(DecodeError::BodyTruncated {
                    need: len,
                    remaining: self.rest.len(),
                });
            }
            let (taken, rest) = self.rest.split_at(len);
            self.rest = rest;
            Ok(taken)
        }

        fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
            let Some((taken, rest)) = self.rest.split_first_chunk::<N>() else {
                return Err(DecodeError::BodyTruncated {
                    need: N,
                    remaining: self.rest.len(),
                });
            };
            self.rest = rest;
            Ok(*taken)
        }

        pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
            Ok(u8::from_be_bytes(self.array()?))
        }

        fn u16(&mut self) -> Result<u16, DecodeError> {
            Ok(u16::from_be_bytes(self.array()?))
        }

        fn u32(&mut self) -> Result<u32, DecodeError> {
            Ok(u32::from_be_bytes(self.array()?))
        }

        pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
            Ok(u64::from_be_bytes(self.array()?))
        }

        pub(super) fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
            let len = self.u16()?;
            Ok(self.take(len.into())?.to_vec())
        }

        pub(super) fn entries(&mut self) -> Result<Vec<Entry>, DecodeError> {
            let count = usize::from(self.u16()?);
            // The count is untrusted: reserve memory for it only once the
            // bytes its entries need at the least are known to be there.
            if count * ENTRY_FIXED_LEN > self.rest.len() {
                return Err(DecodeError::AbsurdCount {
                    count,
                    remaining: self.rest.len(),
                });
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                entries.push(Entry {
                    slot: self.u64()?,
                    ballot: Ballot(self.u64()?),
                    value: self.bytes()?,
                });
            }
            Ok(entries)
        }

        pub(super) fn lives(&mut self) -> Result<Vec<u32>, DecodeError> {
            let count = usize::from(self.u8()?);
            if count > MAX_REPLICAS || count * 4 > self.rest.len() {
                return Err(DecodeError::AbsurdCount {
                    count,
                    remaining: self.rest.len(),
                });
            }
            (0..count).map(|_| self.u32()).collect()
        }

        pub(super) fn option<T>(
            &mut self,
            read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
        ) -> Result<Option<T>, DecodeError> {
            match self.u8()? {
                NONE => Ok(None),
                SOME => Ok(Some(read(self)?)),
                tag => Err(DecodeError::BadOptionTag { tag }),
            }
        }

        /// Everything left, for a payload that is one raw value.
        pub(super) fn rest(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.rest).to_vec()
        }

        pub(super) fn finish(self) -> Result<(), DecodeError> {
            match self.rest.len() {
                0 => Ok(()),
                extra => Err(DecodeError::TrailingBytes { extra }),
            }
        }
    }
}
