//! Whole-core tests of the leader path against the behavioural model:
//! slot assignment, ACCEPT fan-out, quorum counting and commit, heartbeats,
//! host datagrams, the window.

mod common;

use common::{Pair, config, frame, frame_of_life};
use riptide_wire::host::{CardToHost, NicCommand, NicEvent, NicRole};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Message};

fn leader(name: &str, replicas: u8) -> (Pair, Ballot) {
    let ballot = Ballot::new(3, 0);
    let mut pair = Pair::new(name, 0, replicas);
    pair.command(NicCommand::Configure(config(
        NicRole::Leader,
        ballot,
        1,
        replicas,
    )));
    (pair, ballot)
}

fn accepted(from: u8, ballot: Ballot, slot: u64) -> Vec<u8> {
    frame(from, 0, Message::Accepted { ballot, slot })
}

fn reaches_commit_with_a_majority(replicas: u8) {
    let (mut pair, ballot) = leader(&format!("leader_commit_{replicas}"), replicas);
    for i in 0..3u8 {
        pair.command(NicCommand::Submit {
            value: vec![i; 10 + usize::from(i)],
        });
    }
    let out = pair.agree("three submits");
    let followers = usize::from(replicas) - 1;
    assert_eq!(
        out.frames.len(),
        3 * followers,
        "one ACCEPT per follower per entry"
    );
    assert_eq!(out.records.len(), 3, "the leader's own Accepted records");
    // A majority needs replicas/2 acks besides the leader's own: one short
    // of it commits nothing.
    let needed = usize::from(replicas) / 2;
    for from in 1..needed as u8 {
        pair.receive(&accepted(from, ballot, 2));
        pair.receive(&accepted(from, ballot, 1));
    }
    let out = pair.agree("acks short of a majority");
    assert!(out.records.is_empty());
    // The last ack for slot 2 alone commits nothing: slot 1 is not chosen yet.
    pair.receive(&accepted(needed as u8, ballot, 2));
    assert!(pair.agree("slot 2 chosen first").records.is_empty());
    pair.receive(&accepted(needed as u8, ballot, 1));
    let out = pair.agree("slot 1 chosen");
    assert_eq!(
        out.records,
        vec![CardToHost::Event(NicEvent::Committed { ballot, commit: 2 })],
        "commit advances over both contiguous chosen slots at once"
    );
    pair.counters_agree("after commit");
    assert_eq!(pair.counter(Counter::Submitted), 3);
    assert_eq!(pair.rtl.read(riptide_wire::regs::COMMIT_LO.offset), 2);
}

#[test]
fn three_replicas_reach_commit() {
    reaches_commit_with_a_majority(3);
}

#[test]
fn five_replicas_reach_commit() {
    reaches_commit_with_a_majority(5);
}

#[test]
fn stale_duplicate_and_foreign_acks_are_not_counted() {
    let (mut pair, ballot) = leader("leader_bad_acks", 3);
    pair.command(NicCommand::Submit {
        value: b"x".to_vec(),
    });
    pair.receive(&accepted(1, Ballot::new(2, 1), 1)); // older ballot
    pair.receive(&accepted(1, ballot, 5)); // not outstanding
    pair.receive(&accepted(0, ballot, 1)); // from ourselves
    pair.receive(&accepted(2, Ballot::new(9, 2), 1)); // higher ballot: punted
    let out = pair.agree("bad acks");
    assert!(matches!(out.records.last(), Some(CardToHost::Punted(_))));
    pair.counters_agree("bad acks");
    assert_eq!(pair.counter(Counter::DropPhase2), 3);
    assert_eq!(pair.counter(Counter::AckCounted), 0);
}

#[test]
fn heartbeat_and_host_datagrams_go_out() {
    let (mut pair, _) = leader("leader_heartbeat", 5);
    pair.command(NicCommand::Heartbeat);
    pair.command(NicCommand::Transmit {
        to: 3,
        datagram: b"catch-up".to_vec(),
    });
    pair.command(NicCommand::Transmit {
        to: 2,
        datagram: vec![0xEE; 200],
    });
    let out = pair.agree("heartbeat and transmits");
    let to: Vec<u8> = out.frames.iter().map(|f| f.0).collect();
    assert_eq!(to, vec![1, 2, 3, 4, 3, 2]);
    pair.counters_agree("heartbeat and transmits");
}

#[test]
fn submits_wait_while_the_window_is_full() {
    let (mut pair, ballot) = leader("leader_window", 3);
    let mut cfg = config(NicRole::Leader, ballot, 1, 3);
    cfg.window = 2;
    pair.command(NicCommand::Configure(cfg));
    pair.command(NicCommand::Submit { value: vec![1] });
    pair.command(NicCommand::Submit { value: vec![2] });
    pair.agree("window filled");
    // A third entry is held back by the RTL (the host stream stalls) where
    // the model refuses it; once a slot commits the RTL sends it.
    pair.rtl.command(NicCommand::Submit { value: vec![3] });
    let (_, rtl) = pair.outputs();
    assert!(rtl.records.is_empty() && rtl.frames.is_empty());
    pair.rtl.receive(&accepted(1, ballot, 1));
    let (_, rtl) = pair.outputs();
    assert_eq!(
        rtl.records,
        vec![
            CardToHost::Event(NicEvent::Committed { ballot, commit: 1 }),
            CardToHost::Event(NicEvent::Accepted {
                ballot,
                slot: 3,
                value: vec![3]
            })
        ]
    );
    assert_eq!(rtl.frames.len(), 2);
}

