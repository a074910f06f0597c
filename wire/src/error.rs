//! Why a frame, datagram or record was rejected. Every variant is a counter,
//! named by [`DecodeError::reason`].

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than the fixed headers need (a frame's Ethernet/IPv4/UDP
    /// headers, or a datagram's riptide header).
    #[error("too short: {len} bytes, need at least {need}")]
    Short { len: usize, need: usize },

    // Frame (Ethernet/IPv4/UDP), in the order `decode_frame` checks them.
    #[error("ethertype {ethertype:#06x} is not IPv4")]
    NotIpv4 { ethertype: u16 },
    #[error("IPv4 version/IHL byte {version_ihl:#04x}: need version 4 without options")]
    BadIpVersionIhl { version_ihl: u8 },
    #[error("IPv4 header checksum {stored:#06x} does not verify")]
    BadIpChecksum { stored: u16 },
    #[error("IPv4 fragment (flags/offset {flags_frag:#06x})")]
    Fragmented { flags_frag: u16 },
    #[error("IPv4 protocol {protocol} is not UDP")]
    NotUdp { protocol: u8 },
    #[error("IPv4 total length {total_len} does not fit the {present} bytes present")]
    BadIpLength { total_len: usize, present: usize },
    #[error("UDP length {udp_len}, the IPv4 packet leaves {expected}")]
    BadUdpLength { udp_len: usize, expected: usize },
    #[error("UDP destination port {port}, expected {expected}")]
    WrongPort { port: u16, expected: u16 },

    // Datagram (riptide header and body), in the order `Envelope::decode`
    // checks them.
    #[error("riptide version {version}, expected {expected}")]
    BadVersion { version: u8, expected: u8 },
    #[error("unknown message type {code:#04x}")]
    UnknownType { code: u8 },
    #[error("group {group}, expected {expected}")]
    WrongGroup { group: u16, expected: u16 },
    #[error("payload length field {declared}, {present} payload bytes present")]
    PayloadLenMismatch { declared: usize, present: usize },
    #[error("payload of {len} bytes, the most a datagram carries is {max}")]
    Oversize { len: usize, max: usize },
    #[error("header field {field} is not used by this message type and must be 0")]
    UnusedNonZero { field: &'static str },
    #[error("body needs {need} more bytes, {remaining} left")]
    BodyTruncated { need: usize, remaining: usize },
    #[error("{extra} bytes after the end of the body")]
    TrailingBytes { extra: usize },
    #[error("option tag {tag}, expected 0 (none) or 1 (some)")]
    BadOptionTag { tag: u8 },
    #[error("count {count} cannot fit the {remaining} body bytes left")]
    AbsurdCount { count: usize, remaining: usize },
}

impl DecodeError {
    /// Every reason [`DecodeError::reason`] can return, each with what it
    /// means, in the order the decoders check them: the names of the drop
    /// counters.
    pub const REASONS: &[(&'static str, &'static str)] = &[
        ("short", "fewer bytes than the fixed headers"),
        ("not_ipv4", "ethertype is not 0x0800"),
        (
            "bad_ip_version_ihl",
            "IPv4 version is not 4 or the header has options",
        ),
        ("bad_ip_checksum", "IPv4 header checksum does not verify"),
        ("fragmented", "more-fragments flag or fragment offset set"),
        ("not_udp", "IPv4 protocol is not 17"),
        (
            "bad_ip_length",
            "IPv4 total length below the headers or beyond the frame",
        ),
        (
            "bad_udp_length",
            "UDP length differs from what the IPv4 packet leaves",
        ),
        ("wrong_port", "UDP destination port is not riptide's"),
        ("bad_version", "riptide version differs"),
        ("unknown_type", "message type code unknown"),
        ("wrong_group", "group id is not this replica's"),
        (
            "payload_len_mismatch",
            "payload length field differs from the bytes present",
        ),
        ("oversize", "payload longer than a datagram may carry"),
        (
            "unused_nonzero",
            "a header field the type does not use is not 0",
        ),
        ("body_truncated", "body ends inside a field"),
        ("trailing_bytes", "bytes left after the body"),
        ("bad_option_tag", "option tag is neither 0 nor 1"),
        (
            "absurd_count",
            "entry count larger than the body could hold, or a crash vector longer than 8",
        ),
    ];

    /// A stable snake_case name of the variant, used as its counter name.
    pub const fn reason(&self) -> &'static str {
        match self {
            DecodeError::Short { .. } => "short",
            DecodeError::NotIpv4 { .. } => "not_ipv4",
            DecodeError::BadIpVersionIhl { .. } => "bad_ip_version_ihl",
            DecodeError::BadIpChecksum { .. } => "bad_ip_checksum",
            DecodeError::Fragmented { .. } => "fragmented",
            DecodeError::NotUdp { .. } => "not_udp",
            DecodeError::BadIpLength { .. } => "bad_ip_length",
            DecodeError::BadUdpLength { .. } => "bad_udp_length",
            DecodeError::WrongPort { .. } => "wrong_port",
            DecodeError::BadVersion { .. } => "bad_version",
            DecodeError::UnknownType { .. } => "unknown_type",
            DecodeError::WrongGroup { .. } => "wrong_group",
            DecodeError::PayloadLenMismatch { .. } => "payload_len_mismatch",
            DecodeError::Oversize { .. } => "oversize",
            DecodeError::UnusedNonZero { .. } => "unused_nonzero",
            DecodeError::BodyTruncated { .. } => "body_truncated",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::BadOptionTag { .. } => "bad_option_tag",
            DecodeError::AbsurdCount { .. } => "absurd_count",
        }
    }
}

/// Why a message could not be encoded: only its size can be wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("payload of {len} bytes, the most a datagram carries is {max}")]
    Oversize { len: usize, max: usize },
}
