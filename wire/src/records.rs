//! Byte layout of the host records ([`crate::host`]) on the host-to-card (h2c)
//! and card-to-host (c2h) AXI4-Stream channels: one record per stream packet
//! (tlast ends it), as XDMA/QDMA streaming mode delivers them.
//!
//! Every record starts with a [`RECORD_HEADER_LEN`]-byte header (one 512-bit
//! beat) of little-endian fields (host byte order). A body follows at an offset
//! chosen so that its bytes keep the byte lane they have in the network frame
//! (`offset % 64` equal): the NIC moves payloads between frames and records
//! beat by beat, with no byte shifter in the 322 MHz path. That costs at most
//! one beat of padding per record.
//!
//! | record | body at | body |
//! |---|---|---|
//! | c2h Accepted | [`ACCEPTED_VALUE_OFFSET`] (= frame header length) | value |
//! | c2h Committed, FenceDone | | none |
//! | c2h Punted | [`PUNTED_FRAME_OFFSET`] | the whole frame |
//! | h2c Submit | [`SUBMIT_VALUE_OFFSET`] (= frame header length) | value |
//! | h2c Transmit | [`TRANSMIT_DATAGRAM_OFFSET`] (header + Eth/IPv4/UDP length) | datagram |
//!
//! Padding bytes are written as 0 and ignored on decode.

use crate::host::{CardToHost, NicCommand, NicEvent};
use crate::layout;
use crate::message::Ballot;
use thiserror::Error;

/// One header field: byte offset and width (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordField {
    pub name: &'static str,
    pub offset: usize,
    pub width: usize,
    pub doc: &'static str,
}

/// Length of every record header: one 512-bit beat.
pub const RECORD_HEADER_LEN: usize = 64;

/// Header fields shared by every record.
pub const KIND: RecordField = RecordField {
    name: "kind",
    offset: 0,
    width: 1,
    doc: "record kind (tables below)",
};
/// h2c Transmit: the replica the datagram is for.
pub const TO: RecordField = RecordField {
    name: "to",
    offset: 1,
    width: 1,
    doc: "h2c Transmit: replica id the datagram goes to (its peer-table entry gives the addresses)",
};
/// Bytes of body that are not padding: the value, the frame or the datagram.
pub const LEN: RecordField = RecordField {
    name: "len",
    offset: 4,
    width: 4,
    doc: "bytes of body that are not padding: the value, the frame or the datagram",
};
pub const BALLOT: RecordField = RecordField {
    name: "ballot",
    offset: 8,
    width: 8,
    doc: "Accepted: the entry's ballot; Committed: the ballot the commit was learned under; FenceDone: the fence's ballot",
};
pub const SLOT: RecordField = RecordField {
    name: "slot",
    offset: 16,
    width: 8,
    doc: "Accepted: the entry's slot",
};
pub const COMMIT: RecordField = RecordField {
    name: "commit",
    offset: 24,
    width: 8,
    doc: "Committed: the commit index (every slot up to it is chosen)",
};
pub const FIELDS: &[RecordField] = &[KIND, TO, LEN, BALLOT, SLOT, COMMIT];

/// c2h record kinds.
pub const C2H_ACCEPTED: u8 = 1;
pub const C2H_COMMITTED: u8 = 2;
pub const C2H_FENCE_DONE: u8 = 3;
pub const C2H_PUNTED: u8 = 4;
/// h2c record kinds.
pub const H2C_SUBMIT: u8 = 1;
pub const H2C_TRANSMIT: u8 = 2;

/// A record kind as `docs/wire.md` lists it: the header fields it sets
/// besides `kind` (every other header byte is 0) and where its body starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordKind {
    pub code: u8,
    pub name: &'static str,
    pub fields: &'static [RecordField],
    /// `None`: the record is the header alone.
    pub body_at: Option<usize>,
    pub body: &'static str,
}

