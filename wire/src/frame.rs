//! The Ethernet/IPv4/UDP envelope around a riptide datagram.
//!
//! Sending builds exactly one form (no IPv4 options, don't-fragment, TTL 64, no
//! UDP checksum). Receiving checks what a NIC checks: ethertype, IPv4
//! version/IHL, header checksum, fragments, protocol, lengths, destination
//! port. Fields a router or another sender's kernel may legitimately change
//! (TTL, DSCP/ECN, identification, the DF flag, the UDP checksum) are not
//! checked, so frames from ordinary UDP stacks are accepted.

use crate::DecodeError;
use crate::layout::{
    ETH_LEN, ETH_MIN_FRAME, ETHERTYPE_IPV4, IP_PROTO_UDP, IPV4_FLAG_DF, IPV4_FRAGMENT_BITS,
    IPV4_LEN, IPV4_TTL, IPV4_VERSION_IHL, MAX_DATAGRAM, RIPTIDE_OFFSET, UDP_LEN, eth, ipv4, udp,
};

/// One end of a riptide link: a replica's NIC as the network addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Endpoint {
    pub mac: [u8; 6],
    pub ip: [u8; 4],
    pub port: u16,
}

/// A received frame that passed every check: who sent it, to whom, and the
/// datagram it carries (borrowed from the frame, Ethernet padding excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameView<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub datagram: &'a [u8],
}

/// The Ethernet frame (without FCS) carrying `datagram` from `src` to `dst`,
/// zero-padded to the Ethernet minimum.
///
/// # Panics
/// If `datagram` is longer than [`MAX_DATAGRAM`]: it cannot be one IPv4
/// packet. [`crate::Envelope::try_encode`] never returns such a datagram.
pub fn encode_frame(src: &Endpoint, dst: &Endpoint, datagram: &[u8]) -> Vec<u8> {
    assert!(
        datagram.len() <= MAX_DATAGRAM,
        "a datagram of {} bytes does not fit an IPv4 packet (max {MAX_DATAGRAM})",
        datagram.len()
    );
    let udp_len = UDP_LEN + datagram.len();
    let ip_len = IPV4_LEN + udp_len;
    let mut frame = vec![0; (ETH_LEN + ip_len).max(ETH_MIN_FRAME)];

    eth::DST_MAC.bytes_mut(&mut frame).copy_from_slice(&dst.mac);
    eth::SRC_MAC.bytes_mut(&mut frame).copy_from_slice(&src.mac);
    eth::ETHERTYPE.set(&mut frame, ETHERTYPE_IPV4.into());

    ipv4::VERSION_IHL.set(&mut frame, IPV4_VERSION_IHL.into());
    ipv4::TOTAL_LEN.set(&mut frame, ip_len as u64);
    ipv4::FLAGS_FRAG.set(&mut frame, IPV4_FLAG_DF.into());
    ipv4::TTL.set(&mut frame, IPV4_TTL.into());
    ipv4::PROTOCOL.set(&mut frame, IP_PROTO_UDP.into());
    ipv4::SRC_IP.bytes_mut(&mut frame).copy_from_slice(&src.ip);
    ipv4::DST_IP.bytes_mut(&mut frame).copy_from_slice(&dst.ip);
    // The checksum field is still 0 here, as the checksum's definition wants.
    let checksum = ipv4_checksum(ip_header(&frame));
    ipv4::CHECKSUM.set(&mut frame, checksum.into());

    udp::SRC_PORT.set(&mut frame, src.port.into());
    udp::DST_PORT.set(&mut frame, dst.port.into());
    udp::LENGTH.set(&mut frame, udp_len as u64);
    frame[RIPTIDE_OFFSET..RIPTIDE_OFFSET + datagram.len()].copy_from_slice(datagram);
    frame
}

