//! The behavioural NIC, row by row of the fast-path table in
//! `docs/protocol.md`, plus validation, the fence's FIFO guarantee, the
//! planted bugs, and a no-panic property over arbitrary and mutated frames.

use proptest::prelude::*;
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_wire::frame::decode_frame;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::layout::{RIPTIDE_OFFSET, UDP_PORT, header, ipv4};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Envelope, Message};

const GROUP: u16 = 3;
const B1: Ballot = Ballot::new(1, 0);
const B2: Ballot = Ballot::new(2, 1);
const B3: Ballot = Ballot::new(3, 2);

fn frame_from(from: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame(GROUP, from, to, message)
}

fn accept(ballot: Ballot, slot: u64, commit: u64, value: &[u8]) -> Message {
    Message::Accept {
        ballot,
        slot,
        commit,
        value: value.to_vec(),
    }
}

/// Replica 1 of 3, a follower of B1 expecting slot `next`.
fn follower(next: u64, bugs: ModelBugs) -> ModelNic {
    let mut nic = ModelNic::new(1, 3, GROUP, bugs);
    nic.command(configure(NicRole::Follower, B1, next, 0));
    nic
}

/// Replica 0 of 3, leader of B1 from slot 1.
fn leader(bugs: ModelBugs) -> ModelNic {
    let mut nic = ModelNic::new(0, 3, GROUP, bugs);
    nic.command(configure(NicRole::Leader, B1, 1, 0));
    nic
}

fn configure(role: NicRole, ballot: Ballot, next_slot: u64, commit: u64) -> NicCommand {
    NicCommand::Configure(NicConfig {
        role,
        ballot,
        next_slot,
        commit,
        replicas: 3,
        window: 4,
        lives: Default::default(),
    })
}

/// Everything the NIC put on the wire since the last call, decoded.
fn sent(nic: &mut ModelNic) -> Vec<(u8, Message)> {
    std::iter::from_fn(|| nic.poll_transmit())
        .map(|(to, frame)| {
            let view = decode_frame(&frame, UDP_PORT).expect("the NIC sends valid frames");
            assert_eq!(
                view.dst,
                ModelNic::default_endpoint(to),
                "addressed to its peer"
            );
            let envelope = Envelope::decode(view.datagram, GROUP).expect("valid datagram");
            (to, envelope.message)
        })
        .collect()
}

fn records(nic: &mut ModelNic) -> Vec<CardToHost> {
    std::iter::from_fn(|| nic.poll_host()).collect()
}

fn events(nic: &mut ModelNic) -> Vec<NicEvent> {
    records(nic)
        .into_iter()
        .map(|record| match record {
            CardToHost::Event(event) => event,
            CardToHost::Punted(_) => panic!("unexpected punt"),
        })
        .collect()
}

fn assert_punted(nic: &mut ModelNic, frame: &[u8], counter: Counter) {
    let before = nic.counters().get(counter);
    nic.receive(frame);
    assert_eq!(records(nic), [CardToHost::Punted(frame.to_vec())]);
    assert_eq!(nic.counters().get(counter), before + 1, "{counter:?}");
    assert!(sent(nic).is_empty());
}

fn assert_dropped(nic: &mut ModelNic, frame: &[u8], counter: Counter) {
    let before = nic.counters().get(counter);
    nic.receive(frame);
    assert!(records(nic).is_empty());
    assert!(sent(nic).is_empty());
    assert_eq!(nic.counters().get(counter), before + 1, "{counter:?}");
}

#[test]
fn rare_path_types_and_nacks_are_punted_in_every_role() {
    let prepare = frame_from(
        2,
        1,
        Message::Prepare {
            ballot: B2,
            commit: 0,
            lives: vec![0; 3],
        },
    );
    let nack = frame_from(
        2,
        1,
        Message::Nack {
            ballot: B2,
            slot: 4,
        },
    );
    for role in [NicRole::Idle, NicRole::Follower, NicRole::Leader] {
        let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
        nic.command(configure(role, B1, 1, 0));
        assert_punted(&mut nic, &prepare, Counter::PuntRare);
        assert_punted(&mut nic, &nack, Counter::PuntRare);
    }
}

