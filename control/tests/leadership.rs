//! Leadership hygiene, one replica driven by hand: pre-vote (a replica asks
//! before it stands, and is granted only without a live leader) and
//! check-quorum (a leader no majority answers steps down).

use riptide_control::{Input, Output, Replica, ReplicaConfig, Role, Variant};
use riptide_wire::host::{NicCommand, NicEvent};
use riptide_wire::{Ballot, Message};

const GROUP: u16 = 1;

fn config(id: u8, variant: Variant) -> ReplicaConfig {
    let mut config = ReplicaConfig::new(id, 3, GROUP, 100 + u64::from(id));
    config.election_ticks = (10, 10);
    config.check_quorum_ticks = 10;
    config.variant = variant;
    config
}

fn ticks(replica: &mut Replica, n: u64) -> Vec<Output> {
    (0..n).flat_map(|_| replica.step(Input::Tick)).collect()
}

fn receive(replica: &mut Replica, from: u8, message: Message) -> Vec<Output> {
    replica.step(Input::Receive {
        from,
        life: 0,
        message,
    })
}

fn sends_to(outputs: &[Output], peer: u8) -> Vec<Message> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Send { to, message } if *to == peer => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn submits(outputs: &[Output]) -> usize {
    outputs
        .iter()
        .filter(|output| matches!(output, Output::Nic(NicCommand::Submit { .. })))
        .count()
}

/// Replica 0 after winning an election with replica 1's grant and promise.
fn leader(variant: Variant) -> (Replica, Ballot) {
    let mut replica = Replica::new(config(0, variant));
    ticks(&mut replica, 10);
    let ballot = Ballot::new(1, 0);
    receive(&mut replica, 1, Message::PreVoteGrant { ballot });
    replica.step(Input::Nic(NicEvent::FenceDone { ballot }));
    receive(
        &mut replica,
        1,
        Message::Promise {
            ballot,
            commit: 0,
            from: 0,
            upto: u64::MAX,
            lives: vec![0; 3],
            entries: vec![],
        },
    );
    assert_eq!(replica.status().role, Role::Leader);
    (replica, ballot)
}

#[test]
fn a_pre_vote_is_granted_only_without_a_live_leader_and_for_a_commit_at_least_ours() {
    let mut replica = Replica::new(config(1, Variant::Correct));
    let leader = Ballot::new(1, 0);
    receive(
        &mut replica,
        0,
        Message::Commit {
            ballot: leader,
            commit: 0,
        },
    );
    let asked = Ballot::new(2, 2);
    let ask = |replica: &mut Replica, commit| {
        let outputs = receive(
            replica,
            2,
            Message::PreVote {
                ballot: asked,
                commit,
            },
        );
        sends_to(&outputs, 2)
    };
    assert_eq!(ask(&mut replica, 0), [], "the leader was just heard from");
    // The leader itself may ask (it lost sight of a majority): granted.
    let outputs = receive(
        &mut replica,
        0,
        Message::PreVote {
            ballot: Ballot::new(2, 0),
            commit: 0,
        },
    );
    assert_eq!(
        sends_to(&outputs, 0),
        [Message::PreVoteGrant {
            ballot: Ballot::new(2, 0)
        }]
    );
    // An election timeout of silence: the leader is presumed dead.
    replica.step(Input::Nic(NicEvent::Accepted {
        ballot: leader,
        slot: 1,
        value: b"x".to_vec(),
    }));
    replica.step(Input::Nic(NicEvent::Committed {
        ballot: leader,
        commit: 1,
    }));
    ticks(&mut replica, 9);
    assert_eq!(ask(&mut replica, 1), [], "still within the timeout");
    ticks(&mut replica, 1);
    assert_eq!(ask(&mut replica, 0), [], "a commit behind ours");
    assert_eq!(
        ask(&mut replica, 1),
        [Message::PreVoteGrant { ballot: asked }]
    );
    // Granting changes nothing here.
    assert_eq!(replica.status().promised, leader);
    assert_eq!(replica.status().role, Role::Follower);
}

