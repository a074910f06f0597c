//! Deterministic mutation fuzzing: valid datagrams and frames, mutated by a
//! seeded generator, must never panic a decoder, and whatever a decoder
//! accepts must re-encode to the same bytes (datagrams exactly; frames up to
//! the fields receivers deliberately ignore).

use std::collections::BTreeMap;

use riptide_wire::layout::{
    self, ETH_LEN, ETH_MIN_FRAME, IPV4_LEN, RIPTIDE_HEADER_LEN, UDP_PORT, header, ipv4, udp,
};
use riptide_wire::{DecodeError, Envelope, Message, decode_frame, encode_frame, ipv4_checksum};

use crate::frame::{DST, SRC};
use crate::samples::{GROUP, envelopes};

const SEED: u64 = 0x7269_7074_6964_6501;
const ROUNDS: usize = 50_000;

/// SplitMix64: tiny, seeded, and replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// Values at the edges of fields, where decoders go wrong.
    fn interesting(&mut self) -> u64 {
        let edges = [0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x1_0000, u64::MAX];
        match self.below(2) {
            0 => edges[self.below(edges.len())],
            _ => self.next() >> (self.below(64)),
        }
    }
}

/// Valid datagrams of every type, some with bigger values and entry lists.
fn corpus() -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = envelopes().iter().map(Envelope::encode).collect();
    for mut sample in envelopes() {
        match &mut sample.message {
            Message::Accept { value, .. } => value.resize(300, 0xa5),
            Message::Promise { entries, .. } => entries.extend(entries.clone()),
            Message::ClientReply { leader, result, .. } => {
                *leader = None;
                *result = None;
            }
            _ => continue,
        }
        corpus.push(sample.encode());
    }
    corpus
}

/// One random edit: bit flip, byte set, field overwrite, truncation,
/// extension, insertion or deletion.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, fields: &[layout::Field], base: usize) {
    match rng.below(7) {
        0 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        1 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] = rng.byte();
        }
        2 => {
            let field = fields[rng.below(fields.len())];
            if base + field.end() <= bytes.len() {
                field.set(&mut bytes[base..], rng.interesting());
            }
        }
        3 => bytes.truncate(rng.below(bytes.len() + 1)),
        4 => (0..1 + rng.below(24)).for_each(|_| bytes.push(rng.byte())),
        5 => {
            let at = rng.below(bytes.len() + 1);
            bytes.insert(at, rng.byte());
        }
        _ if !bytes.is_empty() => {
            bytes.remove(rng.below(bytes.len()));
        }
        _ => {}
    }
}

fn mutations(rng: &mut Rng, bytes: &mut Vec<u8>, fields: &[layout::Field], base: usize) {
    for _ in 0..1 + rng.below(3) {
        mutate(rng, bytes, fields, base);
    }
}

/// Half the time, makes the datagram's payload length honest again, so the
/// checks behind it (unused fields, bodies) see the mutated bytes.
fn maybe_fix_payload_len(rng: &mut Rng, datagram: &mut [u8]) {
    if rng.below(2) == 0 && datagram.len() >= RIPTIDE_HEADER_LEN {
        let len = datagram.len() - RIPTIDE_HEADER_LEN;
        header::PAYLOAD_LEN.set(datagram, len as u64);
    }
}

/// Half the time, makes the frame's lengths and checksum right again, so
/// the checks behind them see the mutated bytes.
fn maybe_fix_frame(rng: &mut Rng, frame: &mut [u8]) {
    if rng.below(2) == 0 || frame.len() < ETH_LEN + IPV4_LEN + 8 {
        return;
    }
    if rng.below(2) == 0 {
        let ip_len = frame.len() - ETH_LEN;
        ipv4::TOTAL_LEN.set(frame, ip_len as u64);
        udp::LENGTH.set(frame, (ip_len - IPV4_LEN) as u64);
    }
    ipv4::CHECKSUM.set(frame, 0);
    let checksum = ipv4_checksum(&frame[ETH_LEN..ETH_LEN + IPV4_LEN]);
    ipv4::CHECKSUM.set(frame, checksum.into());
}

