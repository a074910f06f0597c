//! One targeted malformation per `DecodeError` variant, and a check that the
//! cases together produce every reason the docs and counters list.

use std::collections::BTreeSet;

use riptide_wire::layout::{
    ETH_LEN, IPV4_LEN, MAX_DATAGRAM, MAX_PAYLOAD, RIPTIDE_HEADER_LEN, RIPTIDE_OFFSET, UDP_PORT,
    VERSION, eth, header, ipv4, udp,
};
use riptide_wire::{
    Ballot, DecodeError, EncodeError, Envelope, Message, MsgType, decode_frame, encode_frame,
    ipv4_checksum,
};

use crate::frame::{DST, SRC};
use crate::samples::{GROUP, envelope};

fn datagram(t: MsgType) -> Vec<u8> {
    envelope(t.code()).encode()
}

fn decode(datagram: &[u8]) -> Result<Envelope, DecodeError> {
    Envelope::decode(datagram, GROUP)
}

/// `datagram`'s header with `payload` (and a payload length that matches it).
fn with_payload(datagram: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = datagram[..RIPTIDE_HEADER_LEN].to_vec();
    out.extend_from_slice(payload);
    header::PAYLOAD_LEN.set(&mut out, payload.len() as u64);
    out
}

fn payload(datagram: &[u8]) -> &[u8] {
    &datagram[RIPTIDE_HEADER_LEN..]
}

fn frame() -> Vec<u8> {
    encode_frame(&SRC, &DST, &datagram(MsgType::Accept))
}

/// Makes the IPv4 checksum right again after a test changed a header field,
/// so the check under test is the one that fails.
fn fix_checksum(frame: &mut [u8]) {
    ipv4::CHECKSUM.set(frame, 0);
    let checksum = ipv4_checksum(&frame[ETH_LEN..ETH_LEN + IPV4_LEN]);
    ipv4::CHECKSUM.set(frame, checksum.into());
}

fn frame_with(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut frame = frame();
    edit(&mut frame);
    fix_checksum(&mut frame);
    frame
}