#[test]
fn an_idle_nic_punts_phase_two_and_acks_nothing() {
    let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
    assert_punted(
        &mut nic,
        &frame_from(0, 1, accept(B1, 1, 0, b"v")),
        Counter::PuntIdle,
    );
    assert_punted(
        &mut nic,
        &frame_from(
            0,
            1,
            Message::Commit {
                ballot: B1,
                commit: 3,
            },
        ),
        Counter::PuntIdle,
    );
}

#[test]
fn follower_accepts_in_order_writes_the_host_then_acks() {
    let mut nic = follower(1, ModelBugs::default());
    nic.receive(&frame_from(0, 1, accept(B1, 1, 0, b"a")));
    assert_eq!(
        events(&mut nic),
        [NicEvent::Accepted {
            ballot: B1,
            slot: 1,
            value: b"a".to_vec()
        }]
    );
    assert_eq!(
        sent(&mut nic),
        [(
            0,
            Message::Accepted {
                ballot: B1,
                slot: 1
            }
        )]
    );
    // The piggybacked commit is reported when it advances, after the entry.
    nic.receive(&frame_from(0, 1, accept(B1, 2, 1, b"b")));
    assert_eq!(
        events(&mut nic),
        [
            NicEvent::Accepted {
                ballot: B1,
                slot: 2,
                value: b"b".to_vec()
            },
            NicEvent::Committed {
                ballot: B1,
                commit: 1
            },
        ]
    );
    nic.receive(&frame_from(0, 1, accept(B1, 3, 1, b"c")));
    assert_eq!(events(&mut nic).len(), 1, "commit 1 was reported already");
    assert_eq!(nic.config().next_slot, 4);
    assert_eq!(nic.counters().get(Counter::Accepted), 3);
    assert_eq!(nic.counters().get(Counter::TxAccepted), 3);
}

#[test]
fn follower_reacks_slots_it_wrote_without_a_second_host_record() {
    let mut nic = follower(5, ModelBugs::default());
    nic.receive(&frame_from(0, 1, accept(B1, 5, 0, b"x")));
    records(&mut nic);
    sent(&mut nic);
    nic.receive(&frame_from(0, 1, accept(B1, 5, 0, b"x")));
    assert!(records(&mut nic).is_empty());
    assert_eq!(
        sent(&mut nic),
        [(
            0,
            Message::Accepted {
                ballot: B1,
                slot: 5
            }
        )]
    );
    assert_eq!(nic.counters().get(Counter::Reacked), 1);
}

#[test]
fn follower_punts_slots_below_its_base_and_gaps() {
    let mut nic = follower(5, ModelBugs::default());
    // Below base: software may hold a different value there.
    assert_punted(
        &mut nic,
        &frame_from(0, 1, accept(B1, 4, 0, b"old")),
        Counter::PuntSlot,
    );
    // A gap: slot 6 while 5 is expected.
    assert_punted(
        &mut nic,
        &frame_from(0, 1, accept(B1, 6, 0, b"gap")),
        Counter::PuntSlot,
    );
    assert_eq!(nic.config().next_slot, 5);
}

#[test]
fn follower_drops_and_nacks_stale_ballots() {
    let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
    nic.command(configure(NicRole::Follower, B2, 1, 0));
    assert_eq!(nic.counters().get(Counter::DropStale), 0);
    nic.receive(&frame_from(0, 1, accept(B1, 1, 0, b"v")));
    assert!(records(&mut nic).is_empty());
    assert_eq!(
        sent(&mut nic),
        [(
            0,
            Message::Nack {
                ballot: B2,
                slot: 1
            }
        )]
    );
    assert_eq!(nic.counters().get(Counter::DropStale), 1);
    assert_eq!(nic.counters().get(Counter::TxNack), 1);
}

#[test]
fn follower_punts_higher_ballots() {
    let mut nic = follower(1, ModelBugs::default());
    assert_punted(
        &mut nic,
        &frame_from(2, 1, accept(B3, 1, 0, b"v")),
        Counter::PuntHigherBallot,
    );
    assert_punted(
        &mut nic,
        &frame_from(
            2,
            1,
            Message::Commit {
                ballot: B3,
                commit: 0,
            },
        ),
        Counter::PuntHigherBallot,
    );
}

