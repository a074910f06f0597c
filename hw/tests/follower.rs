//! Whole-core tests of the follower path against the behavioural model.

mod common;

use common::{Pair, config, frame};
use riptide_wire::host::{CardToHost, NicCommand, NicEvent, NicRole};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Message};

const B: Ballot = Ballot::new(2, 0);

fn accept(slot: u64, commit: u64, value: &[u8]) -> Vec<u8> {
    frame(
        0,
        1,
        Message::Accept {
            ballot: B,
            slot,
            commit,
            value: value.to_vec(),
        },
    )
}

fn follower(name: &str) -> Pair {
    let mut pair = Pair::new(name, 1, 3);
    pair.command(NicCommand::Configure(config(NicRole::Follower, B, 1, 3)));
    pair
}

#[test]
fn in_order_accept_is_written_to_the_host_and_acked() {
    let mut pair = follower("follower_in_order");
    pair.receive(&accept(1, 0, b"put x 1"));
    let out = pair.agree("first accept");
    assert_eq!(
        out.records,
        vec![CardToHost::Event(NicEvent::Accepted {
            ballot: B,
            slot: 1,
            value: b"put x 1".to_vec()
        })]
    );
    assert_eq!(out.frames.len(), 1);
    assert_eq!(out.frames[0].0, 0, "ACCEPTED goes back to the leader");
    pair.counters_agree("after one accept");
    assert_eq!(pair.counter(Counter::Accepted), 1);
}

fn rule(pair: &mut Pair, what: &str, frame: &[u8], counter: Counter) {
    let before = pair.counter(counter);
    pair.receive(frame);
    pair.agree(what);
    assert_eq!(
        pair.counter(counter),
        before + 1,
        "{what}: {}",
        counter.name()
    );
}

#[test]
fn every_follower_rule_of_the_table() {
    let mut pair = follower("follower_rules");
    rule(
        &mut pair,
        "in order",
        &accept(1, 0, b"a"),
        Counter::Accepted,
    );
    rule(
        &mut pair,
        "duplicate",
        &accept(1, 0, b"a"),
        Counter::Reacked,
    );
    rule(&mut pair, "gap", &accept(3, 0, b"c"), Counter::PuntSlot);
    let stale = frame(
        0,
        1,
        Message::Accept {
            ballot: Ballot::new(1, 0),
            slot: 2,
            commit: 0,
            value: vec![],
        },
    );
    rule(&mut pair, "stale ballot", &stale, Counter::DropStale);
    assert_eq!(pair.counter(Counter::TxNack), 1);
    let higher = frame(
        2,
        1,
        Message::Accept {
            ballot: Ballot::new(3, 2),
            slot: 2,
            commit: 0,
            value: vec![],
        },
    );
    rule(
        &mut pair,
        "higher ballot",
        &higher,
        Counter::PuntHigherBallot,
    );
    let heartbeat = frame(
        0,
        1,
        Message::Commit {
            ballot: B,
            commit: 1,
        },
    );
    rule(&mut pair, "heartbeat", &heartbeat, Counter::Committed);
    let newer_heartbeat = frame(
        2,
        1,
        Message::Commit {
            ballot: Ballot::new(4, 2),
            commit: 1,
        },
    );
    rule(
        &mut pair,
        "higher heartbeat",
        &newer_heartbeat,
        Counter::PuntHigherBallot,
    );
    let ack = frame(0, 1, Message::Accepted { ballot: B, slot: 1 });
    rule(
        &mut pair,
        "ACCEPTED at a follower",
        &ack,
        Counter::DropPhase2,
    );
    let nack = frame(0, 1, Message::Nack { ballot: B, slot: 1 });
    rule(&mut pair, "NACK", &nack, Counter::PuntRare);
    let prepare = frame(
        2,
        1,
        Message::Prepare {
            ballot: Ballot::new(5, 2),
            commit: 0,
            lives: vec![0; 3],
        },
    );
    rule(&mut pair, "PREPARE", &prepare, Counter::PuntRare);
    let stranger = frame(
        4,
        1,
        Message::Accept {
            ballot: B,
            slot: 2,
            commit: 0,
            value: vec![],
        },
    );
    rule(&mut pair, "not a peer", &stranger, Counter::DropPhase2);
    let commits = pair.counter(Counter::Committed);
    rule(
        &mut pair,
        "piggybacked commit",
        &accept(2, 2, b"b"),
        Counter::Accepted,
    );
    assert_eq!(pair.counter(Counter::Committed), commits + 1);
    // A fence above our ballot makes our leader's ACCEPTs stale.
    pair.command(NicCommand::Fence {
        ballot: Ballot::new(6, 2),
    });
    rule(&mut pair, "fenced", &accept(3, 2, b"c"), Counter::DropStale);
    // Slots below the configured base are software's.
    let b7 = Ballot::new(7, 0);
    let at_b7 = |slot: u64| {
        frame(
            0,
            1,
            Message::Accept {
                ballot: b7,
                slot,
                commit: 2,
                value: b"e".to_vec(),
            },
        )
    };
    pair.command(NicCommand::Configure(config(NicRole::Follower, b7, 10, 3)));
    rule(&mut pair, "below base", &at_b7(5), Counter::PuntSlot);
    pair.command(NicCommand::Configure(config(NicRole::Idle, b7, 10, 3)));
    rule(&mut pair, "idle", &at_b7(10), Counter::PuntIdle);
    pair.counters_agree("every rule");
}

