//! Replica processes on loopback: a stream of client operations, `kill -9`
//! of the leader, a new leader, and a client history that must be
//! linearizable (so no acknowledged write is lost).

use std::ops::ControlFlow::{Break, Continue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use riptide_bench::udp::group::{GroupOptions, ProcessGroup};
use riptide_control::kv::{Command, Reply};
use riptide_control::rng::Rng;
use riptide_node::client::{Client, ClientOptions};
use riptide_node::{ClusterConfig, Timing};
use riptide_sim::history::{Completion, History, HistoryRecorder, OpKind, Output};
use riptide_sim::linearizability::check;

mod common;

const KEYS: u64 = 6;

/// Fast failure detection: 2 ms ticks, heartbeats every 10 ms, elections
/// after 80 to 160 ms of silence.
fn timing() -> Timing {
    Timing {
        tick_ms: 2,
        heartbeat_ticks: 5,
        election_ticks: [40, 80],
        retransmit_ticks: 10,
        window: 64,
        ..Timing::default()
    }
}

fn start(replicas: u8) -> ProcessGroup {
    let mut options = GroupOptions::loopback(replicas);
    options.timing = timing();
    ProcessGroup::start(env!("CARGO_BIN_EXE_riptide").as_ref(), options).expect("group starts")
}

/// Clients recording one history, with times in µs since `epoch`.
struct Recorder {
    history: Mutex<HistoryRecorder>,
    epoch: Instant,
}

impl Recorder {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Runs `command` on `client` and records it: ok with its output, or
    /// info (outcome unknown) if the client gave up.
    fn run(&self, client: &mut Client, command: &Command) -> Option<Reply> {
        let id = {
            let mut h = self.history.lock().unwrap();
            h.invoke(client.id(), command, self.now()).unwrap()
        };
        let result = client.execute(command);
        let mut h = self.history.lock().unwrap();
        match result {
            Ok(reply) => {
                let output = Output::from_reply(&reply).expect("clients follow redirects");
                h.complete(id, output, self.now()).unwrap();
                Some(reply)
            }
            Err(_) => {
                h.abandon(id).unwrap();
                None
            }
        }
    }
}

fn client_options() -> ClientOptions {
    ClientOptions {
        attempt_timeout: Duration::from_millis(100),
        deadline: Duration::from_secs(2),
    }
}

/// One client's random mix of puts, gets and cas over a few keys until `stop`.
fn client_loop(config: ClusterConfig, id: u64, recorder: Arc<Recorder>, stop: Arc<AtomicBool>) {
    let mut client = Client::new(&config, id, client_options()).unwrap();
    let mut rng = Rng::new(id);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("k{}", rng.below(KEYS));
        let command = match rng.below(10) {
            0..=4 => Command::Put {
                key,
                value: format!("c{id}-{n}"),
            },
            5..=7 => Command::Get { key },
            _ => Command::Cas {
                key,
                expected: Some(format!("c{id}-{}", n - 1)),
                new: format!("c{id}-{n}"),
            },
        };
        recorder.run(&mut client, &command);
    }
}

/// `replicas` processes, `clients` clients; kill the leader after a while,
/// check a new one takes over and the history is linearizable. Returns the
/// group (still running) and the history.
fn failover(replicas: u8, clients: u64) -> (ProcessGroup, History) {
    let group = start(replicas);
    let first = group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap();
    let recorder = Arc::new(Recorder {
        history: Mutex::new(HistoryRecorder::new()),
        epoch: Instant::now(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (1..=clients)
        .map(|id| {
            let (config, recorder, stop) = (group.config().clone(), recorder.clone(), stop.clone());
            thread::spawn(move || client_loop(config, id, recorder, stop))
        })
        .collect();
    let mut group = group;

    thread::sleep(Duration::from_millis(800));
    let before = group.status(first).expect("the leader answers").commit;
    assert!(
        before > 10,
        "little was committed before the kill: {before}"
    );
    group.kill(first).unwrap();
    let second = group
        .wait_for_leader(Some(first), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));
    assert_ne!(second, first);
    let after_election = group.status(second).unwrap().commit;
    thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let leader = group.status(second).unwrap();
    assert!(leader.is_leader(), "{leader:?}");
    assert!(
        leader.commit > after_election + 10,
        "the new leader committed little: {after_election} -> {}",
        leader.commit
    );

    // Final reads of every key, through a fresh client, into the history.
    let mut reader = Client::new(group.config(), 1_000, client_options()).unwrap();
    for key in 0..KEYS {
        let read = recorder.run(
            &mut reader,
            &Command::Get {
                key: format!("k{key}"),
            },
        );
        assert!(read.is_some(), "the final read of k{key} failed");
    }
    assert_eq!(group.exited(), Vec::new(), "a surviving replica exited");
    let recorder = Arc::into_inner(recorder).expect("client threads are done");
    (group, recorder.history.into_inner().unwrap().finish())
}

fn assert_linearizable(history: &History, group: &ProcessGroup) {
    let ok_writes = history
        .ops
        .iter()
        .filter(|op| op.status == Completion::Ok && op.kind != OpKind::Get)
        .count();
    assert!(ok_writes > 50, "too few acknowledged writes: {ok_writes}");
    let verdict = check(history);
    assert!(
        verdict.linearizable,
        "not linearizable: {:?}\n{}",
        verdict.explanation,
        group.logs()
    );
}

#[test]
fn three_replicas_survive_a_leader_kill_without_losing_writes() {
    let (group, history) = failover(3, 4);
    assert_linearizable(&history, &group);
}

#[test]
fn five_replicas_survive_a_leader_kill_and_the_old_leader_rejoins() {
    let (mut group, history) = failover(5, 4);
    assert_linearizable(&history, &group);
    // The killed replica comes back with its state lost, recovers from the
    // others and catches up with the leader's commit.
    let leader = group.leader().expect("a leader").id;
    let killed = (0..5).find(|&id| !group.is_running(id)).unwrap();
    group.restart(killed).unwrap();
    let mut client = Client::new(group.config(), 2_000, client_options()).unwrap();
    common::wait_until(
        Instant::now() + Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            client.put("after-rejoin", "x").unwrap();
            let target = group.status(leader).unwrap().commit;
            let rejoined = group.status(killed);
            if rejoined
                .as_ref()
                .is_some_and(|s| s.applied >= target && s.role == "follower")
            {
                Break(())
            } else {
                Continue((rejoined, target))
            }
        },
        |(rejoined, target)| {
            format!(
                "the rejoined replica did not catch up: {rejoined:?} vs commit {target}\n{}",
                group.logs()
            )
        },
    );
    // It was started with the same command line as the first time: its record
    // of having run, not a flag, made it recover.
    let logs = group.logs();
    let second_life = logs
        .split("== ")
        .find(|log| log.contains(&format!("replica-{killed}.2.log")))
        .expect("the restarted replica's log");
    assert!(
        second_life.contains("rejoin=true") && second_life.contains("life=2"),
        "{second_life}"
    );
}