#[test]
fn follower_reports_every_heartbeat_of_its_ballot_and_drops_the_rest() {
    let mut nic = follower(1, ModelBugs::default());
    let heartbeat = frame_from(
        0,
        1,
        Message::Commit {
            ballot: B1,
            commit: 0,
        },
    );
    nic.receive(&heartbeat);
    nic.receive(&heartbeat);
    assert_eq!(
        events(&mut nic),
        [
            NicEvent::Committed {
                ballot: B1,
                commit: 0
            },
            NicEvent::Committed {
                ballot: B1,
                commit: 0
            }
        ],
        "every heartbeat is the host's liveness signal"
    );
    let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
    nic.command(configure(NicRole::Follower, B2, 1, 0));
    assert_dropped(
        &mut nic,
        &frame_from(
            0,
            1,
            Message::Commit {
                ballot: B1,
                commit: 0,
            },
        ),
        Counter::DropPhase2,
    );
    assert_dropped(
        &mut nic,
        &frame_from(
            0,
            1,
            Message::Accepted {
                ballot: B2,
                slot: 1,
            },
        ),
        Counter::DropPhase2,
    );
}

#[test]
fn the_fence_stops_acks_below_it_and_completes_behind_earlier_records() {
    let mut nic = follower(1, ModelBugs::default());
    nic.receive(&frame_from(
        0,
        1,
        accept(B1, 1, 0, b"acked before the fence"),
    ));
    nic.command(NicCommand::Fence { ballot: B2 });
    nic.receive(&frame_from(0, 1, accept(B1, 2, 0, b"after the fence")));
    // FIFO: the entry acked before the fence precedes FenceDone.
    assert_eq!(
        events(&mut nic),
        [
            NicEvent::Accepted {
                ballot: B1,
                slot: 1,
                value: b"acked before the fence".to_vec()
            },
            NicEvent::FenceDone { ballot: B2 },
        ]
    );
    // After it: nothing below the fence is acked; the NACK names the fence.
    assert_eq!(
        sent(&mut nic),
        [
            (
                0,
                Message::Accepted {
                    ballot: B1,
                    slot: 1
                }
            ),
            (
                0,
                Message::Nack {
                    ballot: B2,
                    slot: 2
                }
            ),
        ]
    );
    assert_eq!(nic.fence(), B2);
    // A lower fence does not lower it, but is still confirmed.
    nic.command(NicCommand::Fence { ballot: B1 });
    assert_eq!(events(&mut nic), [NicEvent::FenceDone { ballot: B1 }]);
    assert_eq!(nic.fence(), B2);
}

#[test]
fn leader_assigns_slots_fans_out_and_commits_at_a_majority() {
    let mut nic = leader(ModelBugs::default());
    nic.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    nic.command(NicCommand::Submit {
        value: b"b".to_vec(),
    });
    assert_eq!(
        events(&mut nic),
        [
            NicEvent::Accepted {
                ballot: B1,
                slot: 1,
                value: b"a".to_vec()
            },
            NicEvent::Accepted {
                ballot: B1,
                slot: 2,
                value: b"b".to_vec()
            },
        ]
    );
    assert_eq!(
        sent(&mut nic),
        [
            (1, accept(B1, 1, 0, b"a")),
            (2, accept(B1, 1, 0, b"a")),
            (1, accept(B1, 2, 0, b"b")),
            (2, accept(B1, 2, 0, b"b")),
        ]
    );
    // Slot 2 reaches a quorum first: commit waits for slot 1, then jumps.
    nic.receive(&frame_from(
        2,
        0,
        Message::Accepted {
            ballot: B1,
            slot: 2,
        },
    ));
    assert!(events(&mut nic).is_empty());
    nic.receive(&frame_from(
        1,
        0,
        Message::Accepted {
            ballot: B1,
            slot: 1,
        },
    ));
    assert_eq!(
        events(&mut nic),
        [NicEvent::Committed {
            ballot: B1,
            commit: 2
        }]
    );
    assert_eq!(nic.config().commit, 2);
    assert_eq!(nic.counters().get(Counter::AckCounted), 2);
    // A late ack for a committed slot is dropped, not recounted.
    assert_dropped(
        &mut nic,
        &frame_from(
            2,
            0,
            Message::Accepted {
                ballot: B1,
                slot: 1,
            },
        ),
        Counter::DropPhase2,
    );
    // Heartbeats carry the commit to every follower.
    nic.command(NicCommand::Heartbeat);
    assert_eq!(
        sent(&mut nic),
        [
            (
                1,
                Message::Commit {
                    ballot: B1,
                    commit: 2
                }
            ),
            (
                2,
                Message::Commit {
                    ballot: B1,
                    commit: 2
                }
            ),
        ]
    );
}

