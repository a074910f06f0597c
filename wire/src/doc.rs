//! The generated part of `docs/wire.md`: frame layout, the NIC's own
//! address, host records, message types, body encodings, sizes, drop reasons
//! and the order of checks, rendered from the definitions the codecs
//! use, so the document cannot drift from the code.

use std::fmt::Write;

use crate::DecodeError;
use crate::layout::{
    ETH_FCS_LEN, ETH_IFG_LEN, ETH_PREAMBLE_LEN, FRAME_HEADER_LEN, Field, IPV4_LEN, MAX_PAYLOAD,
    RIPTIDE_HEADER_LEN, RIPTIDE_OFFSET, UDP_LEN, UDP_PORT, VERSION, eth, header, ipv4, udp,
};
use crate::message::{MsgType, body};
use crate::records::{
    ACCEPTED_VALUE_OFFSET, C2H_KINDS, FIELDS, H2C_KINDS, PUNTED_FRAME_OFFSET, RECORD_HEADER_LEN,
};

/// The network-side datapath width of the fast path the sizes are given for.
const BUS_BITS: usize = 512;
/// The 100G CMAC's user clock, which the replication path runs in.
const BUS_CLOCK_MHZ: f64 = 322.265625;
const LINE_RATE_GBPS: f64 = 100.0;
/// ACCEPT value sizes worth a row in the size table: empty, the most that fits
/// two and three beats, one past two beats, and a few common sizes up to the
/// largest that fits a 1500-byte IP MTU.
const VALUE_SIZES: &[usize] = &[0, 54, 55, 118, 256, 1024, 1440];

/// The generated part of `docs/wire.md` (between its `generated` markers).
pub fn markdown() -> String {
    let mut out = String::new();
    frame_layout(&mut out);
    addresses(&mut out);
    host_records(&mut out);
    message_types(&mut out);
    body_encodings(&mut out);
    sizes(&mut out);
    drop_reasons(&mut out);
    out
}

fn frame_layout(out: &mut String) {
    out.push_str("## Frame layout\n\n");
    out.push_str(
        "Offsets are bytes from the first byte of the Ethernet frame (destination MAC), \
         as the NIC's stream presents it without FCS; every multi-byte field is \
         big-endian. At 512 bits per beat, frame byte `o` is byte `o % 64` of beat \
         `o / 64`.\n\n",
    );
    field_table(out, "Ethernet II", eth::FIELDS);
    field_table(out, "IPv4 (no options)", ipv4::FIELDS);
    field_table(out, "UDP", udp::FIELDS);
    let _ = writeln!(
        out,
        "The {RIPTIDE_HEADER_LEN}-byte riptide header starts at frame offset \
         {RIPTIDE_OFFSET}: the UDP payload, the *datagram*, starts with it; \"datagram offset\" is what \
         `riptide_wire::layout::header` gives. Version {VERSION}; default UDP port \
         {UDP_PORT}. The payload follows at frame offset {FRAME_HEADER_LEN}, at most \
         {MAX_PAYLOAD} bytes.\n"
    );
    out.push_str("### riptide header\n\n");
    out.push_str("| field | frame offset | datagram offset | width | meaning |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    for field in header::FIELDS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            field.name,
            RIPTIDE_OFFSET + field.offset,
            field.offset,
            field.width,
            cell(field.doc)
        );
    }
    out.push('\n');
}

fn addresses(out: &mut String) {
    out.push_str("## The NIC's own address\n\n");
    let _ = writeln!(
        out,
        "A NIC has no address registers of its own: its MAC, IPv4 address and \
         UDP port are its own entry of the peer table (`docs/registers.md`), the \
         entry whose index is `CFG_REPLICA_ID` as last applied. Frames it builds \
         (ACCEPTED, NACK, ACCEPT, COMMIT, host datagrams) carry that entry as \
         their source and the addressee's entry as their destination. A received \
         frame is riptide's when its UDP destination port equals that entry's \
         port (otherwise `wrong_port`); {UDP_PORT} is only the default port \
         software puts in the table, not a value the NIC assumes. The \
         destination MAC and IPv4 address of a received frame are not checked \
         (the MAC filters by MAC), nor are its source addresses: the sender is \
         the header's `SENDER`.\n"
    );
}

