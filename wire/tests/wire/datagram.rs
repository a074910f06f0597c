//! The datagram codec on known messages: exact bytes, round trips, and the
//! header struct.

use riptide_wire::layout::{RIPTIDE_HEADER_LEN, VERSION, header};
use riptide_wire::{Ballot, Envelope, Header, Message, MsgType};

use crate::samples::{GROUP, envelope, envelopes};

#[test]
fn every_sample_round_trips() {
    for sample in envelopes() {
        let datagram = sample.encode();
        assert_eq!(Envelope::decode(&datagram, GROUP), Ok(sample));
    }
}

#[test]
fn samples_cover_every_type() {
    let codes: Vec<u8> = envelopes()
        .iter()
        .map(|e| e.message.msg_type().code())
        .collect();
    let all: Vec<u8> = MsgType::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(codes, all);
}

#[test]
fn accept_is_header_plus_raw_value() {
    let datagram = Envelope {
        group: 0x0102,
        sender: 3,
        life: 0,
        message: Message::Accept {
            ballot: Ballot::new(1, 3),
            slot: 0x1122_3344_5566_7788,
            commit: 5,
            value: vec![0xaa, 0xbb],
        },
    }
    .encode();
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        VERSION, 0x01, 0x01, 0x02, 3, 0, 0, 2,
        0, 0, 0, 0, 0, 0, 1, 3,
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0, 0, 0, 0, 0, 0, 0, 5,
        0xaa, 0xbb,
    ];
    assert_eq!(datagram, expected);
}

#[test]
fn promise_body_is_lives_then_count_then_slot_ballot_len_value() {
    let datagram = Envelope {
        group: 1,
        sender: 0,
        life: 0,
        message: Message::Promise {
            ballot: Ballot::new(2, 0),
            commit: 0,
            lives: vec![0; 3],
            entries: vec![riptide_wire::Entry {
                slot: 1,
                ballot: Ballot::new(1, 1),
                value: vec![9],
            }],
        },
    }
    .encode();
    let body = &datagram[RIPTIDE_HEADER_LEN..];
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1,
        0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 1, 1,
        0, 1, 9,
    ];
    assert_eq!(body, expected);
    assert_eq!(header::PAYLOAD_LEN.get(&datagram), expected.len() as u64);
}

#[test]
fn client_reply_options_are_tagged() {
    let reply = |leader, result| {
        Envelope {
            group: 1,
            sender: 0,
            life: 0,
            message: Message::ClientReply {
                client: 1,
                request: 2,
                leader,
                result,
            },
        }
        .encode()[RIPTIDE_HEADER_LEN + 16..]
            .to_vec()
    };
    assert_eq!(reply(None, None), [0, 0]);
    assert_eq!(reply(Some(4), Some(vec![7])), [1, 4, 1, 0, 1, 7]);
}

#[test]
fn header_encodes_and_decodes_every_field() {
    let header = Header {
        version: 9,
        msg_type: 0xee,
        group: 0xabcd,
        sender: 5,
        life: 0x80,
        payload_len: 0x1234,
        ballot: Ballot(u64::MAX - 1),
        slot: 1 << 40,
        commit: 3,
    };
    let bytes = header.encode();
    assert_eq!(bytes.len(), RIPTIDE_HEADER_LEN);
    assert_eq!(Header::decode(&bytes), Ok(header));
    // Anything after the header is left alone.
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[1, 2, 3]);
    assert_eq!(Header::decode(&longer), Ok(header));
}

#[test]
fn msg_type_codes_map_back_and_phase2_is_below_0x10() {
    for t in MsgType::ALL {
        assert_eq!(MsgType::from_u8(t.code()), Ok(t));
        assert_eq!(t.is_phase2(), t.code() < 0x10);
    }
    let unknown = (0..=u8::MAX)
        .filter(|&code| MsgType::from_u8(code).is_err())
        .count();
    assert_eq!(unknown, 256 - MsgType::ALL.len());
}

#[test]
fn phase2_messages_have_no_body_but_accept_value() {
    for t in MsgType::ALL.into_iter().filter(|t| t.is_phase2()) {
        let datagram = envelope(t.code()).encode();
        let expected_payload = match t {
            MsgType::Accept => b"value".len(),
            _ => 0,
        };
        assert_eq!(
            datagram.len(),
            RIPTIDE_HEADER_LEN + expected_payload,
            "{t:?}"
        );
    }
}
