//! Header layout: every offset and width on the wire, defined once.
//!
//! A riptide frame is Ethernet II, IPv4 (no options), UDP, the riptide header,
//! then the payload. All multi-byte fields are big-endian (network order).
//! Offsets of the riptide header fields are given relative to the start of the
//! riptide header; [`RIPTIDE_OFFSET`] locates it in a frame.

/// One field of a header: its name, byte offset and width in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub width: usize,
    pub doc: &'static str,
}

impl Field {
    /// One past the last byte of the field.
    pub const fn end(&self) -> usize {
        self.offset + self.width
    }

    /// The field's bytes in `bytes` (a frame, or a datagram for the riptide
    /// header's fields). Decoders check the length before reading fields, so a
    /// short slice here is a bug in the caller, and panics.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.offset..self.end()]
    }

    /// The field's bytes in `bytes`, to fill in; panics like [`Field::bytes`].
    pub fn bytes_mut<'a>(&self, bytes: &'a mut [u8]) -> &'a mut [u8] {
        &mut bytes[self.offset..self.end()]
    }

    /// The field's value, big-endian (fields are at most 8 bytes wide).
    pub fn get(&self, bytes: &[u8]) -> u64 {
        self.bytes(bytes)
            .iter()
            .fold(0, |value, &byte| value << 8 | u64::from(byte))
    }

    /// Stores the low `width` bytes of `value` in the field, big-endian.
    pub fn set(&self, bytes: &mut [u8], value: u64) {
        let field = self.bytes_mut(bytes);
        let be = value.to_be_bytes();
        field.copy_from_slice(&be[be.len() - self.width..]);
    }
}

pub const ETH_LEN: usize = 14;
pub const IPV4_LEN: usize = 20;
pub const UDP_LEN: usize = 8;
/// Where the riptide header starts in an Ethernet frame.
pub const RIPTIDE_OFFSET: usize = ETH_LEN + IPV4_LEN + UDP_LEN;
/// Length of the fixed riptide header.
pub const RIPTIDE_HEADER_LEN: usize = 32;
/// Length of all headers of a frame with no payload.
pub const FRAME_HEADER_LEN: usize = RIPTIDE_OFFSET + RIPTIDE_HEADER_LEN;
/// Largest datagram (UDP payload) that fits an IPv4 packet: 65535 bytes of
/// total length minus the IPv4 and UDP headers.
pub const MAX_DATAGRAM: usize = 65_507;
/// Largest payload a datagram may carry: what fits a UDP datagram in IPv4.
pub const MAX_PAYLOAD: usize = MAX_DATAGRAM - RIPTIDE_HEADER_LEN;

/// Smallest Ethernet frame without FCS; shorter frames are padded with zeros
/// after the IP packet.
pub const ETH_MIN_FRAME: usize = 60;
/// Frame check sequence (CRC-32), appended and stripped by the MAC.
pub const ETH_FCS_LEN: usize = 4;
/// Preamble and start-of-frame delimiter on the wire, before every frame.
pub const ETH_PREAMBLE_LEN: usize = 8;
/// Minimum inter-frame gap on the wire, after every frame.
pub const ETH_IFG_LEN: usize = 12;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const IP_PROTO_UDP: u8 = 17;
/// The UDP port riptide listens on by default (NICs match it as destination port).
pub const UDP_PORT: u16 = 7100;
/// Protocol version carried in every riptide header.
pub const VERSION: u8 = 1;
/// Message type codes below this are phase 2: fixed header, no body.
pub const PHASE2_TYPE_LIMIT: u8 = 0x10;

/// IPv4 version 4 with a 20-byte header (IHL 5): options are never sent and
/// are rejected on receive.
pub const IPV4_VERSION_IHL: u8 = 0x45;
/// The don't-fragment flag in the IPv4 flags/fragment-offset field.
pub const IPV4_FLAG_DF: u16 = 0x4000;
/// More-fragments flag and fragment offset: a frame with any of these bits set
/// is a fragment, and riptide never fragments (a fragment is dropped).
pub const IPV4_FRAGMENT_BITS: u16 = 0x3fff;
/// Time to live of the frames riptide sends.
pub const IPV4_TTL: u8 = 64;

macro_rules! field {
    ($name:ident, $off:expr, $w:expr, $doc:expr) => {
        pub const $name: Field = Field {
            name: stringify!($name),
            offset: $off,
            width: $w,
            doc: $doc,
        };
    };
}

/// Ethernet II header fields (offsets from the start of the frame).
pub mod eth {
    use super::Field;
    field!(DST_MAC, 0, 6, "destination MAC address");
    field!(SRC_MAC, 6, 6, "source MAC address");
    field!(ETHERTYPE, 12, 2, "0x0800 (IPv4)");
    pub const FIELDS: &[Field] = &[DST_MAC, SRC_MAC, ETHERTYPE];
}