/// Validates a received frame (untrusted bytes, without FCS) addressed to UDP
/// port `port`, and returns the datagram it carries. The first failing check
/// is the error: short, ethertype, version/IHL, checksum, fragment, protocol,
/// IPv4 length, UDP length, port.
pub fn decode_frame(frame: &[u8], port: u16) -> Result<FrameView<'_>, DecodeError> {
    if frame.len() < RIPTIDE_OFFSET {
        return Err(DecodeError::Short {
            len: frame.len(),
            need: RIPTIDE_OFFSET,
        });
    }
    let ethertype = eth::ETHERTYPE.get(frame) as u16;
    if ethertype != ETHERTYPE_IPV4 {
        return Err(DecodeError::NotIpv4 { ethertype });
    }
    let version_ihl = ipv4::VERSION_IHL.get(frame) as u8;
    if version_ihl != IPV4_VERSION_IHL {
        return Err(DecodeError::BadIpVersionIhl { version_ihl });
    }
    // Summing a header that holds its checksum gives 0 iff the checksum is right.
    if ipv4_checksum(ip_header(frame)) != 0 {
        return Err(DecodeError::BadIpChecksum {
            stored: ipv4::CHECKSUM.get(frame) as u16,
        });
    }
    let flags_frag = ipv4::FLAGS_FRAG.get(frame) as u16;
    if flags_frag & IPV4_FRAGMENT_BITS != 0 {
        return Err(DecodeError::Fragmented { flags_frag });
    }
    let protocol = ipv4::PROTOCOL.get(frame) as u8;
    if protocol != IP_PROTO_UDP {
        return Err(DecodeError::NotUdp { protocol });
    }
    // Bytes after the IPv4 packet are Ethernet padding: allowed, ignored.
    let total_len = ipv4::TOTAL_LEN.get(frame) as usize;
    let present = frame.len() - ETH_LEN;
    if total_len < IPV4_LEN + UDP_LEN || total_len > present {
        return Err(DecodeError::BadIpLength { total_len, present });
    }
    let udp_len = udp::LENGTH.get(frame) as usize;
    if udp_len != total_len - IPV4_LEN {
        return Err(DecodeError::BadUdpLength {
            udp_len,
            expected: total_len - IPV4_LEN,
        });
    }
    let dst_port = udp::DST_PORT.get(frame) as u16;
    if dst_port != port {
        return Err(DecodeError::WrongPort {
            port: dst_port,
            expected: port,
        });
    }
    Ok(FrameView {
        src: Endpoint {
            mac: mac(eth::SRC_MAC.bytes(frame)),
            ip: ip(ipv4::SRC_IP.bytes(frame)),
            port: udp::SRC_PORT.get(frame) as u16,
        },
        dst: Endpoint {
            mac: mac(eth::DST_MAC.bytes(frame)),
            ip: ip(ipv4::DST_IP.bytes(frame)),
            port: dst_port,
        },
        datagram: &frame[RIPTIDE_OFFSET..ETH_LEN + total_len],
    })
}

/// The RFC 791 header checksum: the ones' complement of the ones'-complement
/// sum of `header`'s big-endian 16-bit words (an odd last byte is padded with
/// 0). Over a header whose checksum field is 0 it is the value to store there;
/// over a header holding a correct checksum it is 0.
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u64 = header
        .chunks(2)
        .map(|word| u64::from(word[0]) << 8 | u64::from(word.get(1).copied().unwrap_or(0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ip_header(frame: &[u8]) -> &[u8] {
    &frame[ETH_LEN..ETH_LEN + IPV4_LEN]
}

fn mac(bytes: &[u8]) -> [u8; 6] {
    let mut mac = [0; 6];
    mac.copy_from_slice(bytes);
    mac
}

fn ip(bytes: &[u8]) -> [u8; 4] {
    let mut ip = [0; 4];
    ip.copy_from_slice(bytes);
    ip
}

// The layout's widths are what the copies above assume.
const _: () = {
    assert!(eth::SRC_MAC.width == 6 && eth::DST_MAC.width == 6);
    assert!(ipv4::SRC_IP.width == 4 && ipv4::DST_IP.width == 4);
};
