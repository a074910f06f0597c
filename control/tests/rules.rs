//! The control plane's rules one at a time, driving a single replica with
//! hand-made inputs (no NIC, no network) and checking exactly what it emits.

use riptide_control::kv::{Command, LogValue, Reply, Write};
use riptide_control::{Input, Output, Replica, ReplicaConfig, Role, Variant};
use riptide_wire::host::{NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::{Ballot, Entry, Message};

const GROUP: u16 = 1;
/// The crash vector of a group of three on its first boot.
const LIVES: [u32; 3] = [0; 3];

fn config(id: u8) -> ReplicaConfig {
    let mut config = ReplicaConfig::new(id, 3, GROUP, 100 + u64::from(id));
    config.election_ticks = (10, 10);
    config
}

fn step(replica: &mut Replica, input: Input) -> Vec<Output> {
    replica.step(input)
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

fn nic(replica: &mut Replica, event: NicEvent) -> Vec<Output> {
    replica.step(Input::Nic(event))
}

fn sends(outputs: &[Output]) -> Vec<(u8, Message)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Send { to, message } => Some((*to, message.clone())),
            _ => None,
        })
        .collect()
}

fn commands(outputs: &[Output]) -> Vec<NicCommand> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Nic(command) => Some(command.clone()),
            _ => None,
        })
        .collect()
}

fn replies(outputs: &[Output]) -> Vec<(u64, u64, Reply)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Reply {
                client,
                request,
                reply,
            } => Some((*client, *request, reply.clone())),
            _ => None,
        })
        .collect()
}

fn submitted(outputs: &[Output]) -> Vec<Vec<u8>> {
    commands(outputs)
        .into_iter()
        .filter_map(|command| match command {
            NicCommand::Submit { value } => Some(value),
            _ => None,
        })
        .collect()
}

fn put(client: u64, request: u64, value: &str) -> Command {
    let _ = (client, request);
    Command::Put {
        key: "k".into(),
        value: value.into(),
    }
}

fn request(client: u64, request: u64, command: Command) -> Input {
    Input::Client {
        client,
        request,
        command,
    }
}

fn value(client: u64, request: u64, command: Command) -> Vec<u8> {
    LogValue::Request {
        client,
        request,
        command,
    }
    .encode()
}

fn noop() -> Vec<u8> {
    LogValue::Noop.encode()
}

/// Replica `id` times out and runs phase 1 with `promiser`'s (empty) promise.
fn leader(id: u8, variant: Variant) -> (Replica, Ballot, Vec<Output>) {
    let mut config = config(id);
    config.variant = variant;
    leader_with(config)
}

/// [`leader`] for a replica configured by the test.
fn leader_with(config: ReplicaConfig) -> (Replica, Ballot, Vec<Output>) {
    let promiser = (config.id + 1) % 3;
    let mut replica = Replica::new(config);
    ticks(&mut replica, 10);
    let ballot = replica.status().promised;
    nic(&mut replica, NicEvent::FenceDone { ballot });
    let outputs = receive(
        &mut replica,
        promiser,
        Message::Promise {
            ballot,
            commit: 0,
            lives: LIVES.to_vec(),
            entries: vec![],
        },
    );
    assert_eq!(replica.status().role, Role::Leader);
    (replica, ballot, outputs)
}

/// The NIC reports that it accepted `value` in `slot` at `ballot`.
fn accepted(replica: &mut Replica, ballot: Ballot, slot: u64, value: Vec<u8>) -> Vec<Output> {
    nic(
        replica,
        NicEvent::Accepted {
            ballot,
            slot,
            value,
        },
    )
}

#[test]
fn a_follower_stands_for_election_when_its_randomized_timeout_expires() {
    let mut replica = Replica::new(config(2));
    assert!(
        ticks(&mut replica, 9).is_empty(),
        "quiet before the timeout"
    );
    let outputs = ticks(&mut replica, 1);
    let ballot = Ballot::new(1, 2);
    assert_eq!(replica.status().role, Role::Candidate);
    assert_eq!(replica.status().promised, ballot);
    assert_eq!(commands(&outputs), [NicCommand::Fence { ballot }]);
    assert_eq!(
        sends(&outputs),
        [
            (
                0,
                Message::Prepare {
                    ballot,
                    commit: 0,
                    lives: LIVES.to_vec(),
                }
            ),
            (
                1,
                Message::Prepare {
                    ballot,
                    commit: 0,
                    lives: LIVES.to_vec(),
                }
            ),
        ]
    );
    // Timeouts are drawn from the range, per seed.
    let deadline = |seed| {
        let mut replica = Replica::new(ReplicaConfig::new(0, 3, GROUP, seed));
        (1..=61)
            .find(|_| !replica.step(Input::Tick).is_empty())
            .unwrap()
    };
    let drawn: Vec<u64> = (0..20).map(deadline).collect();
    assert!(drawn.iter().all(|t| (30..=60).contains(t)), "{drawn:?}");
    assert!(drawn.iter().any(|t| *t != drawn[0]), "{drawn:?}");
}

#[test]
fn heartbeats_of_the_promised_leader_hold_off_elections() {
    let mut replica = Replica::new(config(1));
    let ballot = Ballot::new(1, 0);
    receive(&mut replica, 0, Message::Commit { ballot, commit: 0 });
    for _ in 0..5 {
        assert!(ticks(&mut replica, 8).is_empty());
        nic(&mut replica, NicEvent::Committed { ballot, commit: 0 });
    }
    assert_eq!(replica.status().role, Role::Follower);
    ticks(&mut replica, 10);
    assert_eq!(replica.status().role, Role::Candidate);
    assert_eq!(replica.status().promised, Ballot::new(2, 1));
}

