//! Garbage never wedges the core: thousands of random frames (random bytes,
//! mutated valid frames, broken AXI4-Stream framing), then valid traffic
//! still flows, and every received frame was counted exactly once.

mod common;

use common::{Pair, config, frame};
use riptide_control::rng::Rng;
use riptide_hw::beat::{Beat, beats};
use riptide_wire::host::{CardToHost, NicCommand, NicEvent, NicRole};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Message};

const GARBAGE: u64 = 2000;

fn garbage(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    match rng.below(3) {
        0 => (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect(),
        1 => {
            let mut f = valid.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(f.len() as u64) as usize;
                f[at] = rng.next_u64() as u8;
            }
            f
        }
        _ => {
            let mut f = valid.to_vec();
            f.truncate(rng.below(f.len() as u64) as usize);
            f
        }
    }
}

#[test]
fn garbage_never_wedges_the_core_and_counters_add_up() {
    let ballot = Ballot::new(2, 0);
    let mut pair = Pair::new("fuzz", 1, 3);
    pair.command(NicCommand::Configure(config(
        NicRole::Follower,
        ballot,
        1,
        3,
    )));
    let valid = |slot: u64| {
        frame(
            0,
            1,
            Message::Accept {
                ballot,
                slot,
                commit: 0,
                value: vec![slot as u8; 40],
            },
        )
    };
    let mut rng = Rng::new(0xF022);
    let template = valid(1);
    for i in 0..GARBAGE {
        let bytes = garbage(&mut rng, &template);
        if i % 10 == 0 {
            // Broken framing: holes in tkeep, or an empty last beat.
            let mut cut: Vec<Beat> = beats(&bytes);
            let last = cut.len() - 1;
            cut[last].keep = if rng.chance(1, 2) { 0 } else { rng.next_u64() };
            pair.rtl.receive_beats(cut);
        } else {
            pair.receive(&bytes);
        }
    }
    let (_, rtl) = pair.outputs();
    let received = u64::from(pair.rtl.counter(Counter::RxFrames));
    assert_eq!(received, GARBAGE);
    let fates: u64 = pair
        .rtl
        .counters()
        .into_iter()
        .filter(|(c, _)| {
            c.name().starts_with("drop_")
                || c.name().starts_with("punt_")
                || matches!(c, Counter::Accepted | Counter::Reacked)
        })
        .map(|(_, n)| u64::from(n))
        .sum();
    assert_eq!(fates, received, "every frame has exactly one fate");
    assert!(
        u64::from(pair.rtl.counter(Counter::DropKeep)) > 0,
        "broken framing was seen"
    );
    let accepted_garbage = rtl
        .records
        .iter()
        .filter(|r| matches!(r, CardToHost::Event(NicEvent::Accepted { .. })))
        .count() as u64;
    // Valid traffic still flows afterwards, at the slot garbage left off.
    let next = 1 + accepted_garbage;
    pair.rtl.receive(&valid(next));
    let mut flowed = false;
    while let Some(record) = pair.rtl.poll_record() {
        if let Ok(CardToHost::Event(NicEvent::Accepted { slot, .. })) = record {
            flowed |= slot == next;
        }
    }
    assert!(flowed, "slot {next} accepted after the garbage");
    assert!(pair.rtl.poll_transmit().is_some(), "and acked");
}