#[test]
fn leader_punts_higher_ballots_and_drops_the_rest_of_phase_two() {
    let mut nic = leader(ModelBugs::default());
    nic.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    records(&mut nic);
    sent(&mut nic);
    assert_punted(
        &mut nic,
        &frame_from(
            2,
            0,
            Message::Accepted {
                ballot: B3,
                slot: 1,
            },
        ),
        Counter::PuntHigherBallot,
    );
    assert_punted(
        &mut nic,
        &frame_from(2, 0, accept(B3, 1, 0, b"v")),
        Counter::PuntHigherBallot,
    );
    assert_punted(
        &mut nic,
        &frame_from(
            2,
            0,
            Message::Commit {
                ballot: B3,
                commit: 0,
            },
        ),
        Counter::PuntHigherBallot,
    );
    let stale = Ballot::new(0, 2);
    assert_dropped(
        &mut nic,
        &frame_from(
            2,
            0,
            Message::Accepted {
                ballot: stale,
                slot: 1,
            },
        ),
        Counter::DropPhase2,
    );
    assert_dropped(
        &mut nic,
        &frame_from(2, 0, accept(stale, 1, 0, b"v")),
        Counter::DropPhase2,
    );
    // Not outstanding (never assigned).
    assert_dropped(
        &mut nic,
        &frame_from(
            2,
            0,
            Message::Accepted {
                ballot: B1,
                slot: 9,
            },
        ),
        Counter::DropPhase2,
    );
    assert_eq!(nic.config().commit, 0);
}

#[test]
fn leader_refuses_submissions_beyond_the_window() {
    let mut nic = leader(ModelBugs::default());
    for value in 0..5u8 {
        nic.command(NicCommand::Submit { value: vec![value] });
    }
    assert_eq!(events(&mut nic).len(), 4, "window 4");
    assert_eq!(nic.refused_commands(), 1);
    assert_eq!(nic.config().next_slot, 5);
}

#[test]
fn configure_sets_the_base_and_clears_ack_bitmaps() {
    let mut nic = leader(ModelBugs::default());
    nic.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    nic.receive(&frame_from(
        1,
        0,
        Message::Accepted {
            ballot: B1,
            slot: 1,
        },
    ));
    nic.command(NicCommand::Submit {
        value: b"b".to_vec(),
    });
    records(&mut nic);
    // Re-elected at B2 from slot 2: the old bitmap of slot 2 is gone, so
    // one stale ACCEPTED at B1 cannot complete it.
    nic.command(configure(NicRole::Leader, Ballot::new(2, 0), 2, 1));
    nic.command(NicCommand::Submit {
        value: b"b'".to_vec(),
    });
    records(&mut nic);
    nic.receive(&frame_from(
        1,
        0,
        Message::Accepted {
            ballot: B1,
            slot: 2,
        },
    ));
    assert!(records(&mut nic).is_empty());
    nic.receive(&frame_from(
        1,
        0,
        Message::Accepted {
            ballot: Ballot::new(2, 0),
            slot: 2,
        },
    ));
    assert_eq!(
        events(&mut nic),
        [NicEvent::Committed {
            ballot: Ballot::new(2, 0),
            commit: 2
        }]
    );
}

#[test]
fn transmit_wraps_software_datagrams_for_the_peer() {
    let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
    let message = Message::Prepare {
        ballot: B2,
        commit: 7,
        lives: vec![0; 3],
    };
    let datagram = Envelope {
        group: GROUP,
        sender: 1,
        life: 0,
        message: message.clone(),
    }
    .encode();
    nic.command(NicCommand::Transmit { to: 2, datagram });
    assert_eq!(sent(&mut nic), [(2, message)]);
    nic.command(NicCommand::Transmit {
        to: 9,
        datagram: vec![],
    });
    assert_eq!(nic.refused_commands(), 1);
    assert_eq!(nic.counters().get(Counter::TxRaw), 1);
}