/// Every malformation with the error it must produce.
fn cases() -> Vec<(&'static str, Result<(), DecodeError>, DecodeError)> {
    let frame_err = |frame: &[u8]| decode_frame(frame, UDP_PORT).map(|_| ());
    let datagram_err = |datagram: &[u8]| decode(datagram).map(|_| ());
    let accept = datagram(MsgType::Accept);
    let entries = datagram(MsgType::CatchupResponse);
    let good_frame = frame();
    let mut cases = vec![
        (
            "frame cut inside the UDP header",
            frame_err(&good_frame[..RIPTIDE_OFFSET - 1]),
            DecodeError::Short {
                len: RIPTIDE_OFFSET - 1,
                need: RIPTIDE_OFFSET,
            },
        ),
        (
            "IPv6 ethertype",
            frame_err(&frame_with(|f| eth::ETHERTYPE.set(f, 0x86dd))),
            DecodeError::NotIpv4 { ethertype: 0x86dd },
        ),
        (
            "IPv4 options (IHL 6)",
            frame_err(&frame_with(|f| ipv4::VERSION_IHL.set(f, 0x46))),
            DecodeError::BadIpVersionIhl { version_ihl: 0x46 },
        ),
        (
            "IP version 6 in an IPv4 ethertype",
            frame_err(&frame_with(|f| ipv4::VERSION_IHL.set(f, 0x65))),
            DecodeError::BadIpVersionIhl { version_ihl: 0x65 },
        ),
        (
            "one flipped byte in the source address",
            frame_err(&{
                let mut f = good_frame.clone();
                f[ipv4::SRC_IP.offset] ^= 0x01;
                f
            }),
            DecodeError::BadIpChecksum {
                stored: ipv4::CHECKSUM.get(&good_frame) as u16,
            },
        ),
        (
            "more-fragments flag",
            frame_err(&frame_with(|f| ipv4::FLAGS_FRAG.set(f, 0x6000))),
            DecodeError::Fragmented { flags_frag: 0x6000 },
        ),
        (
            "nonzero fragment offset",
            frame_err(&frame_with(|f| ipv4::FLAGS_FRAG.set(f, 0x0001))),
            DecodeError::Fragmented { flags_frag: 0x0001 },
        ),
        (
            "TCP",
            frame_err(&frame_with(|f| ipv4::PROTOCOL.set(f, 6))),
            DecodeError::NotUdp { protocol: 6 },
        ),
        (
            "frame cut inside the datagram",
            frame_err(&good_frame[..good_frame.len() - 1]),
            DecodeError::BadIpLength {
                total_len: good_frame.len() - ETH_LEN,
                present: good_frame.len() - ETH_LEN - 1,
            },
        ),
        (
            "IPv4 total length below IPv4 + UDP headers",
            frame_err(&frame_with(|f| ipv4::TOTAL_LEN.set(f, 27))),
            DecodeError::BadIpLength {
                total_len: 27,
                present: good_frame.len() - ETH_LEN,
            },
        ),
        (
            "UDP length one too long",
            frame_err(&frame_with(|f| {
                let len = udp::LENGTH.get(f);
                udp::LENGTH.set(f, len + 1)
            })),
            DecodeError::BadUdpLength {
                udp_len: good_frame.len() - ETH_LEN - IPV4_LEN + 1,
                expected: good_frame.len() - ETH_LEN - IPV4_LEN,
            },
        ),
        (
            "another UDP port",
            decode_frame(&good_frame, UDP_PORT + 1).map(|_| ()),
            DecodeError::WrongPort {
                port: UDP_PORT,
                expected: UDP_PORT + 1,
            },
        ),
        (
            "datagram cut inside the header",
            datagram_err(&accept[..RIPTIDE_HEADER_LEN - 1]),
            DecodeError::Short {
                len: RIPTIDE_HEADER_LEN - 1,
                need: RIPTIDE_HEADER_LEN,
            },
        ),
        (
            "version 2",
            datagram_err(&{
                let mut d = accept.clone();
                header::VERSION.set(&mut d, 2);
                d
            }),
            DecodeError::BadVersion {
                version: 2,
                expected: VERSION,
            },
        ),
        (
            "type 0x05",
            datagram_err(&{
                let mut d = accept.clone();
                header::MSG_TYPE.set(&mut d, 0x05);
                d
            }),
            DecodeError::UnknownType { code: 0x05 },
        ),
        (
            "another group",
            Envelope::decode(&accept, GROUP + 1).map(|_| ()),
            DecodeError::WrongGroup {
                group: GROUP,
                expected: GROUP + 1,
            },
        ),
        (
            "one byte more than the payload length says",
            datagram_err(&[&accept[..], &[0]].concat()),
            DecodeError::PayloadLenMismatch {
                declared: accept.len() - RIPTIDE_HEADER_LEN,
                present: accept.len() - RIPTIDE_HEADER_LEN + 1,
            },
        ),
        (
            "datagram cut inside the payload",
            datagram_err(&accept[..accept.len() - 1]),
            DecodeError::PayloadLenMismatch {
                declared: accept.len() - RIPTIDE_HEADER_LEN,
                present: accept.len() - RIPTIDE_HEADER_LEN - 1,
            },
        ),
        (
            "payload longer than a datagram may carry",
            datagram_err(&with_payload(&accept, &vec![0; MAX_PAYLOAD + 1])),
            DecodeError::Oversize {
                len: MAX_PAYLOAD + 1,
                max: MAX_PAYLOAD,
            },
        ),
        (
            "ACCEPTED with a commit",
            datagram_err(&{
                let mut d = datagram(MsgType::Accepted);
                header::COMMIT.set(&mut d, 1);
                d
            }),
            DecodeError::UnusedNonZero { field: "COMMIT" },
        ),
        (
            "COMMIT with a slot",
            datagram_err(&{
                let mut d = datagram(MsgType::Commit);
                header::SLOT.set(&mut d, 1);
                d
            }),
            DecodeError::UnusedNonZero { field: "SLOT" },
        ),
        (
            "CLIENT_REQUEST with a ballot",
            datagram_err(&{
                let mut d = datagram(MsgType::ClientRequest);
                header::BALLOT.set(&mut d, 1);
                d
            }),
            DecodeError::UnusedNonZero { field: "BALLOT" },
        ),
        (
            "CATCHUP_RESPONSE cut inside its last entry",
            datagram_err(&with_payload(&entries, &payload(&entries)[..40])),
            DecodeError::BodyTruncated {
                need: 8,
                remaining: 5,
            },
        ),
        (
            "RECOVERY_REQUEST with half a nonce",
            datagram_err(&with_payload(&datagram(MsgType::RecoveryRequest), &[0; 4])),
            DecodeError::BodyTruncated {
                need: 8,
                remaining: 4,
            },
        ),
        (
            "value length beyond the body",
            datagram_err(&with_payload(
                &datagram(MsgType::ClientRequest),
                &[&[0u8; 24][..], &[0, 9, 1, 2]].concat(),
            )),
            DecodeError::BodyTruncated {
                need: 9,
                remaining: 2,
            },
        ),
        (
            "ACCEPTED with a payload",
            datagram_err(&with_payload(&datagram(MsgType::Accepted), &[0])),
            DecodeError::TrailingBytes { extra: 1 },
        ),
        (
            "CATCHUP_RESPONSE with a byte after its entries",
            datagram_err(&with_payload(&entries, &[payload(&entries), &[7]].concat())),
            DecodeError::TrailingBytes { extra: 1 },
        ),
        (
            "CLIENT_REPLY with option tag 2",
            datagram_err(&with_payload(
                &datagram(MsgType::ClientReply),
                &[&[0u8; 16][..], &[2, 0]].concat(),
            )),
            DecodeError::BadOptionTag { tag: 2 },
        ),
        (
            "CATCHUP_RESPONSE claiming 65535 entries in 20 bytes",
            datagram_err(&with_payload(
                &entries,
                &[&[0xff, 0xff][..], &[0; 20]].concat(),
            )),
            DecodeError::AbsurdCount {
                count: 0xffff,
                remaining: 20,
            },
        ),
        (
            "PREPARE with a crash vector of 9 replicas",
            datagram_err(&with_payload(
                &datagram(MsgType::Prepare),
                &[&[9][..], &[0; 36]].concat(),
            )),
            DecodeError::AbsurdCount {
                count: 9,
                remaining: 36,
            },
        ),
        (
            "PREPARE cut inside its crash vector",
            datagram_err(&with_payload(
                &datagram(MsgType::Prepare),
                &[3, 0, 0, 0, 0, 0, 0],
            )),
            DecodeError::AbsurdCount {
                count: 3,
                remaining: 6,
            },
        ),
    ];
    // The plausibility bound is exact: one byte short of the entries' fixed
    // parts is absurd (one byte more would be read as empty entries).
    let barely = [&[0x0d, 0xe0][..], &vec![0; 3552 * 18 - 1]].concat();
    cases.push((
        "3552 entries, one byte short of their fixed parts",
        datagram_err(&with_payload(&entries, &barely)),
        DecodeError::AbsurdCount {
            count: 0x0de0,
            remaining: 3552 * 18 - 1,
        },
    ));
    cases
}