pub const C2H_KINDS: &[RecordKind] = &[
    RecordKind {
        code: C2H_ACCEPTED,
        name: "Accepted",
        fields: &[LEN, BALLOT, SLOT],
        body_at: Some(ACCEPTED_VALUE_OFFSET),
        body: "the accepted value (a follower's from the ACCEPT frame, a leader's own from the Submit)",
    },
    RecordKind {
        code: C2H_COMMITTED,
        name: "Committed",
        fields: &[BALLOT, COMMIT],
        body_at: None,
        body: "none",
    },
    RecordKind {
        code: C2H_FENCE_DONE,
        name: "FenceDone",
        fields: &[BALLOT],
        body_at: None,
        body: "none",
    },
    RecordKind {
        code: C2H_PUNTED,
        name: "Punted",
        fields: &[LEN],
        body_at: Some(PUNTED_FRAME_OFFSET),
        body: "the whole frame as received, from the destination MAC on, without FCS (Ethernet padding included); its fields stay big-endian",
    },
];

pub const H2C_KINDS: &[RecordKind] = &[
    RecordKind {
        code: H2C_SUBMIT,
        name: "Submit",
        fields: &[LEN],
        body_at: Some(SUBMIT_VALUE_OFFSET),
        body: "the value to replicate (leader)",
    },
    RecordKind {
        code: H2C_TRANSMIT,
        name: "Transmit",
        fields: &[TO, LEN],
        body_at: Some(TRANSMIT_DATAGRAM_OFFSET),
        body: "the UDP datagram (riptide header first, big-endian as on the wire); the NIC adds Ethernet/IPv4/UDP",
    },
];

/// The value keeps the lane it has in an ACCEPT frame (after the frame headers).
pub const ACCEPTED_VALUE_OFFSET: usize = layout::FRAME_HEADER_LEN;
/// The frame keeps its lanes: it starts on a beat boundary.
pub const PUNTED_FRAME_OFFSET: usize = RECORD_HEADER_LEN;
/// A submitted value sits where it will sit in the ACCEPT frame.
pub const SUBMIT_VALUE_OFFSET: usize = layout::FRAME_HEADER_LEN;
/// A transmitted datagram sits where it will sit in its UDP frame, one beat on.
pub const TRANSMIT_DATAGRAM_OFFSET: usize = RECORD_HEADER_LEN + layout::RIPTIDE_OFFSET;

const _: () = assert!(ACCEPTED_VALUE_OFFSET >= RECORD_HEADER_LEN);
const _: () = assert!(SUBMIT_VALUE_OFFSET >= RECORD_HEADER_LEN);

/// Why bytes are not a record, or a command has no stream record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("record too short: {len} bytes, need at least {need}")]
    Short { len: usize, need: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("record declares {declared} body bytes but carries {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("body of {0} bytes is longer than a datagram can carry")]
    TooLong(usize),
    #[error("this command is carried by registers, not by the h2c stream")]
    NotStreamed,
}

fn put(buf: &mut [u8], field: RecordField, value: u64) {
    let bytes = value.to_le_bytes();
    buf[field.offset..field.end()].copy_from_slice(&bytes[..field.width]);
}

fn get(buf: &[u8], field: RecordField) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..field.width].copy_from_slice(&buf[field.offset..field.end()]);
    u64::from_le_bytes(bytes)
}

impl RecordField {
    pub const fn end(&self) -> usize {
        self.offset + self.width
    }
}

fn with_body(kind: u8, body_offset: usize, body: &[u8]) -> Result<Vec<u8>, RecordError> {
    if body.len() > layout::MAX_PAYLOAD + layout::FRAME_HEADER_LEN {
        return Err(RecordError::TooLong(body.len()));
    }
    let mut out = vec![0u8; body_offset + body.len()];
    put(&mut out, KIND, kind.into());
    put(&mut out, LEN, body.len() as u64);
    out[body_offset..].copy_from_slice(body);
    Ok(out)
}

