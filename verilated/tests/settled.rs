//! A settled Verilated core does not evaluate the idle edges that are a
//! fixed point (`csrc/shim.cpp`). The same traffic through a core that
//! evaluates every edge must then give the same frames, records, counters
//! and cycle counts, with idle stretches after every input in which a wrong
//! "settled" would show as output only the evaluating core gives.

use riptide_driver::model::ModelNic;
use riptide_hw::sim::RtlNic;
use riptide_verilated::VerilatedCore;
use riptide_wire::host::{NicCommand, NicConfig, NicRole};
use riptide_wire::{Ballot, Message};

const GROUP: u16 = 7;
const REPLICAS: u8 = 3;
/// Idle cycles queued after each input.
const IDLE: usize = 40;
/// From this input on, the output streams are back-pressured.
const BACKPRESSURE_FROM: usize = 6;

/// The skipping core and the evaluating one as replica `id`, or `None`
/// (with a note) without verilator.
fn cores(id: u8) -> Option<[RtlNic<VerilatedCore>; 2]> {
    let peers: Vec<_> = (0..REPLICAS).map(ModelNic::default_endpoint).collect();
    let nic = |core| RtlNic::on(core, id, GROUP, peers.clone());
    match (VerilatedCore::new(), VerilatedCore::evaluating_every_edge()) {
        (Ok(skipping), Ok(evaluating)) => Some([nic(skipping), nic(evaluating)]),
        (Err(e), _) | (_, Err(e)) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{e}");
            eprintln!("note: not run: {e}");
            None
        }
    }
}

fn config(role: NicRole, ballot: Ballot) -> NicConfig {
    NicConfig {
        role,
        ballot,
        next_slot: 1,
        commit: 0,
        replicas: REPLICAS,
        window: 16,
        lives: Default::default(),
    }
}

enum Input {
    Command(NicCommand),
    Frame { from: u8, message: Message },
}

/// Feeds `inputs` to both cores (each followed by idle cycles, the later
/// ones under back-pressure) and requires the same behaviour after each.
fn agree(id: u8, inputs: Vec<Input>) {
    let Some(mut cores) = cores(id) else {
        return;
    };
    let (mut frames_seen, mut records_seen) = (0, 0);
    for (i, input) in inputs.into_iter().enumerate() {
        let mut seen = Vec::new();
        for core in &mut cores {
            if i == BACKPRESSURE_FROM {
                core.backpressure(0x5EED, 70);
            }
            match &input {
                Input::Command(command) => core.command(command.clone()),
                Input::Frame { from, message } => {
                    core.receive(&ModelNic::default_frame(GROUP, *from, id, message.clone()))
                }
            }
            core.idle(IDLE);
            let frames: Vec<_> = std::iter::from_fn(|| core.poll_transmit()).collect();
            let records: Vec<_> = std::iter::from_fn(|| core.poll_record()).collect();
            core.idle(IDLE);
            core.drain();
            seen.push((
                frames,
                format!("{records:?}"),
                core.cycles(),
                core.counters(),
            ));
        }
        assert_eq!(seen[0], seen[1], "input {i}: skipping vs evaluating");
        frames_seen += seen[0].0.len();
        records_seen += seen[0].1.matches("Ok(").count();
    }
    assert!(
        frames_seen > 0 && records_seen > 0,
        "the traffic did something"
    );
}

#[test]
fn a_leader_that_skips_settled_edges_acts_as_one_that_evaluates_them() {
    let ballot = Ballot::new(1, 0);
    let accepted = |from, slot| Input::Frame {
        from,
        message: Message::Accepted { ballot, slot },
    };
    let submit = |value: &[u8]| {
        Input::Command(NicCommand::Submit {
            value: value.to_vec(),
        })
    };
    let mut inputs = vec![Input::Command(NicCommand::Configure(config(
        NicRole::Leader,
        ballot,
    )))];
    for slot in 1..=8u64 {
        inputs.push(submit(format!("put k{slot} {slot}").as_bytes()));
        inputs.push(accepted(1 + (slot % 2) as u8, slot));
    }
    inputs.push(Input::Command(NicCommand::Heartbeat));
    inputs.push(accepted(2, 3));
    agree(0, inputs);
}

#[test]
fn a_follower_that_skips_settled_edges_acts_as_one_that_evaluates_them() {
    let ballot = Ballot::new(2, 0);
    let mut inputs = vec![Input::Command(NicCommand::Configure(config(
        NicRole::Follower,
        ballot,
    )))];
    for slot in 1..=8u64 {
        inputs.push(Input::Frame {
            from: 0,
            message: Message::Accept {
                ballot,
                slot,
                commit: slot - 1,
                value: format!("put k{slot} {slot}").into_bytes(),
            },
        });
    }
    inputs.push(Input::Frame {
        from: 0,
        message: Message::Commit { ballot, commit: 8 },
    });
    inputs.push(Input::Command(NicCommand::Fence {
        ballot: Ballot::new(3, 1),
    }));
    agree(1, inputs);
}