/// What `encode_frame` would make of an accepted frame: its IP packet with
/// the fields receivers ignore set as riptide sends them, padding as
/// riptide pads.
fn canonical_frame(frame: &[u8]) -> Vec<u8> {
    let ip_len = ipv4::TOTAL_LEN.get(frame) as usize;
    let mut canonical = frame[..ETH_LEN + ip_len].to_vec();
    canonical.resize(canonical.len().max(ETH_MIN_FRAME), 0);
    ipv4::DSCP_ECN.set(&mut canonical, 0);
    ipv4::IDENT.set(&mut canonical, 0);
    ipv4::FLAGS_FRAG.set(&mut canonical, layout::IPV4_FLAG_DF.into());
    ipv4::TTL.set(&mut canonical, layout::IPV4_TTL.into());
    udp::CHECKSUM.set(&mut canonical, 0);
    ipv4::CHECKSUM.set(&mut canonical, 0);
    let checksum = ipv4_checksum(&canonical[ETH_LEN..ETH_LEN + IPV4_LEN]);
    ipv4::CHECKSUM.set(&mut canonical, checksum.into());
    canonical
}

/// Decodes a datagram as a receiver would; on success, checks it is canonical.
fn check_datagram(datagram: &[u8], context: &str) -> Result<(), DecodeError> {
    let envelope = Envelope::decode(datagram, GROUP)?;
    assert_eq!(
        envelope.encode(),
        datagram,
        "{context}: accepted, not canonical"
    );
    Ok(())
}

type Tally = BTreeMap<&'static str, usize>;

fn count(tally: &mut Tally, result: Result<(), DecodeError>) {
    *tally
        .entry(result.err().map_or("accepted", |e| e.reason()))
        .or_default() += 1;
}

#[test]
fn mutated_datagrams_never_panic_and_accepted_ones_are_canonical() {
    let corpus = corpus();
    let mut rng = Rng(SEED);
    let mut tally = Tally::new();
    for round in 0..ROUNDS {
        let mut datagram = corpus[rng.below(corpus.len())].clone();
        mutations(&mut rng, &mut datagram, header::FIELDS, 0);
        maybe_fix_payload_len(&mut rng, &mut datagram);
        let context = format!("seed {SEED:#x} round {round}: {datagram:02x?}");
        count(&mut tally, check_datagram(&datagram, &context));
    }
    // The fuzzer must reach every datagram check (an oversize payload needs
    // 64 KiB and is covered by the targeted tests) and still let some through.
    for reason in [
        "accepted",
        "short",
        "bad_version",
        "unknown_type",
        "wrong_group",
        "payload_len_mismatch",
        "unused_nonzero",
        "body_truncated",
        "trailing_bytes",
        "bad_option_tag",
        "absurd_count",
    ] {
        assert!(
            tally.get(reason) >= Some(&20),
            "{reason} rarely reached: {tally:?}"
        );
    }
}

#[test]
fn mutated_frames_never_panic_and_accepted_ones_are_canonical() {
    let corpus = corpus();
    let all_fields: Vec<layout::Field> = [
        layout::eth::FIELDS,
        layout::ipv4::FIELDS,
        layout::udp::FIELDS,
    ]
    .concat();
    let mut rng = Rng(SEED ^ 1);
    let mut tally = Tally::new();
    for round in 0..ROUNDS {
        let datagram = &corpus[rng.below(corpus.len())];
        let mut frame = encode_frame(&SRC, &DST, datagram);
        mutations(&mut rng, &mut frame, &all_fields, 0);
        maybe_fix_frame(&mut rng, &mut frame);
        let context = format!("seed {:#x} round {round}: {frame:02x?}", SEED ^ 1);
        let result = decode_frame(&frame, UDP_PORT).map(|view| {
            assert_eq!(
                encode_frame(&view.src, &view.dst, view.datagram),
                canonical_frame(&frame),
                "{context}: accepted, re-encodes differently"
            );
            // Whatever the frame let through still faces the datagram checks.
            let _ = check_datagram(view.datagram, &context);
        });
        count(&mut tally, result);
    }
    for reason in [
        "accepted",
        "short",
        "not_ipv4",
        "bad_ip_version_ihl",
        "bad_ip_checksum",
        "fragmented",
        "not_udp",
        "bad_ip_length",
        "bad_udp_length",
        "wrong_port",
    ] {
        assert!(
            tally.get(reason) >= Some(&20),
            "{reason} rarely reached: {tally:?}"
        );
    }
}
