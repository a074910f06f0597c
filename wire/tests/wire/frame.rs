//! The frame codec on known frames: exact layout, checksum, padding.

use riptide_wire::layout::{
    ETH_MIN_FRAME, FRAME_HEADER_LEN, RIPTIDE_OFFSET, UDP_PORT, eth, ipv4, udp,
};
use riptide_wire::{Endpoint, FrameView, decode_frame, encode_frame, ipv4_checksum};

use crate::samples::envelopes;

pub const SRC: Endpoint = Endpoint {
    mac: [0x02, 0, 0, 0, 0, 1],
    ip: [10, 0, 0, 1],
    port: 40_001,
};
pub const DST: Endpoint = Endpoint {
    mac: [0x02, 0, 0, 0, 0, 2],
    ip: [10, 0, 0, 2],
    port: UDP_PORT,
};

#[test]
fn checksum_matches_the_textbook_example() {
    // The IPv4 header example from Wikipedia's "Internet checksum" article.
    let mut header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_checksum(&header), 0xb861);
    header[10..12].copy_from_slice(&[0xb8, 0x61]);
    assert_eq!(ipv4_checksum(&header), 0);
}

#[test]
fn checksum_folds_carries_and_pads_odd_lengths() {
    assert_eq!(ipv4_checksum(&[0xff, 0xff, 0x00, 0x01]), !0x0001);
    assert_eq!(ipv4_checksum(&[0x12]), !0x1200);
    assert_eq!(ipv4_checksum(&[]), 0xffff);
}

#[test]
fn encoded_frame_has_every_field_per_layout() {
    let datagram = envelopes()[0].encode();
    let frame = encode_frame(&SRC, &DST, &datagram);
    assert_eq!(frame.len(), RIPTIDE_OFFSET + datagram.len());
    assert_eq!(eth::DST_MAC.bytes(&frame), DST.mac);
    assert_eq!(eth::SRC_MAC.bytes(&frame), SRC.mac);
    assert_eq!(eth::ETHERTYPE.get(&frame), 0x0800);
    assert_eq!(ipv4::VERSION_IHL.get(&frame), 0x45);
    assert_eq!(ipv4::DSCP_ECN.get(&frame), 0);
    assert_eq!(ipv4::TOTAL_LEN.get(&frame), 28 + datagram.len() as u64);
    assert_eq!(ipv4::IDENT.get(&frame), 0);
    assert_eq!(ipv4::FLAGS_FRAG.get(&frame), 0x4000);
    assert_eq!(ipv4::TTL.get(&frame), 64);
    assert_eq!(ipv4::PROTOCOL.get(&frame), 17);
    assert_eq!(ipv4_checksum(&frame[14..34]), 0);
    assert_ne!(ipv4::CHECKSUM.get(&frame), 0);
    assert_eq!(ipv4::SRC_IP.bytes(&frame), SRC.ip);
    assert_eq!(ipv4::DST_IP.bytes(&frame), DST.ip);
    assert_eq!(udp::SRC_PORT.get(&frame), u64::from(SRC.port));
    assert_eq!(udp::DST_PORT.get(&frame), u64::from(DST.port));
    assert_eq!(udp::LENGTH.get(&frame), 8 + datagram.len() as u64);
    assert_eq!(udp::CHECKSUM.get(&frame), 0);
    assert_eq!(&frame[RIPTIDE_OFFSET..], datagram);
}

#[test]
fn every_sample_frame_round_trips() {
    for sample in envelopes() {
        let datagram = sample.encode();
        let frame = encode_frame(&SRC, &DST, &datagram);
        assert!(frame.len() >= FRAME_HEADER_LEN);
        assert_eq!(
            decode_frame(&frame, UDP_PORT),
            Ok(FrameView {
                src: SRC,
                dst: DST,
                datagram: &datagram,
            })
        );
    }
}

#[test]
fn short_datagrams_are_padded_and_padding_is_ignored() {
    let frame = encode_frame(&SRC, &DST, b"hi");
    assert_eq!(frame.len(), ETH_MIN_FRAME);
    assert!(frame[RIPTIDE_OFFSET + 2..].iter().all(|&b| b == 0));
    assert_eq!(decode_frame(&frame, UDP_PORT).unwrap().datagram, b"hi");

    let datagram = envelopes()[1].encode();
    let mut padded = encode_frame(&SRC, &DST, &datagram);
    padded.extend_from_slice(&[0xee; 7]);
    assert_eq!(decode_frame(&padded, UDP_PORT).unwrap().datagram, datagram);
}

#[test]
fn fields_other_stacks_set_differently_are_tolerated() {
    let datagram = envelopes()[2].encode();
    let mut frame = encode_frame(&SRC, &DST, &datagram);
    ipv4::DSCP_ECN.set(&mut frame, 0x2e);
    ipv4::IDENT.set(&mut frame, 0x1234);
    ipv4::FLAGS_FRAG.set(&mut frame, 0);
    ipv4::TTL.set(&mut frame, 3);
    udp::CHECKSUM.set(&mut frame, 0xbeef);
    ipv4::CHECKSUM.set(&mut frame, 0);
    let checksum = ipv4_checksum(&frame[14..34]);
    ipv4::CHECKSUM.set(&mut frame, checksum.into());
    assert_eq!(decode_frame(&frame, UDP_PORT).unwrap().datagram, datagram);
}