#[test]
fn random_backpressure_never_loses_duplicates_or_reorders() {
    let mut pair = follower("follower_backpressure");
    pair.rtl.backpressure(0xBAC4, 40);
    let values: Vec<Vec<u8>> = (0..60u64)
        .map(|i| (0..(i * 7 % 150)).map(|b| (b + i) as u8).collect())
        .collect();
    for (i, value) in values.iter().enumerate() {
        let slot = i as u64 + 1;
        pair.receive(&accept(slot, slot / 2, value));
        // Spaced so the throttled streams keep up on average.
        pair.rtl.idle(12);
    }
    let out = pair.agree("throttled streams");
    let accepted: Vec<(u64, Vec<u8>)> = out
        .records
        .iter()
        .filter_map(|r| match r {
            CardToHost::Event(NicEvent::Accepted { slot, value, .. }) => {
                Some((*slot, value.clone()))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<(u64, Vec<u8>)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, v.clone()))
        .collect();
    assert_eq!(accepted, expected);
    assert_eq!(out.frames.len(), values.len());
    pair.counters_agree("throttled streams");
    assert_eq!(pair.counter(Counter::DropOverflow), 0);
}

#[test]
fn overload_drops_whole_frames_and_the_counters_add_up() {
    let mut pair = follower("follower_overload");
    // Host stream mostly stalled, frames back to back: the receive buffer and
    // queues fill and frames are dropped whole, never half-written.
    pair.rtl.backpressure(0x0DD, 10);
    for slot in 1..=80u64 {
        pair.rtl.receive(&accept(slot, 0, &[slot as u8; 100]));
    }
    let mut slots = vec![];
    while let Some(record) = pair.rtl.poll_record() {
        match record.expect("well-formed record") {
            CardToHost::Event(NicEvent::Accepted { slot, value, .. }) => {
                assert_eq!(value, vec![slot as u8; 100], "value intact");
                slots.push(slot);
            }
            CardToHost::Punted(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let accepted = u64::from(pair.rtl.counter(Counter::Accepted));
    assert_eq!(
        slots,
        (1..=accepted).collect::<Vec<_>>(),
        "in order, no gaps, no duplicates"
    );
    let fates: u64 = [Counter::Accepted, Counter::PuntSlot, Counter::DropOverflow]
        .iter()
        .map(|&c| u64::from(pair.rtl.counter(c)))
        .sum();
    assert_eq!(u64::from(pair.rtl.counter(Counter::RxFrames)), 80);
    assert_eq!(fates, 80, "every frame has exactly one fate");
    assert!(
        pair.rtl.counter(Counter::DropOverflow) > 0,
        "the test overloads the core"
    );
}