fn header_only(kind: u8, ballot: Ballot, slot: u64, commit: u64) -> Vec<u8> {
    let mut out = vec![0u8; RECORD_HEADER_LEN];
    put(&mut out, KIND, kind.into());
    put(&mut out, BALLOT, ballot.0);
    put(&mut out, SLOT, slot);
    put(&mut out, COMMIT, commit);
    out
}

/// The body of a record whose body starts at `body_offset`, checked against
/// the header's length field.
fn body(bytes: &[u8], body_offset: usize) -> Result<&[u8], RecordError> {
    if bytes.len() < body_offset {
        return Err(RecordError::Short {
            len: bytes.len(),
            need: body_offset,
        });
    }
    let declared = get(bytes, LEN) as usize;
    let actual = bytes.len() - body_offset;
    if declared != actual {
        return Err(RecordError::LengthMismatch { declared, actual });
    }
    Ok(&bytes[body_offset..])
}

fn kind_of(bytes: &[u8]) -> Result<u8, RecordError> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(RecordError::Short {
            len: bytes.len(),
            need: RECORD_HEADER_LEN,
        });
    }
    Ok(bytes[KIND.offset])
}

/// The bytes of a card-to-host record.
pub fn encode_c2h(record: &CardToHost) -> Result<Vec<u8>, RecordError> {
    match record {
        CardToHost::Event(NicEvent::Accepted {
            ballot,
            slot,
            value,
        }) => {
            let mut out = with_body(C2H_ACCEPTED, ACCEPTED_VALUE_OFFSET, value)?;
            put(&mut out, BALLOT, ballot.0);
            put(&mut out, SLOT, *slot);
            Ok(out)
        }
        CardToHost::Event(NicEvent::Committed { ballot, commit }) => {
            Ok(header_only(C2H_COMMITTED, *ballot, 0, *commit))
        }
        CardToHost::Event(NicEvent::FenceDone { ballot }) => {
            Ok(header_only(C2H_FENCE_DONE, *ballot, 0, 0))
        }
        CardToHost::Punted(frame) => with_body(C2H_PUNTED, PUNTED_FRAME_OFFSET, frame),
    }
}

/// A card-to-host record from its bytes (one stream packet).
pub fn decode_c2h(bytes: &[u8]) -> Result<CardToHost, RecordError> {
    let kind = kind_of(bytes)?;
    let ballot = Ballot(get(bytes, BALLOT));
    match kind {
        C2H_ACCEPTED => Ok(CardToHost::Event(NicEvent::Accepted {
            ballot,
            slot: get(bytes, SLOT),
            value: body(bytes, ACCEPTED_VALUE_OFFSET)?.to_vec(),
        })),
        C2H_COMMITTED => Ok(CardToHost::Event(NicEvent::Committed {
            ballot,
            commit: get(bytes, COMMIT),
        })),
        C2H_FENCE_DONE => Ok(CardToHost::Event(NicEvent::FenceDone { ballot })),
        C2H_PUNTED => Ok(CardToHost::Punted(
            body(bytes, PUNTED_FRAME_OFFSET)?.to_vec(),
        )),
        other => Err(RecordError::UnknownKind(other)),
    }
}

/// The bytes of a host-to-card record. `Configure`, `Fence` and `Heartbeat`
/// are register writes ([`crate::regs`]), not stream records.
pub fn encode_h2c(command: &NicCommand) -> Result<Vec<u8>, RecordError> {
    match command {
        NicCommand::Submit { value } => with_body(H2C_SUBMIT, SUBMIT_VALUE_OFFSET, value),
        NicCommand::Transmit { to, datagram } => {
            let mut out = with_body(H2C_TRANSMIT, TRANSMIT_DATAGRAM_OFFSET, datagram)?;
            put(&mut out, TO, (*to).into());
            Ok(out)
        }
        NicCommand::Configure(_) | NicCommand::Fence { .. } | NicCommand::Heartbeat => {
            Err(RecordError::NotStreamed)
        }
    }
}