#[test]
fn malformed_frames_are_dropped_and_counted_by_reason() {
    let good = frame_from(0, 1, accept(B1, 1, 0, b"v"));
    let mutate = |at: usize, byte: u8| {
        let mut frame = good.clone();
        frame[at] = byte;
        frame
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..20].to_vec(), "drop_short"),
        (mutate(12, 0x86), "drop_not_ipv4"),
        (
            mutate(ipv4::VERSION_IHL.offset, 0x46),
            "drop_bad_ip_version_ihl",
        ),
        (mutate(ipv4::TTL.offset, 1), "drop_bad_ip_checksum"),
        (mutate(36, 0), "drop_wrong_port"),
        (
            mutate(RIPTIDE_OFFSET + header::VERSION.offset, 9),
            "drop_bad_version",
        ),
        (
            mutate(RIPTIDE_OFFSET + header::MSG_TYPE.offset, 0x7f),
            "drop_unknown_type",
        ),
        (
            mutate(RIPTIDE_OFFSET + header::GROUP.offset, 0xee),
            "drop_wrong_group",
        ),
        (
            mutate(RIPTIDE_OFFSET + header::PAYLOAD_LEN.offset + 1, 9),
            "drop_payload_len_mismatch",
        ),
    ];
    let mut nic = follower(1, ModelBugs::default());
    for (frame, reason) in &cases {
        let before = nic.counters().by_name(reason);
        nic.receive(frame);
        assert_eq!(nic.counters().by_name(reason), before + 1, "{reason}");
        assert!(records(&mut nic).is_empty(), "{reason} reached the host");
        assert!(sent(&mut nic).is_empty(), "{reason} was answered");
    }
    // A COMMIT carrying a slot: a header field its type does not use.
    let mut commit = frame_from(
        0,
        1,
        Message::Commit {
            ballot: B1,
            commit: 0,
        },
    );
    commit[RIPTIDE_OFFSET + header::SLOT.offset + 7] = 1;
    nic.receive(&commit);
    assert_eq!(nic.counters().by_name("drop_unused_nonzero"), 1);
    assert_eq!(nic.config().next_slot, 1, "no state changed");
}

/// `message` from replica `from` to replica 1, its header saying `life`.
fn frame_of_life(from: u8, life: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame_of_life(GROUP, from, life, 1, message)
}

#[test]
fn phase_two_from_an_older_life_is_dropped_and_frames_carry_our_own() {
    let mut nic = ModelNic::new(1, 3, GROUP, ModelBugs::default());
    let mut lives = [0; riptide_wire::regs::MAX_REPLICAS];
    // The leader (0) is on life 2, we are on life 5. Older than 2: up to
    // 127 lives back, wrapping below 0.
    lives[0] = 2;
    lives[1] = 5;
    let NicCommand::Configure(config) = configure(NicRole::Follower, B1, 1, 0) else {
        unreachable!()
    };
    nic.command(NicCommand::Configure(NicConfig { lives, ..config }));
    for older in [1, 0, 255, 131] {
        nic.receive(&frame_of_life(0, older, accept(B1, 1, 0, b"old")));
    }
    assert_eq!(nic.counters().by_name("drop_old_life"), 4);
    assert!(
        records(&mut nic).is_empty(),
        "an older life reached the host"
    );
    assert!(sent(&mut nic).is_empty(), "an older life was acked");
    // Its current life, and a newer one the host has not heard of, pass.
    nic.receive(&frame_of_life(0, 2, accept(B1, 1, 0, b"now")));
    nic.receive(&frame_of_life(0, 3, accept(B1, 2, 0, b"newer")));
    assert_eq!(nic.counters().by_name("accepted"), 2);
    let lifes: Vec<u8> = std::iter::from_fn(|| nic.poll_transmit())
        .map(|(_, frame)| {
            let view = decode_frame(&frame, UDP_PORT).unwrap();
            Envelope::decode(view.datagram, GROUP).unwrap().life
        })
        .collect();
    assert_eq!(lifes, [5, 5], "our ACCEPTEDs carry our own life");
}

#[test]
fn phase_two_from_a_non_peer_is_dropped() {
    let mut nic = follower(1, ModelBugs::default());
    // Sender id 7 is not in a group of 3: there is nobody to ack.
    assert_dropped(
        &mut nic,
        &frame_from(7, 1, accept(B1, 1, 0, b"v")),
        Counter::DropPhase2,
    );
}