fn host_records(out: &mut String) {
    out.push_str("## Host records\n\n");
    let _ = writeln!(
        out,
        "Between host software and the NIC, one record per AXI4-Stream packet \
         (`tlast` ends it; XDMA/QDMA streaming mode), card-to-host (c2h) for \
         what the NIC reports and host-to-card (h2c) for what software asks \
         (`riptide_wire::records`). Every record starts with a \
         {RECORD_HEADER_LEN}-byte header, one 512-bit beat. **Header fields are \
         little-endian** (host byte order), unlike frame fields, which are \
         big-endian; bodies are bytes and keep their own encoding (a punted \
         frame or a transmitted datagram stays big-endian inside). A body \
         starts at an offset congruent modulo 64 with its place in the frame, \
         so the NIC moves it beat by beat with no byte shifter: an Accepted \
         value at {ACCEPTED_VALUE_OFFSET}, where it sits in the ACCEPT frame. \
         Bytes between the header and the body, and header bytes no field of \
         the kind uses, are written 0 and ignored on decode. A record whose \
         `len` disagrees with the bytes after its body offset is malformed.\n"
    );
    out.push_str("### Record header\n\n");
    out.push_str("| field | offset | width | meaning |\n|---|---:|---:|---|\n");
    for f in FIELDS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            f.name,
            f.offset,
            f.width,
            cell(f.doc)
        );
    }
    out.push('\n');
    for (title, kinds) in [
        ("Card-to-host kinds", C2H_KINDS),
        ("Host-to-card kinds", H2C_KINDS),
    ] {
        let _ = writeln!(out, "### {title}\n");
        out.push_str(
            "| `kind` | record | header fields | body at | body | size of a record with an n-byte body |\n\
             |---:|---|---|---:|---|---|\n",
        );
        for k in kinds {
            let fields: Vec<String> = k.fields.iter().map(|f| format!("`{}`", f.name)).collect();
            let (at, size) = match k.body_at {
                Some(at) => (at.to_string(), format!("{at} + n")),
                None => ("".to_string(), RECORD_HEADER_LEN.to_string()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {at} | {} | {size} |",
                k.code,
                k.name,
                fields.join(", "),
                cell(k.body)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "A punted frame sits at byte {PUNTED_FRAME_OFFSET}, on a beat boundary, \
         byte for byte as it came off the network. Committed and FenceDone \
         records are their header alone; `Configure`, `Fence` and `Heartbeat` \
         are register writes, not h2c records.\n"
    );
}

fn field_table(out: &mut String, title: &str, fields: &[Field]) {
    let _ = writeln!(out, "### {title}\n");
    out.push_str("| field | offset | width | meaning |\n");
    out.push_str("|---|---:|---:|---|\n");
    for field in fields {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            field.name,
            field.offset,
            field.width,
            cell(field.doc)
        );
    }
    out.push('\n');
}

/// Text for a table cell: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn message_types(out: &mut String) {
    out.push_str("## Message types\n\n");
    out.push_str(
        "Codes below 0x10 are phase 2: everything but an ACCEPT's value is in the \
         header, so the fast path never parses a payload. \"NIC\" says whether a \
         NIC in follower or leader role acts on the type itself (it still punts one \
         it must not decide, e.g. of a higher ballot) or always punts it to host \
         software. Header fields a type does not list are 0 on the wire, and a \
         receiver drops a datagram where one is not (`unused_nonzero`).\n\n",
    );
    out.push_str("| code | name | NIC | header fields used | payload |\n");
    out.push_str("|---|---|---|---|---|\n");
    for t in MsgType::ALL {
        let nic = match (t.handled_by_nic(), t.is_phase2()) {
            (true, _) => "fast path",
            (false, true) => "punted (phase-2 layout: the NIC sends it)",
            (false, false) => "punted",
        };
        let fields: Vec<String> = t
            .header_fields()
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect();
        let fields = if fields.is_empty() {
            "none".to_string()
        } else {
            fields.join(", ")
        };
        let _ = writeln!(
            out,
            "| `{:#04x}` | {} | {nic} | {fields} | {} |",
            t.code(),
            t.name(),
            t.payload()
        );
    }
    out.push_str(
        "\nCATCHUP_REQUEST's `SLOT` is the first slot asked for (`from`). \
         SNAPSHOT_REQUEST's and SNAPSHOT_CHUNK's `SLOT` is the last slot the \
         snapshot covers. The message structs are `riptide_wire::Message`.\n\n",
    );
}

fn body_encodings(out: &mut String) {
    out.push_str("## Body encodings\n\n");
    out.push_str(
        "Rare-path payloads are read front to back with this grammar; the body must \
         end exactly where `PAYLOAD_LEN` says (`body_truncated`, `trailing_bytes`). \
         A count is believed only if the bytes left can hold that many entries of at \
         least ",
    );
    let _ = writeln!(
        out,
        "{} bytes (`absurd_count`), so an untrusted count never sizes an allocation.\n",
        body::ENTRY_FIXED_LEN
    );
    out.push_str("| rule | encoding |\n|---|---|\n");
    for (rule, encoding) in body::GRAMMAR {
        let _ = writeln!(out, "| `{rule}` | {encoding} |");
    }
    out.push('\n');
}