#[test]
fn a_pre_vote_below_our_promise_is_told_the_ballot_to_stand_above() {
    let mut replica = Replica::new(config(1, Variant::Correct));
    let promised = Ballot::new(5, 0);
    receive(
        &mut replica,
        0,
        Message::Commit {
            ballot: promised,
            commit: 0,
        },
    );
    let outputs = receive(
        &mut replica,
        2,
        Message::PreVote {
            ballot: Ballot::new(3, 2),
            commit: 0,
        },
    );
    assert_eq!(
        sends_to(&outputs, 2),
        [Message::Nack {
            ballot: promised,
            slot: 0
        }]
    );
}

#[test]
fn a_replica_nobody_answers_asks_again_and_again_but_never_raises_its_ballot() {
    let mut replica = Replica::new(config(2, Variant::Correct));
    let outputs = ticks(&mut replica, 200);
    let asks = sends_to(&outputs, 0)
        .into_iter()
        .filter(|message| matches!(message, Message::PreVote { .. }))
        .count();
    // Re-asked every retransmission interval (10 ticks), from tick 10 on.
    assert!(asks >= 19, "{asks} pre-votes");
    assert_eq!(replica.status().promised, Ballot::ZERO);
    assert_eq!(replica.status().role, Role::Follower);

    // The planted variant stands at every timeout: its ballot climbs, and
    // the first PREPARE that reaches the group deposes its leader.
    let mut planted = Replica::new(config(2, Variant::NoPreVote));
    ticks(&mut planted, 200);
    assert!(
        planted.status().promised.round() >= 10,
        "{:?}",
        planted.status()
    );
}

#[test]
fn a_grant_for_a_ballot_we_no_longer_stand_at_does_not_start_an_election() {
    let mut replica = Replica::new(config(2, Variant::Correct));
    ticks(&mut replica, 10);
    // A higher ballot arrives meanwhile (a NACK), moving our promise.
    receive(
        &mut replica,
        0,
        Message::Nack {
            ballot: Ballot::new(4, 0),
            slot: 0,
        },
    );
    receive(
        &mut replica,
        1,
        Message::PreVoteGrant {
            ballot: Ballot::new(1, 2),
        },
    );
    assert_eq!(replica.status().role, Role::Follower);
    assert_eq!(replica.status().promised, Ballot::new(4, 0));
}

#[test]
fn an_idle_leader_probes_with_a_noop_and_stays_while_a_majority_answers() {
    let (mut replica, ballot) = leader(Variant::Correct);
    let mut commit = 0;
    for _ in 0..10 {
        let outputs = ticks(&mut replica, 5);
        let probes = submits(&outputs) as u64;
        if probes > 0 {
            // The NIC counted a majority of acks for the probe.
            commit += probes;
            for slot in commit + 1 - probes..=commit {
                replica.step(Input::Nic(NicEvent::Accepted {
                    ballot,
                    slot,
                    value: riptide_control::kv::LogValue::Noop.encode(),
                }));
            }
            replica.step(Input::Nic(NicEvent::Committed { ballot, commit }));
        }
    }
    assert!(commit >= 5, "an idle leader probes: {commit} probes");
    assert_eq!(replica.status().role, Role::Leader);
    assert_eq!(replica.status().promised, ballot);
}

#[test]
fn a_leader_no_majority_answers_steps_down_within_the_check_quorum_interval() {
    let (mut replica, ballot) = leader(Variant::Correct);
    let outputs = ticks(&mut replica, 5);
    assert_eq!(submits(&outputs), 1, "the probe, at half the interval");
    ticks(&mut replica, 4);
    assert_eq!(replica.status().role, Role::Leader);
    let outputs = ticks(&mut replica, 1);
    assert_eq!(replica.status().role, Role::Follower);
    // It asks to stand again, at a ballot it has not taken yet: a replica
    // that still follows it grants, one cut off with it cannot.
    assert!(
        sends_to(&outputs, 1).contains(&Message::PreVote {
            ballot: Ballot::new(2, 0),
            commit: 0
        }),
        "{outputs:?}"
    );
    assert_eq!(replica.status().promised, ballot);
    let replies = replica.step(Input::Client {
        client: 9,
        request: 1,
        command: riptide_control::kv::Command::Get { key: "k".into() },
    });
    assert!(
        matches!(
            replies.as_slice(),
            [Output::Reply {
                reply: riptide_control::kv::Reply::NotLeader { .. },
                ..
            }]
        ),
        "{replies:?}"
    );

    // The planted variant keeps leading whatever it hears.
    let (mut planted, _) = leader(Variant::NoCheckQuorum);
    ticks(&mut planted, 200);
    assert_eq!(planted.status().role, Role::Leader);
}