/// IPv4 header fields (offsets from the start of the frame).
pub mod ipv4 {
    use super::Field;
    field!(
        VERSION_IHL,
        14,
        1,
        "0x45: version 4, 20-byte header, no options"
    );
    field!(DSCP_ECN, 15, 1, "0");
    field!(TOTAL_LEN, 16, 2, "IPv4 header + UDP header + datagram");
    field!(IDENT, 18, 2, "0");
    field!(FLAGS_FRAG, 20, 2, "0x4000 (don't fragment)");
    field!(TTL, 22, 1, "64");
    field!(PROTOCOL, 23, 1, "17 (UDP)");
    field!(
        CHECKSUM,
        24,
        2,
        "header checksum (RFC 791), verified on receive"
    );
    field!(SRC_IP, 26, 4, "source address");
    field!(DST_IP, 30, 4, "destination address");
    pub const FIELDS: &[Field] = &[
        VERSION_IHL,
        DSCP_ECN,
        TOTAL_LEN,
        IDENT,
        FLAGS_FRAG,
        TTL,
        PROTOCOL,
        CHECKSUM,
        SRC_IP,
        DST_IP,
    ];
}

/// UDP header fields (offsets from the start of the frame).
pub mod udp {
    use super::Field;
    field!(SRC_PORT, 34, 2, "source port");
    field!(DST_PORT, 36, 2, "destination port (riptide's port)");
    field!(LENGTH, 38, 2, "UDP header + datagram");
    field!(
        CHECKSUM,
        40,
        2,
        "0 (not used over IPv4; the Ethernet FCS covers the frame)"
    );
    pub const FIELDS: &[Field] = &[SRC_PORT, DST_PORT, LENGTH, CHECKSUM];
}

/// riptide header fields (offsets from the start of the riptide header, i.e.
/// from the start of the UDP payload).
pub mod header {
    use super::Field;
    field!(VERSION, 0, 1, "protocol version (1)");
    field!(MSG_TYPE, 1, 1, "message type (see the type table)");
    field!(GROUP, 2, 2, "replica group id");
    field!(SENDER, 4, 1, "sender's replica id");
    field!(
        LIFE,
        5,
        1,
        "low 8 bits of the sender's incarnation (serial-number order)"
    );
    field!(PAYLOAD_LEN, 6, 2, "bytes of payload after the header");
    field!(BALLOT, 8, 8, "ballot: round << 8 | leader id");
    field!(
        SLOT,
        16,
        8,
        "log slot (ACCEPT, ACCEPTED, NACK, catch-up start)"
    );
    field!(
        COMMIT,
        24,
        8,
        "sender's commit index: highest contiguous chosen slot"
    );
    pub const FIELDS: &[Field] = &[
        VERSION,
        MSG_TYPE,
        GROUP,
        SENDER,
        LIFE,
        PAYLOAD_LEN,
        BALLOT,
        SLOT,
        COMMIT,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_contiguous(fields: &[Field], start: usize, end: usize) {
        let mut at = start;
        for f in fields {
            assert_eq!(f.offset, at, "{} does not follow its predecessor", f.name);
            at = f.end();
        }
        assert_eq!(at, end);
    }

    #[test]
    fn headers_tile_the_frame_without_gaps_or_overlaps() {
        assert_contiguous(eth::FIELDS, 0, ETH_LEN);
        assert_contiguous(ipv4::FIELDS, ETH_LEN, ETH_LEN + IPV4_LEN);
        assert_contiguous(udp::FIELDS, ETH_LEN + IPV4_LEN, RIPTIDE_OFFSET);
        assert_contiguous(header::FIELDS, 0, RIPTIDE_HEADER_LEN);
    }

    #[test]
    fn fields_read_back_what_was_written_big_endian() {
        let mut frame = [0u8; FRAME_HEADER_LEN];
        ipv4::TOTAL_LEN.set(&mut frame, 0x1234);
        eth::SRC_MAC.set(&mut frame, 0x0102_0304_0506);
        assert_eq!(ipv4::TOTAL_LEN.bytes(&frame), [0x12, 0x34]);
        assert_eq!(eth::SRC_MAC.bytes(&frame), [1, 2, 3, 4, 5, 6]);
        assert_eq!(ipv4::TOTAL_LEN.get(&frame), 0x1234);
        assert_eq!(eth::SRC_MAC.get(&frame), 0x0102_0304_0506);
        // Only the field's own bytes change.
        assert_eq!(frame.iter().filter(|&&b| b != 0).count(), 8);
    }
}