fn sizes(out: &mut String) {
    let bus_bytes = BUS_BITS / 8;
    let overhead = ETH_FCS_LEN + ETH_PREAMBLE_LEN + ETH_IFG_LEN;
    out.push_str("## Sizes and line rate\n\n");
    let _ = writeln!(
        out,
        "The smallest riptide frame (any phase-2 message, an ACCEPT with an empty \
         value) is **{FRAME_HEADER_LEN} bytes** without FCS, {} with it, and takes \
         **{} beats at {BUS_BITS} bits**. On the wire each frame also costs {ETH_FCS_LEN} \
         bytes of FCS, {ETH_PREAMBLE_LEN} of preamble and start delimiter and \
         {ETH_IFG_LEN} of minimum inter-frame gap ({overhead} bytes). Below, \"frames/s\" \
         is {LINE_RATE_GBPS} Gb/s divided by those wire bytes, and \"bus load\" is the \
         share of a {BUS_BITS}-bit bus at {BUS_CLOCK_MHZ} MHz that that frame rate \
         needs (one beat per cycle).\n",
        FRAME_HEADER_LEN + ETH_FCS_LEN,
        beats(FRAME_HEADER_LEN, bus_bytes),
    );
    out.push_str(
        "| ACCEPT value bytes | frame bytes (no FCS) | beats | wire bytes | frames/s at line rate | bus load |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|\n");
    for &value in VALUE_SIZES {
        let frame = FRAME_HEADER_LEN + value;
        let beats = beats(frame, bus_bytes);
        let wire = frame + overhead;
        let frames_per_s = LINE_RATE_GBPS * 1e9 / (wire * 8) as f64;
        let load = frames_per_s * beats as f64 / (BUS_CLOCK_MHZ * 1e6);
        let _ = writeln!(
            out,
            "| {value} | {frame} | {beats} | {wire} | {:.2} M | {:.1} % |",
            frames_per_s / 1e6,
            load * 100.0
        );
    }
    let _ = writeln!(
        out,
        "\nAn ACCEPT value of up to {} bytes keeps the frame at two beats.\n",
        2 * bus_bytes - FRAME_HEADER_LEN
    );
}

fn beats(frame_len: usize, bus_bytes: usize) -> usize {
    frame_len.div_ceil(bus_bytes)
}

fn drop_reasons(out: &mut String) {
    out.push_str("## Validation and drop reasons\n\n");
    out.push_str(
        "A receiver checks a frame (`decode_frame`), then its datagram \
         (`Envelope::decode`), in this order; the first failing check drops it and \
         counts it under its reason (`DecodeError::reason`). TTL, DSCP/ECN, the \
         IPv4 identification, the DF flag and the UDP checksum are not checked: \
         routers and other senders' stacks set them differently.\n\n",
    );
    out.push_str("| reason | dropped when |\n|---|---|\n");
    for (reason, meaning) in DecodeError::REASONS {
        let _ = writeln!(out, "| `{reason}` | {meaning} |");
    }
    let _ = writeln!(
        out,
        "\nThe order, check by check, as `decode_frame` and then \
         `Envelope::decode` make them: frame length (`short`: shorter than the \
         Ethernet, IPv4 and UDP headers), ethertype, IPv4 version/IHL, header \
         checksum, fragments, protocol, IPv4 total length, UDP length, UDP \
         destination port; then the datagram's length (`short` again: shorter \
         than the riptide header), version, type, group, payload length \
         (`payload_len_mismatch`), `oversize`, header fields the type does not \
         use (`unused_nonzero`), and last the body. A datagram that breaks \
         several rules is counted under the first.\n\n\
         The NIC (`hw/src/parser.rs`, and the behavioural model \
         `riptide_driver::model`) makes the same checks in the same order, \
         counting each under `drop_<reason>`, but stops after \
         `unused_nonzero`: it never parses a body (an ACCEPT's value is \
         opaque, rare-path frames are punted whole and software decodes them \
         with `Envelope::decode`), and it has no `oversize` check, which no \
         frame that passed the IPv4 length check can fail (a 16-bit total \
         length leaves at most {MAX_PAYLOAD} bytes of payload). The hardware \
         alone has two more: before any check it drops a frame whose `tkeep` \
         is not contiguous from byte 0 (`drop_keep`), and after them a frame \
         whose answer or record finds its queue full is dropped whole \
         (`drop_overflow`). What the fast path does with a valid frame is the \
         rules table of `docs/protocol.md`."
    );
}

const _: () = assert!(
    u16::MAX as usize - IPV4_LEN - UDP_LEN - RIPTIDE_HEADER_LEN == MAX_PAYLOAD,
    "oversize is unreachable from a frame only while this holds"
);