#[test]
fn a_promise_waits_for_the_fence_and_reports_what_the_nic_acked_before_it() {
    let mut replica = Replica::new(config(1));
    let old = Ballot::new(1, 0);
    let new = Ballot::new(2, 2);
    let outputs = receive(
        &mut replica,
        2,
        Message::Prepare {
            ballot: new,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert_eq!(commands(&outputs), [NicCommand::Fence { ballot: new }]);
    assert!(sends(&outputs).is_empty(), "no promise before FenceDone");
    // The NIC acked an old-ballot ACCEPT just before the fence; its record
    // reaches the host ahead of FenceDone (the stream is FIFO).
    accepted(&mut replica, old, 1, b"v".to_vec());
    let outputs = nic(&mut replica, NicEvent::FenceDone { ballot: new });
    assert_eq!(
        sends(&outputs),
        [(
            2,
            Message::Promise {
                ballot: new,
                commit: 0,
                lives: LIVES.to_vec(),
                entries: vec![Entry {
                    slot: 1,
                    ballot: old,
                    value: b"v".to_vec()
                }],
            }
        )]
    );
    assert_eq!(
        commands(&outputs),
        [NicCommand::Configure(NicConfig {
            role: NicRole::Follower,
            ballot: new,
            next_slot: 1,
            commit: 0,
            replicas: 3,
            window: 64,
            lives: Default::default(),
        })]
    );
    // A retransmitted PREPARE gets the promise again, without reprogramming.
    let outputs = receive(
        &mut replica,
        2,
        Message::Prepare {
            ballot: new,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert_eq!(sends(&outputs).len(), 1);
    assert!(commands(&outputs).is_empty());
}

#[test]
fn the_promise_before_fence_variant_promises_without_waiting() {
    let mut config = config(1);
    config.variant = Variant::PromiseBeforeFence;
    let mut replica = Replica::new(config);
    let new = Ballot::new(2, 2);
    let outputs = receive(
        &mut replica,
        2,
        Message::Prepare {
            ballot: new,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert!(matches!(
        sends(&outputs)[..],
        [(2, Message::Promise { ref entries, .. })] if entries.is_empty()
    ));
}

#[test]
fn prepares_at_or_below_the_promise_are_refused() {
    let mut replica = Replica::new(config(1));
    let high = Ballot::new(5, 2);
    receive(
        &mut replica,
        2,
        Message::Prepare {
            ballot: high,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    let outputs = receive(
        &mut replica,
        0,
        Message::Prepare {
            ballot: Ballot::new(3, 0),
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert_eq!(
        sends(&outputs),
        [(
            0,
            Message::Nack {
                ballot: high,
                slot: 0
            }
        )]
    );
    assert!(commands(&outputs).is_empty());
    assert_eq!(replica.status().promised, high);
}

#[test]
fn phase_one_counts_its_own_promise_only_after_its_own_fence() {
    let mut replica = Replica::new(config(0));
    ticks(&mut replica, 10);
    let ballot = replica.status().promised;
    let promise = Message::Promise {
        ballot,
        commit: 0,
        lives: LIVES.to_vec(),
        entries: vec![],
    };
    let outputs = receive(&mut replica, 1, promise);
    assert!(commands(&outputs).is_empty());
    assert_eq!(replica.status().role, Role::Candidate);
    let outputs = nic(&mut replica, NicEvent::FenceDone { ballot });
    assert_eq!(replica.status().role, Role::Leader);
    assert_eq!(
        commands(&outputs),
        [
            NicCommand::Configure(NicConfig {
                role: NicRole::Leader,
                ballot,
                next_slot: 1,
                commit: 0,
                replicas: 3,
                window: 64,
                lives: Default::default(),
            }),
            NicCommand::Heartbeat,
        ]
    );
}

/// Candidate 0 holds slot 1 at a low ballot and slot 4; replica 1 promises
/// slot 1 at a higher ballot and slot 3. Returns what it submits.
fn merged(variant: Variant) -> Vec<Vec<u8>> {
    let mut config = config(0);
    config.variant = variant;
    let mut replica = Replica::new(config);
    let low = Ballot::new(1, 1);
    let high = Ballot::new(1, 2);
    accepted(&mut replica, low, 1, b"own".to_vec());
    accepted(&mut replica, low, 4, b"four".to_vec());
    ticks(&mut replica, 10);
    let ballot = replica.status().promised;
    nic(&mut replica, NicEvent::FenceDone { ballot });
    let outputs = receive(
        &mut replica,
        1,
        Message::Promise {
            ballot,
            commit: 0,
            lives: LIVES.to_vec(),
            entries: vec![
                Entry {
                    slot: 1,
                    ballot: high,
                    value: b"theirs".to_vec(),
                },
                Entry {
                    slot: 3,
                    ballot: low,
                    value: b"three".to_vec(),
                },
            ],
        },
    );
    submitted(&outputs)
}

#[test]
fn the_merge_takes_the_highest_ballot_per_slot_and_fills_holes_with_noops() {
    assert_eq!(
        merged(Variant::Correct),
        [
            b"theirs".to_vec(),
            noop(),
            b"three".to_vec(),
            b"four".to_vec()
        ]
    );
}

#[test]
fn the_leader_log_wins_variant_keeps_its_own_value() {
    assert_eq!(merged(Variant::LeaderLogWins)[0], b"own");
}

#[test]
fn a_candidate_catches_up_to_its_promisers_commit_before_leading() {
    let mut replica = Replica::new(config(0));
    ticks(&mut replica, 10);
    let ballot = replica.status().promised;
    nic(&mut replica, NicEvent::FenceDone { ballot });
    // Replica 1 has chosen slots 1..=2, which its promise does not carry.
    let outputs = receive(
        &mut replica,
        1,
        Message::Promise {
            ballot,
            commit: 2,
            lives: LIVES.to_vec(),
            entries: vec![],
        },
    );
    assert_eq!(replica.status().role, Role::Candidate);
    assert_eq!(
        sends(&outputs),
        [(1, Message::CatchupRequest { ballot, from: 1 })]
    );
    let chosen = |slot, v: &[u8]| Entry {
        slot,
        ballot: Ballot::new(1, 1),
        value: v.to_vec(),
    };
    let outputs = receive(
        &mut replica,
        1,
        Message::CatchupResponse {
            ballot,
            commit: 2,
            entries: vec![chosen(1, b"a"), chosen(2, b"b")],
        },
    );
    assert_eq!(replica.status().role, Role::Leader);
    // Re-proposed from our PREPARE's commit on: the chosen values themselves.
    assert_eq!(submitted(&outputs), [b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn higher_ballots_make_a_leader_step_down_and_fail_waiting_reads() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    let outputs = step(
        &mut replica,
        request(5, 1, Command::Get { key: "k".into() }),
    );
    assert_eq!(submitted(&outputs), [noop()]);
    let higher = Ballot::new(ballot.round() + 1, 1);
    let outputs = receive(
        &mut replica,
        1,
        Message::Nack {
            ballot: higher,
            slot: 1,
        },
    );
    assert_eq!(replica.status().role, Role::Follower);
    assert_eq!(replica.status().promised, higher);
    assert_eq!(
        replies(&outputs),
        [(5, 1, Reply::NotLeader { leader: None })]
    );
    // Now a follower: clients are sent to the new leader.
    let outputs = step(&mut replica, request(6, 1, put(6, 1, "x")));
    assert_eq!(
        replies(&outputs),
        [(6, 1, Reply::NotLeader { leader: Some(1) })]
    );
}

#[test]
fn a_prepare_above_a_leader_deposes_it_through_the_fence() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    let higher = Ballot::new(ballot.round() + 1, 2);
    let outputs = receive(
        &mut replica,
        2,
        Message::Prepare {
            ballot: higher,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert_eq!(replica.status().role, Role::Follower);
    assert_eq!(commands(&outputs), [NicCommand::Fence { ballot: higher }]);
}

#[test]
fn writes_execute_at_most_once_and_duplicates_are_answered_from_the_session_table() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    let outputs = step(&mut replica, request(7, 1, put(7, 1, "a")));
    assert_eq!(submitted(&outputs), [value(7, 1, put(7, 1, "a"))]);
    // A retry while in flight is not proposed again.
    assert!(step(&mut replica, request(7, 1, put(7, 1, "a"))).is_empty());
    accepted(&mut replica, ballot, 1, value(7, 1, put(7, 1, "a")));
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    assert_eq!(replies(&outputs), [(7, 1, Reply::Done)]);
    assert!(matches!(outputs[0], Output::Applied { slot: 1, .. }));
    // A retry after execution: the stored reply, no new slot.
    let outputs = step(&mut replica, request(7, 1, put(7, 1, "a")));
    assert_eq!(replies(&outputs), [(7, 1, Reply::Done)]);
    assert!(submitted(&outputs).is_empty());
    // An older request is ignored.
    assert!(step(&mut replica, request(7, 0, put(7, 0, "z"))).is_empty());
    assert_eq!(replica.kv().read("k"), Some("a"));
}

#[test]
fn reads_wait_for_a_barrier_slot_chosen_at_the_leaders_ballot() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    let get = |client| request(client, 1, Command::Get { key: "k".into() });
    // A write in flight was assigned its slot before the get arrived: it
    // proves nothing, so the get gets a no-op barrier of its own (slot 2).
    step(&mut replica, request(1, 1, put(1, 1, "v")));
    let outputs = step(&mut replica, get(2));
    assert_eq!(submitted(&outputs), [noop()]);
    // Gets arriving while that barrier is in flight wait to share the next one.
    assert!(submitted(&step(&mut replica, get(3))).is_empty());
    assert!(submitted(&step(&mut replica, get(4))).is_empty());
    accepted(&mut replica, ballot, 1, value(1, 1, put(1, 1, "v")));
    accepted(&mut replica, ballot, 2, noop());
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    assert_eq!(
        replies(&outputs),
        [(1, 1, Reply::Done)],
        "barrier 2 not applied yet"
    );
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 2 });
    assert_eq!(replies(&outputs), [(2, 1, Reply::Value(Some("v".into())))]);
    // One no-op (slot 3) serves both waiting gets.
    assert_eq!(submitted(&outputs), [noop()]);
    accepted(&mut replica, ballot, 3, noop());
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 3 });
    assert_eq!(
        replies(&outputs),
        [
            (3, 1, Reply::Value(Some("v".into()))),
            (4, 1, Reply::Value(Some("v".into())))
        ]
    );
}

#[test]
fn a_queued_write_serves_as_a_read_barrier() {
    let mut config = config(0);
    config.window = 1;
    let (mut replica, ballot, _) = leader_with(config);
    step(&mut replica, request(1, 1, put(1, 1, "a")));
    // The window is full: this write waits in the queue for slot 2 ...
    assert!(submitted(&step(&mut replica, request(1, 2, put(1, 2, "b")))).is_empty());
    // ... which the get takes as its barrier, without a no-op.
    let get = step(
        &mut replica,
        request(2, 1, Command::Get { key: "k".into() }),
    );
    assert!(submitted(&get).is_empty());
    accepted(&mut replica, ballot, 1, value(1, 1, put(1, 1, "a")));
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    assert_eq!(submitted(&outputs), [value(1, 2, put(1, 2, "b"))]);
    assert_eq!(replies(&outputs), [(1, 1, Reply::Done)]);
    accepted(&mut replica, ballot, 2, value(1, 2, put(1, 2, "b")));
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 2 });
    assert_eq!(
        replies(&outputs),
        [(1, 2, Reply::Done), (2, 1, Reply::Value(Some("b".into())))]
    );
}

#[test]
fn the_window_queues_submissions_until_commit_advances() {
    let mut config = config(0);
    config.window = 2;
    let (mut replica, ballot, _) = leader_with(config);
    let mut outputs = Vec::new();
    for client in 0..3 {
        outputs.extend(step(&mut replica, request(client, 1, put(client, 1, "x"))));
    }
    assert_eq!(submitted(&outputs).len(), 2);
    for slot in 1..=2 {
        accepted(
            &mut replica,
            ballot,
            slot,
            value(slot - 1, 1, put(0, 0, "x")),
        );
    }
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    assert_eq!(submitted(&outputs), [value(2, 1, put(2, 1, "x"))]);
}

#[test]
fn a_stalled_leader_retransmits_then_seeks_a_new_ballot() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    step(&mut replica, request(1, 1, put(1, 1, "v")));
    accepted(&mut replica, ballot, 1, value(1, 1, put(1, 1, "v")));
    let outputs = ticks(&mut replica, 10);
    let accept = Message::Accept {
        ballot,
        slot: 1,
        commit: 0,
        value: value(1, 1, put(1, 1, "v")),
    };
    assert_eq!(sends(&outputs), [(1, accept.clone()), (2, accept)]);
    assert_eq!(replica.status().role, Role::Leader);
    ticks(&mut replica, 30);
    assert_eq!(replica.status().role, Role::Candidate);
    assert!(replica.status().promised > ballot);
}

#[test]
fn a_punted_accept_after_a_gap_is_stored_acked_and_resumes_the_fast_path() {
    let mut replica = Replica::new(config(1));
    let ballot = Ballot::new(1, 0);
    let outputs = receive(
        &mut replica,
        0,
        Message::Accept {
            ballot,
            slot: 3,
            commit: 0,
            value: b"c".to_vec(),
        },
    );
    assert_eq!(
        sends(&outputs),
        [(0, Message::Accepted { ballot, slot: 3 })]
    );
    assert!(matches!(
        commands(&outputs)[..],
        [NicCommand::Configure(NicConfig { role: NicRole::Follower, ballot: b, next_slot: 4, .. })] if b == ballot
    ));
    assert_eq!(replica.status().promised, ballot);
    let held: Vec<u64> = replica.entries().map(|(slot, _)| slot).collect();
    assert_eq!(held, [3]);
    // Below the promise: refused with a NACK naming it.
    let outputs = receive(
        &mut replica,
        2,
        Message::Accept {
            ballot: Ballot::new(0, 2),
            slot: 1,
            commit: 0,
            value: vec![],
        },
    );
    assert_eq!(sends(&outputs), [(2, Message::Nack { ballot, slot: 1 })]);
}

#[test]
fn a_follower_learns_commits_catches_up_what_it_misses_and_applies_in_order() {
    let mut replica = Replica::new(config(1));
    let ballot = Ballot::new(1, 0);
    receive(&mut replica, 0, Message::Commit { ballot, commit: 0 });
    let a = value(1, 1, put(1, 1, "a"));
    let b = value(1, 2, put(1, 2, "b"));
    accepted(&mut replica, ballot, 2, b.clone());
    let outputs = nic(&mut replica, NicEvent::Committed { ballot, commit: 2 });
    // Slot 1 is missing: ask the leader, apply nothing yet.
    assert_eq!(
        sends(&outputs),
        [(0, Message::CatchupRequest { ballot, from: 1 })]
    );
    assert_eq!(replica.commit(), 0);
    let outputs = receive(
        &mut replica,
        0,
        Message::CatchupResponse {
            ballot,
            commit: 2,
            entries: vec![Entry {
                slot: 1,
                ballot,
                value: a.clone(),
            }],
        },
    );
    let applied: Vec<(u64, Vec<u8>)> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Applied { slot, value } => Some((*slot, value.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [(1, a), (2, b)]);
    assert_eq!((replica.commit(), replica.applied()), (2, 2));
    assert!(
        replies(&outputs).is_empty(),
        "followers do not answer clients"
    );
    assert_eq!(replica.kv().read("k"), Some("b"));
}

#[test]
fn catchup_requests_are_answered_with_chosen_entries_only() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    for slot in 1..=3 {
        accepted(&mut replica, ballot, slot, vec![slot as u8]);
    }
    nic(&mut replica, NicEvent::Committed { ballot, commit: 2 });
    let outputs = receive(
        &mut replica,
        2,
        Message::CatchupRequest {
            ballot: Ballot::ZERO,
            from: 2,
        },
    );
    assert_eq!(
        sends(&outputs),
        [(
            2,
            Message::CatchupResponse {
                ballot,
                commit: 2,
                entries: vec![Entry {
                    slot: 2,
                    ballot,
                    value: vec![2]
                }]
            }
        )]
    );
}

#[test]
fn recovery_sets_a_vote_floor_and_votes_only_once_caught_up() {
    let mut replica = Replica::restarted(config(0));
    assert_eq!(replica.status().role, Role::Recovering);
    let outputs = ticks(&mut replica, 1);
    assert!(matches!(
        commands(&outputs)[..],
        [NicCommand::Configure(NicConfig {
            role: NicRole::Idle,
            ..
        })]
    ));
    let requests = sends(&outputs);
    assert_eq!(requests.len(), 2);
    let Message::RecoveryRequest { nonce, ref lives } = requests[0].1 else {
        panic!("{requests:?}")
    };
    assert_eq!(lives[..], [1, 0, 0], "it announces its new life");
    assert_eq!(nonce >> 32, 1, "the nonce names the life it belongs to");
    // While recovering it neither votes nor accepts.
    assert!(
        receive(
            &mut replica,
            1,
            Message::Prepare {
                ballot: Ballot::new(9, 1),
                commit: 0,
                lives: LIVES.to_vec(),
            }
        )
        .is_empty()
    );
    let b3 = Ballot::new(3, 1);
    let b5 = Ballot::new(5, 2);
    let entry = |slot, ballot, v: &[u8]| Entry {
        slot,
        ballot,
        value: v.to_vec(),
    };
    receive(
        &mut replica,
        1,
        Message::RecoveryResponse {
            nonce: nonce ^ 1,
            ballot: Ballot::new(50, 1),
            commit: 0,
            lives: LIVES.to_vec(),
            entries: vec![],
        },
    );
    assert_eq!(
        replica.status().role,
        Role::Recovering,
        "a stale nonce does not count"
    );
    receive(
        &mut replica,
        1,
        Message::RecoveryResponse {
            nonce,
            ballot: b3,
            commit: 1,
            lives: LIVES.to_vec(),
            entries: vec![entry(2, b3, b"low")],
        },
    );
    assert_eq!(
        replica.status().role,
        Role::Recovering,
        "f+1 = 2 others are needed"
    );
    let recovered = receive(
        &mut replica,
        2,
        Message::RecoveryResponse {
            nonce,
            ballot: b5,
            commit: 0,
            lives: LIVES.to_vec(),
            entries: vec![entry(2, b5, b"high"), entry(1, b3, b"one")],
        },
    );
    // It catches up at once, from the replica that reported commit 1.
    assert_eq!(
        sends(&recovered),
        [(
            1,
            Message::CatchupRequest {
                ballot: b5,
                from: 1
            }
        )]
    );
    let status = replica.status();
    assert_eq!(
        (status.role, status.promised, status.commit),
        (Role::Follower, b5, 0)
    );
    assert_eq!(replica.vote_floor(), b5);
    assert!(!replica.recovered(), "not caught up to commit 1 yet");
    let held: Vec<(u64, Ballot, Vec<u8>)> = replica
        .entries()
        .map(|(s, e)| (s, e.ballot, e.value.clone()))
        .collect();
    assert_eq!(held, [(1, b3, b"one".to_vec()), (2, b5, b"high".to_vec())]);
    // Not above the floor: no vote, no acceptance.
    let outputs = receive(
        &mut replica,
        2,
        Message::Accept {
            ballot: b5,
            slot: 3,
            commit: 0,
            value: vec![],
        },
    );
    assert_eq!(
        sends(&outputs),
        [(
            2,
            Message::Nack {
                ballot: b5,
                slot: 3
            }
        )]
    );
    // Above it, but before catching up to commit 1: no promise yet.
    let b6 = Ballot::new(6, 1);
    let outputs = receive(
        &mut replica,
        1,
        Message::Prepare {
            ballot: b6,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert!(commands(&outputs).is_empty());
    assert_eq!(replica.status().promised, b5);
    // Once caught up ...
    receive(
        &mut replica,
        1,
        Message::CatchupResponse {
            ballot: b6,
            commit: 1,
            entries: vec![entry(1, b3, b"one")],
        },
    );
    assert_eq!(replica.commit(), 1);
    // ... and then may promise.
    let outputs = receive(
        &mut replica,
        1,
        Message::Prepare {
            ballot: b6,
            commit: 0,
            lives: LIVES.to_vec(),
        },
    );
    assert_eq!(commands(&outputs), [NicCommand::Fence { ballot: b6 }]);
}

#[test]
fn responders_fence_above_every_promise_then_report_their_state() {
    let mut replica = Replica::new(config(1));
    let ballot = Ballot::new(1, 0);
    let prepare = Message::Prepare {
        ballot,
        commit: 0,
        lives: LIVES.to_vec(),
    };
    receive(&mut replica, 0, prepare);
    nic(&mut replica, NicEvent::FenceDone { ballot });
    accepted(&mut replica, ballot, 1, b"a".to_vec());
    accepted(&mut replica, ballot, 2, b"b".to_vec());
    nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    let request = Message::RecoveryRequest {
        nonce: 9,
        lives: vec![1, 0, 0],
    };
    let outputs = receive(&mut replica, 0, request.clone());
    // A ballot of the recovering replica's, above everything promised: the
    // NIC acks nothing below it once the fence is done.
    let fence = Ballot::new(2, 0);
    assert!(sends(&outputs).is_empty(), "no answer before the fence");
    assert_eq!(commands(&outputs), [NicCommand::Fence { ballot: fence }]);
    assert_eq!(replica.status().promised, fence);
    assert_eq!(replica.lives(), [1, 0, 0], "it learned the new life");
    // An entry the NIC acked before the fence reaches the host first.
    accepted(&mut replica, ballot, 3, b"c".to_vec());
    let answer = Message::RecoveryResponse {
        nonce: 9,
        ballot: fence,
        commit: 1,
        // What it knew of replica 0 before the request: life 0.
        lives: vec![0, 0, 0],
        entries: vec![
            Entry {
                slot: 2,
                ballot,
                value: b"b".to_vec(),
            },
            Entry {
                slot: 3,
                ballot,
                value: b"c".to_vec(),
            },
        ],
    };
    let outputs = nic(&mut replica, NicEvent::FenceDone { ballot: fence });
    assert_eq!(sends(&outputs), [(0, answer.clone())]);
    // A retransmitted request is answered again, without a second fence.
    let outputs = receive(&mut replica, 0, request);
    assert!(commands(&outputs).is_empty());
    assert_eq!(sends(&outputs), [(0, answer)]);
}

#[test]
fn a_message_from_an_older_life_is_dropped() {
    let mut replica = Replica::new(config(1));
    // Replica 0 restarted: its recovery request says so.
    receive(
        &mut replica,
        0,
        Message::RecoveryRequest {
            nonce: 5,
            lives: vec![1, 0, 0],
        },
    );
    let before = replica.status();
    // A PREPARE its former life sent (life 0, carried in its vector) ...
    let old = Message::Prepare {
        ballot: Ballot::new(7, 0),
        commit: 0,
        lives: vec![0, 0, 0],
    };
    assert!(receive(&mut replica, 0, old).is_empty());
    // ... and an ACCEPT whose header says life 0 change nothing.
    let outputs = replica.step(Input::Receive {
        from: 0,
        life: 0,
        message: Message::Accept {
            ballot: Ballot::new(7, 0),
            slot: 1,
            commit: 0,
            value: vec![1],
        },
    });
    assert!(outputs.is_empty(), "{outputs:?}");
    assert_eq!(replica.status(), before);
}

#[test]
fn a_candidate_discards_a_promise_of_a_life_that_has_since_restarted() {
    let mut replica = Replica::new(config(0));
    ticks(&mut replica, 10);
    let ballot = replica.status().promised;
    assert_eq!(replica.status().role, Role::Candidate);
    nic(&mut replica, NicEvent::FenceDone { ballot });
    // Replica 1's former life promised ...
    let promise = |lives: Vec<u32>| Message::Promise {
        ballot,
        commit: 0,
        lives,
        entries: vec![],
    };
    receive(&mut replica, 1, promise(vec![0, 0, 0]));
    // ... but replica 2's promise says replica 1 restarted since: replica
    // 1's vote no longer counts, and 2's alone (with ours) is a quorum of 3.
    let mut five = Replica::new(ReplicaConfig::new(0, 5, GROUP, 7));
    ticks(&mut five, 60);
    let ballot5 = five.status().promised;
    assert_eq!(five.status().role, Role::Candidate);
    nic(&mut five, NicEvent::FenceDone { ballot: ballot5 });
    let promise5 = |lives: Vec<u32>| Message::Promise {
        ballot: ballot5,
        commit: 0,
        lives,
        entries: vec![],
    };
    receive(&mut five, 1, promise5(vec![0; 5]));
    receive(&mut five, 2, promise5(vec![0, 1, 0, 0, 0]));
    assert_eq!(
        five.status().role,
        Role::Candidate,
        "replica 1's former promise was discarded: 2 of 5 promised"
    );
    assert_eq!(five.lives(), [0, 1, 0, 0, 0]);
    receive(&mut five, 3, promise5(vec![0, 1, 0, 0, 0]));
    assert_eq!(five.status().role, Role::Leader);
    // In the group of three, 1's promise (with ours) made a quorum at once.
    assert_eq!(replica.status().role, Role::Leader);
}

#[test]
fn a_recovering_replica_whose_life_a_responder_knew_takes_a_newer_one() {
    let mut replica = Replica::restarted(config(0));
    let requests = sends(&ticks(&mut replica, 1));
    let Message::RecoveryRequest { nonce, .. } = requests[0].1 else {
        panic!("{requests:?}")
    };
    assert_eq!(replica.incarnation(), 1);
    // Replica 1 had known life 3 of replica 0 (a lost state directory).
    let outputs = receive(
        &mut replica,
        1,
        Message::RecoveryResponse {
            nonce,
            ballot: Ballot::new(4, 1),
            commit: 0,
            lives: vec![3, 0, 0],
            entries: vec![],
        },
    );
    assert_eq!(replica.incarnation(), 4);
    assert_eq!(replica.status().role, Role::Recovering);
    let asked: Vec<_> = sends(&outputs)
        .into_iter()
        .chain(sends(&ticks(&mut replica, 1)))
        .collect();
    assert!(
        matches!(&asked[..], [(_, Message::RecoveryRequest { nonce: again, lives }), ..]
            if *again != nonce && *again >> 32 == 4 && lives[0] == 4),
        "{asked:?}"
    );
}

#[test]
fn a_recovery_short_of_f_plus_1_completes_only_on_the_survivors_the_operator_named() {
    let answer = |replica: &mut Replica, from: u8, nonce: u64| {
        receive(
            replica,
            from,
            Message::RecoveryResponse {
                nonce,
                ballot: Ballot::new(4, 2),
                commit: 1,
                lives: vec![0; 5],
                entries: vec![Entry {
                    slot: 1,
                    ballot: Ballot::new(4, 2),
                    value: b"kept".to_vec(),
                }],
            },
        )
    };
    let first_nonce = |replica: &mut Replica| {
        let outputs = ticks(replica, 1);
        let Message::RecoveryRequest { nonce, .. } = sends(&outputs)[0].1 else {
            panic!("{outputs:?}")
        };
        nonce
    };
    // Five replicas: f+1 = 3 others must answer; only replica 2 serves.
    let mut config = ReplicaConfig::new(0, 5, GROUP, 7);
    config.incarnation = 1;
    let mut alone = Replica::restarted(config.clone());
    let nonce = first_nonce(&mut alone);
    answer(&mut alone, 2, nonce);
    assert_eq!(alone.status().role, Role::Recovering);
    assert_eq!(alone.recovery_answers(), [2]);

    config.survivors = vec![2, 3];
    let mut named = Replica::restarted(config.clone());
    let nonce = first_nonce(&mut named);
    answer(&mut named, 2, nonce);
    assert_eq!(
        named.status().role,
        Role::Recovering,
        "replica 3 was named and has not answered"
    );
    answer(&mut named, 3, nonce);
    assert_eq!(named.status().role, Role::Follower);
    assert_eq!(named.recovery_answers(), [] as [u8; 0]);
    let held: Vec<Vec<u8>> = named.entries().map(|(_, e)| e.value.clone()).collect();
    assert_eq!(held, [b"kept".to_vec()], "the survivors' log is kept");
}

#[test]
fn a_catchup_request_is_answered_with_a_burst_of_responses_in_slot_order() {
    let (mut replica, ballot, _) = leader(0, Variant::Correct);
    // 200 chosen entries: more than one datagram's 64.
    for slot in 1..=200 {
        accepted(&mut replica, ballot, slot, vec![slot as u8]);
    }
    nic(
        &mut replica,
        NicEvent::Committed {
            ballot,
            commit: 200,
        },
    );
    let outputs = receive(
        &mut replica,
        2,
        Message::CatchupRequest {
            ballot: Ballot::ZERO,
            from: 10,
        },
    );
    let mut slots = Vec::new();
    let mut responses = 0;
    for (to, message) in sends(&outputs) {
        let Message::CatchupResponse {
            commit, entries, ..
        } = message
        else {
            panic!("{message:?}")
        };
        assert_eq!((to, commit), (2, 200));
        assert!(!entries.is_empty() && entries.len() <= 64);
        slots.extend(entries.iter().map(|e| e.slot));
        responses += 1;
    }
    assert_eq!(slots, (10..=200).collect::<Vec<u64>>());
    assert_eq!(responses, 3, "191 entries at 64 a datagram");
}

#[test]
fn with_the_window_full_every_write_that_arrives_before_a_slot_opens_shares_that_slot() {
    let mut config = config(0);
    config.window = 1;
    let (mut replica, ballot, _) = leader_with(config);
    let set = |v: &str| Command::Put {
        key: "k".into(),
        value: v.into(),
    };
    let submits = |outputs: &[Output]| -> Vec<Vec<u8>> {
        commands(outputs)
            .into_iter()
            .filter_map(|c| match c {
                NicCommand::Submit { value } => Some(value),
                _ => None,
            })
            .collect()
    };
    // The first write takes the one slot of the window at once, alone.
    let first = step(&mut replica, request(1, 1, set("a")));
    assert_eq!(submits(&first), [value(1, 1, set("a"))]);
    // Three more arrive while it is in flight: they wait, in one batch.
    for client in 2..=4 {
        let outputs = step(&mut replica, request(client, 1, set("b")));
        assert!(submits(&outputs).is_empty());
    }
    accepted(&mut replica, ballot, 1, value(1, 1, set("a")));
    let opened = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    let batch = LogValue::Batch(
        (2..=4)
            .map(|client| Write {
                client,
                request: 1,
                command: set("b"),
            })
            .collect(),
    )
    .encode();
    assert_eq!(submits(&opened), std::slice::from_ref(&batch));
    assert_eq!(replies(&opened), [(1, 1, Reply::Done)]);
    // Chosen, the batch is applied in order and every write is answered.
    accepted(&mut replica, ballot, 2, batch);
    let applied = nic(&mut replica, NicEvent::Committed { ballot, commit: 2 });
    assert_eq!(
        replies(&applied),
        [
            (2, 1, Reply::Done),
            (3, 1, Reply::Done),
            (4, 1, Reply::Done)
        ]
    );
    assert_eq!((replica.commit(), replica.applied()), (2, 2));
}

#[test]
fn a_command_too_large_for_the_log_is_refused_at_once_by_leader_and_follower() {
    let max = riptide_control::kv::MAX_LOG_VALUE_LEN;
    let too_large = Command::Put {
        key: "k".into(),
        value: "v".repeat(20_000),
    };
    assert!(too_large.log_len() > max);
    let refused = Reply::TooLarge { max: max as u32 };
    let (mut replica, ..) = leader(0, Variant::Correct);
    let outputs = step(&mut replica, request(5, 1, too_large.clone()));
    assert_eq!(replies(&outputs), [(5, 1, refused.clone())]);
    assert!(submitted(&outputs).is_empty(), "nothing reaches the log");
    // The largest command that fits is served as usual.
    let fits = Command::Put {
        key: "k".into(),
        value: "v".repeat(max - 26 - 1),
    };
    assert_eq!(fits.log_len(), max);
    let outputs = step(&mut replica, request(5, 2, fits));
    assert_eq!(submitted(&outputs).len(), 1);
    // A follower refuses it too, rather than sending the client on.
    let (mut follower, ..) = leader(0, Variant::Correct);
    let higher = Ballot::new(9, 1);
    receive(
        &mut follower,
        1,
        Message::Nack {
            ballot: higher,
            slot: 1,
        },
    );
    assert_eq!(follower.status().role, Role::Follower);
    let outputs = step(&mut follower, request(6, 1, too_large));
    assert_eq!(replies(&outputs), [(6, 1, refused)]);
}

#[test]
fn a_leader_holding_max_pending_requests_answers_busy_and_executes_nothing_more() {
    let mut config = config(0);
    config.max_pending = 2;
    let (mut replica, _, _) = leader_with(config);
    // Two writes in flight (the window has room; they wait for their acks).
    step(&mut replica, request(1, 1, put(1, 1, "a")));
    step(&mut replica, request(2, 1, put(2, 1, "b")));
    let outputs = step(&mut replica, request(3, 1, put(3, 1, "c")));
    assert_eq!(replies(&outputs), [(3, 1, Reply::Busy)]);
    assert!(submitted(&outputs).is_empty());
    let get = step(
        &mut replica,
        request(4, 1, Command::Get { key: "k".into() }),
    );
    assert_eq!(replies(&get), [(4, 1, Reply::Busy)]);
    // A retry of a write already held is neither refused nor submitted again.
    let retry = step(&mut replica, request(1, 1, put(1, 1, "a")));
    assert!(replies(&retry).is_empty() && submitted(&retry).is_empty());
}

/// Replica `id` (a follower) learns slots `1..=values.len()` chosen by
/// catch-up from replica 0, each a put by its own client.
fn follower_with_chosen(id: u8, snapshot_every: u64, values: &[String]) -> Replica {
    let mut config = config(id);
    config.snapshot_every = snapshot_every;
    let mut replica = Replica::new(config);
    let ballot = Ballot::new(1, 0);
    let entries = values
        .iter()
        .enumerate()
        .map(|(i, v)| Entry {
            slot: i as u64 + 1,
            ballot,
            value: LogValue::Request {
                client: 100 + i as u64,
                request: 1,
                command: Command::Put {
                    key: format!("k{i}"),
                    value: v.clone(),
                },
            }
            .encode(),
        })
        .collect();
    receive(
        &mut replica,
        0,
        Message::CatchupResponse {
            ballot,
            commit: values.len() as u64,
            entries,
        },
    );
    replica
}

#[test]
fn a_replica_snapshots_at_its_interval_and_drops_the_log_below() {
    let values: Vec<String> = (0..5).map(|i| format!("v{i}")).collect();
    let replica = follower_with_chosen(1, 4, &values);
    // Five applied in one step, four or more since the last snapshot: the
    // snapshot is at the fifth and the log holds nothing.
    assert_eq!((replica.applied(), replica.snapshot_slot()), (5, 5));
    assert_eq!(replica.entries().count(), 0);
    for every in [0, 6] {
        let kept = follower_with_chosen(1, every, &values);
        assert_eq!((kept.snapshot_slot(), kept.entries().count()), (0, 5));
    }
}

#[test]
fn a_catchup_below_the_snapshot_gets_it_in_bursts_and_the_install_keeps_sessions() {
    // Twelve values of 15,000 bytes: a snapshot of six 32 KiB chunks, so
    // two bursts of at most four.
    let values: Vec<String> = (0..12).map(|i| "x".repeat(15_000 + i)).collect();
    let mut server = follower_with_chosen(1, 12, &values);
    assert_eq!(server.snapshot_slot(), 12);
    let mut behind = Replica::new(config(2));
    let ballot = server.status().promised;
    let burst = sends(&receive(
        &mut server,
        2,
        Message::CatchupRequest { ballot, from: 1 },
    ));
    let offsets: Vec<u64> = burst
        .iter()
        .map(|(to, m)| match m {
            Message::SnapshotChunk {
                slot: 12, offset, ..
            } if *to == 2 => *offset,
            other => panic!("not a chunk of snapshot 12: {other:?}"),
        })
        .collect();
    assert_eq!(offsets, [0, 32_768, 65_536, 98_304]);
    let mut asked = Vec::new();
    for (_, chunk) in burst {
        asked = sends(&receive(&mut behind, 1, chunk));
    }
    // The whole burst is in: the next one is asked for at once.
    assert_eq!(
        asked,
        [(
            1,
            Message::SnapshotRequest {
                ballot: Ballot::ZERO,
                slot: 12,
                offset: 131_072
            }
        )]
    );
    let rest = sends(&receive(&mut server, 2, asked[0].1.clone()));
    assert_eq!(rest.len(), 2);
    let mut installed = Vec::new();
    for (_, chunk) in rest {
        installed.extend(receive(&mut behind, 1, chunk));
    }
    assert!(
        installed
            .iter()
            .any(|o| matches!(o, Output::Installed { slot: 12, .. })),
        "{installed:?}"
    );
    assert_eq!((behind.applied(), behind.commit()), (12, 12));
    assert_eq!(behind.kv(), server.kv());
    // At-most-once survives the install: client 100's request 1 is known.
    assert_eq!(behind.kv().last_executed(100), Some((1, &Reply::Done)));
}

#[test]
fn chunks_out_of_place_and_snapshots_that_do_not_decode_are_not_installed() {
    let mut replica = Replica::new(config(2));
    let chunk = |offset: u64, total: u64, data: &[u8]| Message::SnapshotChunk {
        ballot: Ballot::new(1, 0),
        slot: 9,
        commit: 9,
        total,
        offset,
        data: data.to_vec(),
    };
    // Not at the start: nothing to continue; the commit it teaches makes
    // the replica ask for slot 1 the ordinary way (of the leader it knows
    // of: none, so replica 0).
    let outputs = receive(&mut replica, 1, chunk(4, 8, &[0; 4]));
    assert_eq!(
        sends(&outputs),
        [(
            0,
            Message::CatchupRequest {
                ballot: Ballot::ZERO,
                from: 1
            }
        )]
    );
    // Larger than any snapshot we accept: refused before anything is kept.
    receive(&mut replica, 1, chunk(0, u64::MAX, &[0; 4]));
    // Complete, but not a snapshot.
    let outputs = receive(&mut replica, 1, chunk(0, 3, &[1, 2, 3]));
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, Output::Installed { .. }))
    );
    assert_eq!((replica.applied(), replica.commit()), (0, 0));
}

#[test]
fn a_lone_write_goes_out_at_once_and_a_burst_behind_max_inflight_shares_one_slot() {
    let mut config = config(0);
    config.max_inflight = 2;
    assert!(
        config.window > 2,
        "batching starts well before the window fills"
    );
    let (mut replica, ballot, _) = leader_with(config);
    let set = |v: &str| Command::Put {
        key: "k".into(),
        value: v.into(),
    };
    // Nothing in flight: a lone write is submitted in the step it arrives,
    // waiting for no tick and no other write.
    let lone = step(&mut replica, request(1, 1, set("a")));
    assert_eq!(submitted(&lone), [value(1, 1, set("a"))]);
    // One in flight, below max_inflight: the next goes out at once too.
    let second = step(&mut replica, request(2, 1, set("b")));
    assert_eq!(submitted(&second), [value(2, 1, set("b"))]);
    // Two in flight: a burst waits, in one batch for slot 3, which a get
    // arriving meanwhile takes as its barrier (no no-op of its own).
    for client in 3..=6 {
        assert!(submitted(&step(&mut replica, request(client, 1, set("c")))).is_empty());
    }
    let get = step(
        &mut replica,
        request(9, 1, Command::Get { key: "k".into() }),
    );
    assert!(submitted(&get).is_empty() && replies(&get).is_empty());
    accepted(&mut replica, ballot, 1, value(1, 1, set("a")));
    let opened = nic(&mut replica, NicEvent::Committed { ballot, commit: 1 });
    let batch = LogValue::Batch(
        (3..=6)
            .map(|client| Write {
                client,
                request: 1,
                command: set("c"),
            })
            .collect(),
    )
    .encode();
    assert_eq!(submitted(&opened), std::slice::from_ref(&batch));
    assert_eq!(replies(&opened), [(1, 1, Reply::Done)]);
    accepted(&mut replica, ballot, 2, value(2, 1, set("b")));
    accepted(&mut replica, ballot, 3, batch);
    let applied = nic(&mut replica, NicEvent::Committed { ballot, commit: 3 });
    assert_eq!(
        replies(&applied),
        [
            (2, 1, Reply::Done),
            (3, 1, Reply::Done),
            (4, 1, Reply::Done),
            (5, 1, Reply::Done),
            (6, 1, Reply::Done),
            (9, 1, Reply::Value(Some("c".into()))),
        ]
    );
    // Drained: a lone write is again submitted at once, alone.
    let after = step(&mut replica, request(1, 2, set("d")));
    assert_eq!(submitted(&after), [value(1, 2, set("d"))]);
}
