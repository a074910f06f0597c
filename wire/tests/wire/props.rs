//! Property tests, with a fixed seed so a failure replays exactly: round trips
//! of arbitrary messages and frames, and arbitrary bytes never panicking.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use riptide_wire::layout::{RIPTIDE_HEADER_LEN, VERSION};
use riptide_wire::{
    Ballot, Endpoint, Entry, Envelope, FrameView, Header, Message, MsgType, decode_frame,
    encode_frame,
};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Zero matters (unused fields, "nothing chosen"), so it is drawn often.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..1000]
}

fn ballot() -> impl Strategy<Value = Ballot> {
    number().prop_map(Ballot)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..16), vec(any::<u8>(), 0..600)]
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    vec(
        (number(), ballot(), value()).prop_map(|(slot, ballot, value)| Entry {
            slot,
            ballot,
            value,
        }),
        0..6,
    )
}

/// A crash vector of up to `MAX_REPLICAS` entries.
fn lives() -> impl Strategy<Value = Vec<u32>> {
    vec(any::<u32>(), 0..=riptide_wire::regs::MAX_REPLICAS)
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (ballot(), number(), number(), value()).prop_map(|(ballot, slot, commit, value)| {
            Message::Accept {
                ballot,
                slot,
                commit,
                value,
            }
        }),
        (ballot(), number()).prop_map(|(ballot, slot)| Message::Accepted { ballot, slot }),
        (ballot(), number()).prop_map(|(ballot, commit)| Message::Commit { ballot, commit }),
        (ballot(), number()).prop_map(|(ballot, slot)| Message::Nack { ballot, slot }),
        (ballot(), number(), lives()).prop_map(|(ballot, commit, lives)| Message::Prepare {
            ballot,
            commit,
            lives
        }),
        (ballot(), number(), lives(), entries()).prop_map(|(ballot, commit, lives, entries)| {
            Message::Promise {
                ballot,
                commit,
                lives,
                entries,
            }
        }),
        (ballot(), number()).prop_map(|(ballot, from)| Message::CatchupRequest { ballot, from }),
        (ballot(), number(), entries()).prop_map(|(ballot, commit, entries)| {
            Message::CatchupResponse {
                ballot,
                commit,
                entries,
            }
        }),
        (number(), lives()).prop_map(|(nonce, lives)| Message::RecoveryRequest { nonce, lives }),
        (number(), ballot(), number(), lives(), entries()).prop_map(
            |(nonce, ballot, commit, lives, entries)| Message::RecoveryResponse {
                nonce,
                ballot,
                commit,
                lives,
                entries,
            }
        ),
        (ballot(), number(), number()).prop_map(|(ballot, slot, offset)| {
            Message::SnapshotRequest {
                ballot,
                slot,
                offset,
            }
        }),
        (ballot(), number(), number(), (number(), number()), value()).prop_map(
            |(ballot, slot, commit, (total, offset), data)| Message::SnapshotChunk {
                ballot,
                slot,
                commit,
                total,
                offset,
                data,
            }
        ),
        (number(), number(), number(), value()).prop_map(|(client, request, cookie, command)| {
            Message::ClientRequest {
                client,
                request,
                cookie,
                command,
            }
        }),
        (
            number(),
            number(),
            proptest::option::of(any::<u8>()),
            proptest::option::of(value())
        )
            .prop_map(|(client, request, leader, result)| Message::ClientReply {
                client,
                request,
                leader,
                result,
            }),
    ]
}

pub fn envelope() -> impl Strategy<Value = Envelope> {
    (any::<u16>(), any::<u8>(), message()).prop_map(|(group, sender, message)| Envelope {
        group,
        sender,
        life: 0,
        message,
    })
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (any::<[u8; 6]>(), any::<[u8; 4]>(), any::<u16>()).prop_map(|(mac, ip, port)| Endpoint {
        mac,
        ip,
        port,
    })
}

/// A header that passes the checks before the body (version, known type),
/// with arbitrary other fields, followed by arbitrary body bytes: reaches the
/// body decoder far more often than uniformly random bytes.
fn plausible_datagram() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(MsgType::ALL.to_vec()),
        any::<(u16, u8)>(),
        prop_oneof![Just(0u8), any::<u8>()],
        (ballot(), number(), number()),
        vec(any::<u8>(), 0..80),
        any::<bool>(),
    )
        .prop_map(
            |(t, (group, sender), life, (ballot, slot, commit), body, honest_len)| {
                let header = Header {
                    version: VERSION,
                    msg_type: t.code(),
                    group,
                    sender,
                    life,
                    payload_len: if honest_len { body.len() as u16 } else { 7 },
                    ballot,
                    slot,
                    commit,
                };
                let mut datagram = header.encode().to_vec();
                datagram.extend_from_slice(&body);
                datagram
            },
        )
}

/// The decoder's contract on any input: it returns (no panic), and what it
/// accepts is canonical.
fn check_datagram(bytes: &[u8]) -> Result<(), TestCaseError> {
    if bytes.len() >= RIPTIDE_HEADER_LEN {
        let group = Header::decode(bytes).unwrap().group;
        if let Ok(envelope) = Envelope::decode(bytes, group) {
            prop_assert_eq!(envelope.encode(), bytes);
        }
    } else {
        prop_assert!(Envelope::decode(bytes, 0).is_err());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_envelope_round_trips(envelope in envelope()) {
        let datagram = envelope.encode();
        prop_assert_eq!(Envelope::decode(&datagram, envelope.group), Ok(envelope));
    }

    #[test]
    fn any_frame_round_trips(
        src in endpoint(),
        dst in endpoint(),
        datagram in vec(any::<u8>(), 0..300),
    ) {
        let frame = encode_frame(&src, &dst, &datagram);
        prop_assert_eq!(
            decode_frame(&frame, dst.port),
            Ok(FrameView { src, dst, datagram: &datagram })
        );
    }

    #[test]
    fn any_envelope_survives_the_frame_round_trip(
        envelope in envelope(),
        src in endpoint(),
        dst in endpoint(),
    ) {
        let frame = encode_frame(&src, &dst, &envelope.encode());
        let view = decode_frame(&frame, dst.port).unwrap();
        prop_assert_eq!(Envelope::decode(view.datagram, envelope.group), Ok(envelope));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..200), port in any::<u16>()) {
        check_datagram(&bytes)?;
        let _ = decode_frame(&bytes, port);
        let _ = Header::decode(&bytes);
    }

    #[test]
    fn plausible_datagrams_are_rejected_or_canonical(datagram in plausible_datagram()) {
        check_datagram(&datagram)?;
    }

    #[test]
    fn arbitrary_bytes_behind_valid_frame_headers_never_panic(
        src in endpoint(),
        dst in endpoint(),
        datagram in vec(any::<u8>(), 0..120),
        cut in any::<prop::sample::Index>(),
    ) {
        // A well-formed frame around junk, then cut anywhere: exercises every
        // length check on the way in.
        let frame = encode_frame(&src, &dst, &datagram);
        let frame = &frame[..cut.index(frame.len() + 1)];
        if let Ok(view) = decode_frame(frame, dst.port) {
            prop_assert_eq!(view.datagram, &datagram[..]);
            check_datagram(view.datagram)?;
        }
    }
}