#[test]
fn planted_bug_ack_without_store_reacks_other_ballots_blindly() {
    let mut nic = follower(
        1,
        ModelBugs {
            ack_without_store: true,
            ..ModelBugs::default()
        },
    );
    nic.receive(&frame_from(0, 1, accept(B1, 1, 0, b"old")));
    records(&mut nic);
    sent(&mut nic);
    nic.receive(&frame_from(2, 1, accept(B3, 1, 0, b"new")));
    assert!(
        records(&mut nic).is_empty(),
        "the new value never reaches the host"
    );
    assert_eq!(
        sent(&mut nic),
        [(
            2,
            Message::Accepted {
                ballot: B3,
                slot: 1
            }
        )]
    );
    // Without the bug the same frame is punted.
    let mut nic = follower(1, ModelBugs::default());
    nic.receive(&frame_from(0, 1, accept(B1, 1, 0, b"old")));
    records(&mut nic);
    sent(&mut nic);
    assert_punted(
        &mut nic,
        &frame_from(2, 1, accept(B3, 1, 0, b"new")),
        Counter::PuntHigherBallot,
    );
}

#[test]
fn planted_bug_commit_on_any_ack_counts_foreign_ballots() {
    let mut nic = leader(ModelBugs {
        commit_on_any_ack: true,
        ..ModelBugs::default()
    });
    nic.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    records(&mut nic);
    nic.receive(&frame_from(
        2,
        0,
        Message::Accepted {
            ballot: B3,
            slot: 1,
        },
    ));
    assert_eq!(
        events(&mut nic),
        [NicEvent::Committed {
            ballot: B1,
            commit: 1
        }]
    );
}

#[test]
fn planted_bug_minority_quorum_commits_on_the_leader_alone() {
    let mut nic = leader(ModelBugs {
        minority_quorum: true,
        ..ModelBugs::default()
    });
    nic.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    assert_eq!(
        events(&mut nic),
        [
            NicEvent::Accepted {
                ballot: B1,
                slot: 1,
                value: b"a".to_vec()
            },
            NicEvent::Committed {
                ballot: B1,
                commit: 1
            },
        ]
    );
    let mut correct = leader(ModelBugs::default());
    correct.command(NicCommand::Submit {
        value: b"a".to_vec(),
    });
    assert_eq!(events(&mut correct).len(), 1);
}

/// The fates of received frames add up: each counts once in `rx_frames` and
/// once in exactly one drop, punt, accept, re-ack, ack or heartbeat counter.
fn fates(nic: &ModelNic) -> u64 {
    nic.heartbeats()
        + nic
            .counters()
            .iter()
            .filter(|(counter, _)| {
                let name = counter.name();
                name.starts_with("drop_")
                    || name.starts_with("punt_")
                    || matches!(name, "accepted" | "reacked" | "ack_counted")
            })
            .map(|(_, count)| count)
            .sum::<u64>()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_never_reach_the_log(
        bytes in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        let mut nic = follower(1, ModelBugs::default());
        nic.receive(&bytes);
        prop_assert!(records(&mut nic).iter().all(|r| matches!(r, CardToHost::Punted(_))));
        prop_assert_eq!(fates(&nic), nic.counters().get(Counter::RxFrames));
    }

    #[test]
    fn mutated_frames_never_panic_and_every_frame_has_one_fate(
        flips in prop::collection::vec((0usize..120, any::<u8>()), 1..4),
        leader_role in any::<bool>(),
    ) {
        let mut nic = if leader_role { leader(ModelBugs::default()) } else { follower(1, ModelBugs::default()) };
        nic.command(NicCommand::Submit { value: b"s".to_vec() });
        let frames = [
            frame_from(0, 1, accept(B1, 1, 0, b"value")),
            frame_from(1, 0, Message::Accepted { ballot: B1, slot: 1 }),
            frame_from(0, 1, Message::Commit { ballot: B1, commit: 1 }),
        ];
        for frame in frames {
            let mut frame = frame;
            for &(at, byte) in &flips {
                if let Some(b) = frame.get_mut(at) { *b = byte; }
            }
            nic.receive(&frame);
        }
        prop_assert_eq!(fates(&nic), nic.counters().get(Counter::RxFrames));
    }
}
