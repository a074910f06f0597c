//! Host-side driver cost per entry, model backend: a leader replicates
//! entries through `AlveoNic` over the fake board (XDMA engine model plus
//! register file) with `ModelNic` as the card, and the same entries are run
//! through `ModelNic` called directly. Per entry: Submit (encode, copy into
//! the H2C ring, descriptor, doorbell), the Accepted record (C2H poll,
//! writeback, credit back, decode), one follower ACCEPTED frame in, the
//! Committed record out. The difference between the two rows is what the
//! driver and the fake engines add; the fake engines run in the same thread,
//! so it is an upper bound on the driver's own cost.
//!
//! `cargo bench -p riptide-driver --bench host_cost`

use std::hint::black_box;
use std::time::Instant;

use riptide_driver::SimulatedNic;
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::{AlveoOptions, SimulatedBoard};
use riptide_wire::frame::encode_frame;
use riptide_wire::host::{NicCommand, NicConfig, NicRole};
use riptide_wire::{Ballot, Envelope, Message};

const GROUP: u16 = 7;
const BALLOT: Ballot = Ballot::new(1, 0);
const ENTRIES: u64 = 200_000;
const VALUE_LEN: usize = 64;

fn leader_config() -> NicConfig {
    NicConfig {
        role: NicRole::Leader,
        ballot: BALLOT,
        next_slot: 1,
        commit: 0,
        replicas: 3,
        window: 64,
        lives: Default::default(),
    }
}

/// The ACCEPTED frame follower 1 sends for `slot`.
fn ack(slot: u64) -> Vec<u8> {
    let datagram = Envelope {
        group: GROUP,
        sender: 1,
        life: 0,
        message: Message::Accepted {
            ballot: BALLOT,
            slot,
        },
    }
    .encode();
    encode_frame(
        &ModelNic::default_endpoint(1),
        &ModelNic::default_endpoint(0),
        &datagram,
    )
}

/// Replicates `ENTRIES` entries one at a time through `nic`; returns ns per
/// entry and the records seen (2 per entry if nothing was lost).
fn replicate(nic: &mut dyn SimulatedNic) -> (f64, u64) {
    nic.command(NicCommand::Configure(leader_config()))
        .expect("configure");
    let value = vec![0x5A; VALUE_LEN];
    let acks: Vec<Vec<u8>> = (1..=ENTRIES).map(ack).collect();
    let mut records = 0;
    let started = Instant::now();
    for frame in &acks {
        nic.command(NicCommand::Submit {
            value: value.clone(),
        })
        .expect("submit");
        while let Some(record) = nic.poll_host().expect("records") {
            black_box(record);
            records += 1;
        }
        while let Some(out) = nic.poll_transmit() {
            black_box(out);
        }
        nic.receive(frame);
        while let Some(record) = nic.poll_host().expect("records") {
            black_box(record);
            records += 1;
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / ENTRIES as f64;
    (ns, records)
}

fn main() {
    let peers: Vec<_> = (0..3).map(ModelNic::default_endpoint).collect();
    let card = || ModelNic::new(0, 3, GROUP, ModelBugs::default());
    let mut direct = card();
    let mut board = SimulatedBoard::open(card(), 0, GROUP, &peers).expect("fake board opens");
    let options = AlveoOptions::default();
    println!(
        "{ENTRIES} entries of {VALUE_LEN} B, one at a time: submit -> Accepted, ACCEPTED in -> Committed"
    );
    println!(
        "H2C/C2H rings: {} descriptors of {} B",
        options.h2c.descriptors, options.h2c.buffer_size
    );
    let (model_ns, model_records) = replicate(&mut direct);
    let (board_ns, board_records) = replicate(&mut board);
    assert_eq!(model_records, 2 * ENTRIES, "the model lost records");
    assert_eq!(board_records, 2 * ENTRIES, "the board lost records");
    println!("{:<52} {:>10}", "path", "ns/entry");
    println!("{:<52} {:>10.0}", "ModelNic called directly", model_ns);
    println!(
        "{:<52} {:>10.0}",
        "AlveoNic -> fake XDMA board -> ModelNic", board_ns
    );
    println!(
        "{:<52} {:>10.0}",
        "driver + fake engines (difference)",
        board_ns - model_ns
    );
}