/// A host-to-card record from its bytes (one stream packet).
pub fn decode_h2c(bytes: &[u8]) -> Result<NicCommand, RecordError> {
    match kind_of(bytes)? {
        H2C_SUBMIT => Ok(NicCommand::Submit {
            value: body(bytes, SUBMIT_VALUE_OFFSET)?.to_vec(),
        }),
        H2C_TRANSMIT => Ok(NicCommand::Transmit {
            to: bytes[TO.offset],
            datagram: body(bytes, TRANSMIT_DATAGRAM_OFFSET)?.to_vec(),
        }),
        other => Err(RecordError::UnknownKind(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kind tables say what the codec does: the header fields each
    /// kind sets (and no other nonzero header byte), where its body starts.
    #[test]
    fn kind_tables_match_the_encoders() {
        let body = |n: u8| (1..=n).collect::<Vec<u8>>();
        let c2h = [
            CardToHost::Event(NicEvent::Accepted {
                ballot: Ballot(0x0102),
                slot: 7,
                value: body(3),
            }),
            CardToHost::Event(NicEvent::Committed {
                ballot: Ballot(5),
                commit: 9,
            }),
            CardToHost::Event(NicEvent::FenceDone { ballot: Ballot(6) }),
            CardToHost::Punted(body(60)),
        ];
        let h2c = [
            NicCommand::Submit { value: body(5) },
            NicCommand::Transmit {
                to: 2,
                datagram: body(6),
            },
        ];
        let c2h: Vec<Vec<u8>> = c2h.iter().map(|r| encode_c2h(r).unwrap()).collect();
        let h2c: Vec<Vec<u8>> = h2c.iter().map(|c| encode_h2c(c).unwrap()).collect();
        for (kinds, records) in [(C2H_KINDS, c2h), (H2C_KINDS, h2c)] {
            assert_eq!(kinds.len(), records.len());
            for (kind, bytes) in kinds.iter().zip(records) {
                assert_eq!(bytes[KIND.offset], kind.code, "{}", kind.name);
                for (offset, &byte) in bytes[..RECORD_HEADER_LEN].iter().enumerate() {
                    let field = FIELDS
                        .iter()
                        .find(|f| (f.offset..f.end()).contains(&offset));
                    let listed = field.is_some_and(|f| *f == KIND || kind.fields.contains(f));
                    if !listed {
                        assert_eq!(byte, 0, "{} header byte {offset}", kind.name);
                    }
                }
                for f in kind.fields {
                    assert_ne!(get(&bytes, *f), 0, "{} sets {}", kind.name, f.name);
                }
                match kind.body_at {
                    Some(at) => {
                        let len = get(&bytes, LEN) as usize;
                        assert_eq!(bytes.len(), at + len, "{}", kind.name);
                        assert_eq!(bytes[at], 1, "{} body starts at {at}", kind.name);
                        assert!(bytes[RECORD_HEADER_LEN..at].iter().all(|&b| b == 0));
                    }
                    None => assert_eq!(bytes.len(), RECORD_HEADER_LEN, "{}", kind.name),
                }
            }
        }
    }

    #[test]
    fn header_fields_fit_the_header_and_do_not_overlap() {
        let mut used = [false; RECORD_HEADER_LEN];
        for f in FIELDS {
            for b in &mut used[f.offset..f.end()] {
                assert!(!*b, "{} overlaps", f.name);
                *b = true;
            }
        }
    }

    #[test]
    fn bodies_keep_their_frame_byte_lanes() {
        assert_eq!(ACCEPTED_VALUE_OFFSET % 64, layout::FRAME_HEADER_LEN % 64);
        assert_eq!(SUBMIT_VALUE_OFFSET % 64, layout::FRAME_HEADER_LEN % 64);
        assert_eq!(PUNTED_FRAME_OFFSET % 64, 0);
        assert_eq!(TRANSMIT_DATAGRAM_OFFSET % 64, layout::RIPTIDE_OFFSET % 64);
    }

    #[test]
    fn accepted_record_layout_is_pinned() {
        let rec = CardToHost::Event(NicEvent::Accepted {
            ballot: Ballot(0x0102),
            slot: 7,
            value: vec![0xAA, 0xBB],
        });
        let bytes = encode_c2h(&rec).unwrap();
        assert_eq!(bytes.len(), layout::FRAME_HEADER_LEN + 2);
        assert_eq!(bytes[0], C2H_ACCEPTED);
        assert_eq!(&bytes[4..8], &[2, 0, 0, 0]);
        assert_eq!(&bytes[8..10], &[0x02, 0x01]);
        assert_eq!(bytes[16], 7);
        assert_eq!(&bytes[layout::FRAME_HEADER_LEN..], &[0xAA, 0xBB]);
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        assert_eq!(
            decode_c2h(&[1, 2, 3]),
            Err(RecordError::Short { len: 3, need: 64 })
        );
        let mut bad = vec![0u8; 64];
        bad[0] = 9;
        assert_eq!(decode_c2h(&bad), Err(RecordError::UnknownKind(9)));
        assert_eq!(decode_h2c(&bad), Err(RecordError::UnknownKind(9)));
        bad[0] = C2H_ACCEPTED;
        assert_eq!(
            decode_c2h(&bad),
            Err(RecordError::Short { len: 64, need: 74 })
        );
        let mut lying = encode_c2h(&CardToHost::Punted(vec![1, 2, 3])).unwrap();
        lying[4] = 5;
        assert_eq!(
            decode_c2h(&lying),
            Err(RecordError::LengthMismatch {
                declared: 5,
                actual: 3
            })
        );
        assert_eq!(
            encode_h2c(&NicCommand::Heartbeat),
            Err(RecordError::NotStreamed)
        );
        let huge = vec![0u8; layout::MAX_PAYLOAD + layout::FRAME_HEADER_LEN + 1];
        assert!(matches!(
            encode_c2h(&CardToHost::Punted(huge)),
            Err(RecordError::TooLong(_))
        ));
    }

    fn c2h_record() -> impl Strategy<Value = CardToHost> {
        let bytes = prop::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            (any::<u64>(), any::<u64>(), bytes.clone()).prop_map(|(b, slot, value)| {
                CardToHost::Event(NicEvent::Accepted {
                    ballot: Ballot(b),
                    slot,
                    value,
                })
            }),
            (any::<u64>(), any::<u64>()).prop_map(|(b, commit)| {
                CardToHost::Event(NicEvent::Committed {
                    ballot: Ballot(b),
                    commit,
                })
            }),
            any::<u64>().prop_map(|b| CardToHost::Event(NicEvent::FenceDone { ballot: Ballot(b) })),
            bytes.prop_map(CardToHost::Punted),
        ]
    }

    fn h2c_record() -> impl Strategy<Value = NicCommand> {
        let bytes = prop::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            bytes.clone().prop_map(|value| NicCommand::Submit { value }),
            (any::<u8>(), bytes).prop_map(|(to, datagram)| NicCommand::Transmit { to, datagram }),
        ]
    }

    proptest! {
        #[test]
        fn c2h_round_trips(rec in c2h_record()) {
            prop_assert_eq!(decode_c2h(&encode_c2h(&rec).unwrap()).unwrap(), rec);
        }

        #[test]
        fn h2c_round_trips(cmd in h2c_record()) {
            prop_assert_eq!(decode_h2c(&encode_h2c(&cmd).unwrap()).unwrap(), cmd);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_c2h(&bytes);
            let _ = decode_h2c(&bytes);
        }
    }
}