/// Eight values at the 16 KiB limit, accepted at `ballot` in slots 1..=8
/// and not known chosen: more than one datagram holds.
fn large_entries(replica: &mut Replica, ballot: Ballot) -> Vec<Vec<u8>> {
    let values: Vec<Vec<u8>> = (1..=8u8)
        .map(|slot| vec![slot; riptide_control::kv::MAX_LOG_VALUE_LEN])
        .collect();
    for (slot, value) in (1..).zip(&values) {
        replica.step(Input::Nic(NicEvent::Accepted {
            ballot,
            slot,
            value: value.clone(),
        }));
    }
    values
}

#[test]
fn a_promise_of_values_at_the_limit_goes_in_parts_that_fit_and_the_candidate_waits_for_all() {
    // The promiser: replica 1 holds eight large values of the old leader.
    let mut promiser = Replica::new(config(1, Variant::Correct));
    let old = Ballot::new(1, 2);
    let values = large_entries(&mut promiser, old);
    let ballot = Ballot::new(2, 0);
    promiser.step(Input::Receive {
        from: 0,
        life: 0,
        message: Message::Prepare {
            ballot,
            commit: 0,
            lives: vec![0; 3],
        },
    });
    let outputs = promiser.step(Input::Nic(NicEvent::FenceDone { ballot }));
    let parts = sends_to(&outputs, 0);
    assert!(parts.len() >= 3, "{} parts", parts.len());
    let mut next = 0;
    let mut reported = Vec::new();
    for part in &parts {
        let envelope = riptide_wire::Envelope {
            group: GROUP,
            sender: 1,
            life: 0,
            message: part.clone(),
        };
        assert!(envelope.try_encode().is_ok(), "every part fits a datagram");
        let Message::Promise {
            from,
            upto,
            entries,
            ..
        } = part
        else {
            panic!("{part:?}");
        };
        assert_eq!(*from, next, "the parts chain");
        next = *upto;
        reported.extend(entries.iter().map(|entry| entry.value.clone()));
    }
    assert_eq!(next, u64::MAX, "the last part reports everything above");
    assert_eq!(reported, values);

    // The candidate, replica 0, counts the promise only with every part:
    // the merge needs all eight values.
    let mut candidate = Replica::new(config(0, Variant::Correct));
    ticks(&mut candidate, 10);
    receive(
        &mut candidate,
        1,
        Message::PreVoteGrant {
            ballot: Ballot::new(1, 0),
        },
    );
    let ballot = candidate.status().promised;
    candidate.step(Input::Nic(NicEvent::FenceDone { ballot }));
    let mut parts: Vec<Message> = parts
        .into_iter()
        .map(|part| match part {
            Message::Promise {
                commit,
                from,
                upto,
                lives,
                entries,
                ..
            } => Message::Promise {
                ballot,
                commit,
                from,
                upto,
                lives,
                entries,
            },
            other => other,
        })
        .collect();
    let last = parts.remove(0);
    for part in parts.into_iter().rev() {
        receive(&mut candidate, 1, part.clone());
        // A part twice changes nothing.
        receive(&mut candidate, 1, part);
        assert_eq!(candidate.status().role, Role::Candidate);
    }
    let outputs = receive(&mut candidate, 1, last);
    assert_eq!(candidate.status().role, Role::Leader);
    let submitted: Vec<Vec<u8>> = outputs
        .iter()
        .filter_map(|output| match output {
            Output::Nic(NicCommand::Submit { value }) => Some(value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(submitted, values, "every promised value is re-proposed");
}