#[test]
fn an_idle_leader_sends_heartbeats_by_itself_when_asked_to() {
    let (mut pair, _) = leader("leader_auto_heartbeat", 3);
    pair.rtl.idle(300);
    assert!(
        pair.rtl.poll_transmit().is_none(),
        "interval 0: no heartbeats"
    );
    pair.rtl
        .write(riptide_wire::regs::HEARTBEAT_INTERVAL.offset, 50);
    pair.rtl.idle(300);
    let mut to = vec![];
    while let Some((dst, frame)) = pair.rtl.poll_transmit() {
        assert_eq!(
            frame[riptide_wire::layout::RIPTIDE_OFFSET + 1],
            0x03,
            "COMMIT"
        );
        to.push(dst);
    }
    let rounds = to.len() / 2;
    assert!(
        (4..=7).contains(&rounds),
        "{rounds} heartbeat rounds in 300 cycles"
    );
    assert!(to.chunks(2).all(|pair| pair == [1, 2]));
    assert_eq!(pair.rtl.counter(Counter::TxCommit) as usize, to.len());
}

#[test]
fn acks_of_an_older_life_are_not_counted() {
    let (mut pair, ballot) = leader("leader_lives", 3);
    let mut cfg = config(NicRole::Leader, ballot, 1, 3);
    cfg.lives = [7, 4, 4, 0, 0, 0, 0, 0];
    pair.command(NicCommand::Configure(cfg));
    pair.command(NicCommand::Submit {
        value: b"x".to_vec(),
    });
    let out = pair.agree("submit");
    let life_at = riptide_wire::layout::RIPTIDE_OFFSET + riptide_wire::layout::header::LIFE.offset;
    assert!(
        out.frames.iter().all(|(_, f)| f[life_at] == 7),
        "ACCEPTs carry the leader's own life"
    );
    let ack =
        |from: u8, life: u8| frame_of_life(from, life, 0, Message::Accepted { ballot, slot: 1 });
    // Replica 1's ack from before its restart would complete a quorum of a
    // vote nobody remembers.
    pair.receive(&ack(1, 3));
    assert!(pair.agree("ack of an old life").records.is_empty());
    assert_eq!(pair.counter(Counter::DropOldLife), 1);
    assert_eq!(pair.counter(Counter::AckCounted), 0);
    pair.receive(&ack(2, 5));
    let out = pair.agree("ack of a newer life");
    assert_eq!(
        out.records,
        vec![CardToHost::Event(NicEvent::Committed { ballot, commit: 1 })]
    );
    pair.counters_agree("lives");
}

/// Heartbeat COMMIT frames the core sent, and the cycle the last one started.
fn heartbeats(pair: &mut Pair) -> (usize, u64) {
    let mut count = 0;
    while let Some((_, frame)) = pair.rtl.poll_transmit() {
        if frame[riptide_wire::layout::RIPTIDE_OFFSET + 1] == 0x03 {
            count += 1;
        }
    }
    let last = pair.rtl.timing().tx.last().map_or(0, |t| t.0);
    (count, last)
}

#[test]
fn a_board_whose_host_is_silent_stops_its_own_heartbeats() {
    use riptide_wire::regs::{HEARTBEAT, HEARTBEAT_INTERVAL, HOST_WATCHDOG, HOST_WATCHDOG_STATUS};
    const WATCHDOG: u64 = 400;
    let (mut pair, _) = leader("leader_watchdog", 3);
    pair.rtl.write(HEARTBEAT_INTERVAL.offset, 50);
    // The write that arms the watchdog is itself a sign of the host.
    pair.rtl.write(HOST_WATCHDOG.offset, WATCHDOG as u32);
    let armed = pair.rtl.cycles();
    assert_eq!(pair.rtl.read(HOST_WATCHDOG.offset), WATCHDOG as u32);
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 0);
    pair.rtl.idle(1500);
    let (frames, last) = heartbeats(&mut pair);
    assert!(
        (2 * 6..=2 * 8).contains(&frames),
        "{frames} heartbeat frames before the watchdog expired"
    );
    assert!(
        last > armed + WATCHDOG - 60 && last <= armed + WATCHDOG + 4,
        "last heartbeat at {} cycles after arming",
        last - armed
    );
    // Reading registers (a monitor) is no sign of the host.
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 1);
    pair.rtl.idle(500);
    assert_eq!(heartbeats(&mut pair).0, 0, "silent while the host is");

    // A register write that sends nothing brings them back...
    pair.rtl.write(HEARTBEAT.offset, 0);
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 0);
    pair.rtl.idle(200);
    assert!(heartbeats(&mut pair).0 >= 2 * 3, "heartbeats resume");
    pair.rtl.idle(600);
    heartbeats(&mut pair);
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 1);
    // ... and so does a host-to-card record.
    pair.rtl.command(NicCommand::Transmit {
        to: 1,
        datagram: vec![1, 2, 3],
    });
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 0);
    pair.rtl.idle(200);
    assert!(heartbeats(&mut pair).0 >= 2 * 3, "heartbeats resume");
    // Off: heartbeats never stop.
    pair.rtl.write(HOST_WATCHDOG.offset, 0);
    pair.rtl.idle(1000);
    assert!(heartbeats(&mut pair).0 >= 2 * 18);
    assert_eq!(pair.rtl.read(HOST_WATCHDOG_STATUS.offset), 0);
}