#[test]
fn every_malformation_gives_its_error() {
    for (what, got, want) in cases() {
        assert_eq!(got, Err(want), "{what}");
    }
}

#[test]
fn the_cases_cover_every_reason_and_reasons_are_stable_names() {
    let listed: Vec<&str> = DecodeError::REASONS.iter().map(|(r, _)| *r).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "duplicate reason names");
    for reason in &listed {
        assert!(
            reason
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{reason} is not snake_case"
        );
    }
    let produced: BTreeSet<&str> = cases().iter().map(|(_, _, want)| want.reason()).collect();
    assert_eq!(produced, unique);
}

#[test]
fn oversize_messages_are_refused_by_try_encode() {
    let accept = |len| Envelope {
        group: GROUP,
        sender: 0,
        life: 0,
        message: Message::Accept {
            ballot: Ballot::new(1, 0),
            slot: 1,
            commit: 0,
            value: vec![0x5a; len],
        },
    };
    let largest = accept(MAX_PAYLOAD).try_encode().unwrap();
    assert_eq!(largest.len(), MAX_DATAGRAM);
    assert_eq!(decode(&largest), Ok(accept(MAX_PAYLOAD)));
    assert_eq!(
        accept(MAX_PAYLOAD + 1).try_encode(),
        Err(EncodeError::Oversize {
            len: MAX_PAYLOAD + 1,
            max: MAX_PAYLOAD,
        })
    );
    // A value over 2^16 bytes inside an entry must not wrap its length prefix.
    let promise = Envelope {
        group: GROUP,
        sender: 0,
        life: 0,
        message: Message::Promise {
            ballot: Ballot::new(1, 0),
            commit: 0,
            lives: vec![0; 3],
            entries: vec![riptide_wire::Entry {
                slot: 1,
                ballot: Ballot::new(1, 0),
                value: vec![0; 1 << 16],
            }],
        },
    };
    assert!(matches!(
        promise.try_encode(),
        Err(EncodeError::Oversize { .. })
    ));
    // The largest datagram still fits a frame.
    let frame = encode_frame(&SRC, &DST, &largest);
    assert_eq!(decode_frame(&frame, UDP_PORT).unwrap().datagram, largest);
}

#[test]
#[should_panic(expected = "cannot encode")]
fn encode_panics_on_oversize_instead_of_truncating() {
    Envelope {
        group: GROUP,
        sender: 0,
        life: 0,
        message: Message::ClientRequest {
            client: 1,
            request: 1,
            cookie: 0,
            command: vec![0; MAX_PAYLOAD],
        },
    }
    .encode();
}

#[test]
#[should_panic(expected = "does not fit an IPv4 packet")]
fn encode_frame_panics_on_a_datagram_beyond_ipv4() {
    encode_frame(&SRC, &DST, &vec![0; MAX_DATAGRAM + 1]);
}
