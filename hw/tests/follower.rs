//! Whole-core tests of the follower path against the behavioural model.

mod common;

use common::{Pair, config, frame, frame_of_life};
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

/// The lives table of `docs/protocol.md` ("Crash with amnesia"): a phase-2
/// frame from an older life of its sender is dropped after the peer check
/// and before the role rules; a newer life passes (the table is a lower
/// bound); the rare path is not filtered; frames the NIC builds carry its
/// own entry.
#[test]
fn phase_two_frames_of_an_older_life_are_dropped() {
    let mut pair = Pair::new("follower_lives", 1, 3);
    let mut cfg = config(NicRole::Follower, B, 1, 3);
    // Leader 0 is in life 10; replica 2 wrapped past 255; we are in life 3;
    // entry 5 (no such replica) would call anything from it older.
    cfg.lives = [10, 3, 1, 0, 0, 200, 0, 0];
    pair.command(NicCommand::Configure(cfg));
    let accept_of = |life: u8, slot: u64| {
        frame_of_life(
            0,
            life,
            1,
            Message::Accept {
                ballot: B,
                slot,
                commit: 0,
                value: vec![slot as u8],
            },
        )
    };
    rule(
        &mut pair,
        "one life behind",
        &accept_of(9, 1),
        Counter::DropOldLife,
    );
    rule(
        &mut pair,
        "127 lives behind",
        &accept_of(10u8.wrapping_sub(127), 1),
        Counter::DropOldLife,
    );
    assert_eq!(pair.counter(Counter::TxAccepted), 0, "nothing acked");
    rule(
        &mut pair,
        "the table's life",
        &accept_of(10, 1),
        Counter::Accepted,
    );
    rule(
        &mut pair,
        "a newer life",
        &accept_of(11, 2),
        Counter::Accepted,
    );
    rule(
        &mut pair,
        "128 behind is ahead in serial order",
        &accept_of(10u8.wrapping_sub(128), 3),
        Counter::Accepted,
    );
    assert_eq!(pair.counter(Counter::TxAccepted), 3);
    let commit_of = |from: u8, life: u8| {
        frame_of_life(
            from,
            life,
            1,
            Message::Commit {
                ballot: B,
                commit: 1,
            },
        )
    };
    rule(
        &mut pair,
        "heartbeat of an old life",
        &commit_of(0, 2),
        Counter::DropOldLife,
    );
    rule(
        &mut pair,
        "replica 2's life 1 is 2 ahead of 255",
        &commit_of(2, 255),
        Counter::DropOldLife,
    );
    rule(
        &mut pair,
        "not a peer goes first",
        &commit_of(5, 100),
        Counter::DropPhase2,
    );
    rule(
        &mut pair,
        "ourselves goes first",
        &commit_of(1, 0),
        Counter::DropPhase2,
    );
    let nack = frame_of_life(0, 0, 1, Message::Nack { ballot: B, slot: 1 });
    rule(&mut pair, "NACK of an old life", &nack, Counter::PuntRare);
    pair.counters_agree("lives");
}

#[test]
fn frames_the_nic_builds_carry_its_own_life() {
    let mut pair = Pair::new("follower_own_life", 1, 3);
    let mut cfg = config(NicRole::Follower, B, 1, 3);
    cfg.lives = [0, 0xA5, 0, 0, 0, 0, 0, 0];
    pair.command(NicCommand::Configure(cfg));
    pair.receive(&accept(1, 0, b"v"));
    let stale = Message::Accept {
        ballot: Ballot::new(1, 0),
        slot: 2,
        commit: 0,
        value: vec![],
    };
    pair.receive(&frame(0, 1, stale));
    let out = pair.agree("ACCEPTED and NACK");
    let life_at = riptide_wire::layout::RIPTIDE_OFFSET + riptide_wire::layout::header::LIFE.offset;
    let lives: Vec<u8> = out.frames.iter().map(|(_, f)| f[life_at]).collect();
    assert_eq!(lives, vec![0xA5, 0xA5]);
    // The table is taken with CONFIG_APPLY, not when written.
    pair.rtl
        .write(riptide_wire::regs::CFG_LIVES_LO.offset, 0x7700);
    pair.rtl.receive(&accept(1, 0, b"v"));
    let (_, rtl) = pair.outputs();
    assert_eq!(rtl.frames.len(), 1);
    assert_eq!(rtl.frames[0].1[life_at], 0xA5);
}

/// A frame the MAC flags with a bad FCS is dropped and counted, never acked
/// or written to the host, even when its bytes are a perfect in-order
/// ACCEPT; the same frame with a good FCS right after it is taken.
#[test]
fn bad_fcs_accept_is_dropped_not_acked() {
    let mut pair = follower("follower_bad_fcs");
    let frame = accept(1, 0, b"corrupted value, intact header");
    pair.receive_bad_fcs(&frame);
    let out = pair.agree("bad FCS");
    assert!(out.records.is_empty(), "{:?}", out.records);
    assert!(out.frames.is_empty(), "{:?}", out.frames);
    assert_eq!(pair.counter(Counter::DropBadFcs), 1);
    assert_eq!(pair.counter(Counter::RxFrames), 1);
    assert_eq!(pair.counter(Counter::Accepted), 0);
    assert_eq!(pair.counter(Counter::TxAccepted), 0);
    pair.receive(&frame);
    let out = pair.agree("good FCS");
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.frames.len(), 1);
    assert_eq!(pair.counter(Counter::Accepted), 1);
    assert_eq!(pair.counter(Counter::DropBadFcs), 1);
    pair.counters_agree("after both");
}
