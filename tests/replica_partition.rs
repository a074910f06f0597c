//! Partitions with network namespaces: three replicas, each in its own
//! namespace on a private bridge (made and removed by the test; needs root
//! and iproute2). The leader is isolated; the majority elects a new leader
//! and keeps committing; after the heal the old leader steps down and
//! catches up; the client history is linearizable.

use std::net::SocketAddrV4;
use std::ops::ControlFlow::{Break, Continue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use riptide_bench::udp::group::{GroupOptions, ProcessGroup};
use riptide_bench::udp::netns::Lab;
use riptide_control::kv::{Command, Reply};
use riptide_control::rng::Rng;
use riptide_node::client::{Client, ClientOptions};
use riptide_node::{ClusterConfig, Timing};
use riptide_sim::history::{HistoryRecorder, Output};
use riptide_sim::linearizability::check;

mod common;

const KEYS: u64 = 4;

fn client_options() -> ClientOptions {
    ClientOptions {
        attempt_timeout: Duration::from_millis(100),
        deadline: Duration::from_secs(2),
    }
}

/// Records each operation: ok with its output, or info if the client gave up.
fn record(
    history: &Mutex<HistoryRecorder>,
    epoch: Instant,
    client: &mut Client,
    command: &Command,
) -> Option<Reply> {
    let now = || epoch.elapsed().as_micros() as u64;
    let id = history
        .lock()
        .unwrap()
        .invoke(client.id(), command, now())
        .unwrap();
    let result = client.execute(command);
    let mut h = history.lock().unwrap();
    match result {
        Ok(reply) => {
            h.complete(id, Output::from_reply(&reply).unwrap(), now())
                .unwrap();
            Some(reply)
        }
        Err(_) => {
            h.abandon(id).unwrap();
            None
        }
    }
}

#[test]
fn an_isolated_leader_is_replaced_then_steps_down_and_catches_up() {
    let lab = Lab::create(3).expect("the lab's namespaces (root and iproute2 are needed)");
    // Everything below runs in the hub namespace, on a thread of its own.
    let outcome = thread::scope(|scope| {
        scope
            .spawn(|| {
                lab.enter_hub().unwrap();
                partition_scenario(&lab)
            })
            .join()
    });
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn partition_scenario(lab: &Lab) {
    let addresses: Vec<(SocketAddrV4, u16)> = (0..3)
        .map(|i| (SocketAddrV4::new(lab.ip(i), 7100), 7200))
        .collect();
    let timing = Timing {
        tick_ms: 2,
        heartbeat_ticks: 5,
        election_ticks: [40, 80],
        retransmit_ticks: 10,
        window: 64,
        ..Timing::default()
    };
    let config = ClusterConfig::from_addresses(5, &addresses, timing).unwrap();
    let mut options = GroupOptions::loopback(3);
    options.netns = Some(lab.namespaces());
    let mut group =
        ProcessGroup::start_with(env!("CARGO_BIN_EXE_riptide").as_ref(), config, options).unwrap();
    let old = group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));

    let epoch = Instant::now();
    let history = Arc::new(Mutex::new(HistoryRecorder::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (1..=3u64)
        .map(|id| {
            let (config, history, stop) = (group.config().clone(), history.clone(), stop.clone());
            thread::spawn(move || {
                let mut client = Client::new(&config, id, client_options()).unwrap();
                let mut rng = Rng::new(id);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let key = format!("k{}", rng.below(KEYS));
                    let command = if rng.below(3) == 0 {
                        Command::Get { key }
                    } else {
                        Command::Put {
                            key,
                            value: format!("c{id}-{n}"),
                        }
                    };
                    record(&history, epoch, &mut client, &command);
                }
            })
        })
        .collect();

    thread::sleep(Duration::from_millis(500));
    let old_ballot = group.status(old).unwrap().ballot();
    lab.isolate(old).unwrap();
    let new = group
        .wait_for_leader(Some(old), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("the majority elected no leader: {e}\n{}", group.logs()));
    let during = group.status(new).unwrap().commit;
    thread::sleep(Duration::from_millis(800));
    let before_heal = group.status(new).unwrap().commit;
    assert!(
        before_heal > during + 10,
        "the majority committed little: {during} -> {before_heal}"
    );

    lab.heal(old).unwrap();
    common::wait_until(
        Instant::now() + Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let statuses = group.statuses();
            let leaders: Vec<_> = statuses.iter().filter(|s| s.is_leader()).collect();
            let rejoined = statuses.iter().find(|s| s.id == old);
            if let (Some(rejoined), [leader]) = (rejoined, leaders.as_slice())
                && rejoined.ballot() > old_ballot
                && rejoined.ballot() == leader.ballot()
                && rejoined.applied >= before_heal
            {
                Break(())
            } else {
                Continue(statuses)
            }
        },
        |statuses| {
            format!(
                "no convergence after the heal: {statuses:?}\n{}",
                group.logs()
            )
        },
    );

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let mut reader = Client::new(group.config(), 100, client_options()).unwrap();
    for key in 0..KEYS {
        let read = record(
            &history,
            epoch,
            &mut reader,
            &Command::Get {
                key: format!("k{key}"),
            },
        );
        assert!(read.is_some(), "the final read of k{key} failed");
    }
    assert_eq!(group.exited(), Vec::new(), "a replica exited");
    let history = Arc::into_inner(history)
        .unwrap()
        .into_inner()
        .unwrap()
        .finish();
    let verdict = check(&history);
    assert!(
        verdict.linearizable,
        "not linearizable: {:?}",
        verdict.explanation
    );
    group.stop();
}
