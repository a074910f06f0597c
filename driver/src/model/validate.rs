//! Receive-side validation, as the fast path's parser does it: the frame
//! envelope, then the riptide header. Bodies are not parsed: an ACCEPT's value
//! is opaque, the other phase-2 types have none the NIC reads, and rare-path
//! frames go to software whole, which decodes them with `Envelope::decode`.

use riptide_wire::frame::decode_frame;
use riptide_wire::layout::{RIPTIDE_HEADER_LEN, VERSION, header};
use riptide_wire::message::Header;
use riptide_wire::{DecodeError, MsgType};

/// A frame that passed validation: its header, type and payload.
#[derive(Debug, Clone, Copy)]
pub(super) struct Valid<'a> {
    pub(super) header: Header,
    pub(super) msg_type: MsgType,
    pub(super) payload: &'a [u8],
}

/// Checks in the order `decode_frame` and `Envelope::decode` do, up to and
/// including the header fields; the first failure is the drop reason.
pub(super) fn validate(frame: &[u8], port: u16, group: u16) -> Result<Valid<'_>, DecodeError> {
    let datagram = decode_frame(frame, port)?.datagram;
    let header = Header::decode(datagram)?;
    if header.version != VERSION {
        return Err(DecodeError::BadVersion {
            version: header.version,
            expected: VERSION,
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
    if usize::from(header.payload_len) != payload.len() {
        return Err(DecodeError::PayloadLenMismatch {
            declared: header.payload_len.into(),
            present: payload.len(),
        });
    }
    let fields = [
        (header::BALLOT, header.ballot.0),
        (header::SLOT, header.slot),
        (header::COMMIT, header.commit),
    ];
    if let Some((field, _)) = fields
        .iter()
        .find(|(field, value)| *value != 0 && !msg_type.header_fields().contains(field))
    {
        return Err(DecodeError::UnusedNonZero { field: field.name });
    }
    Ok(Valid {
        header,
        msg_type,
        payload,
    })
}
