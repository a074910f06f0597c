//! Garbage on every port of a running group: thousands of random datagrams
//! (random lengths and bytes, and well-formed headers over broken bodies)
//! are counted and dropped, the group keeps committing, nobody exits.

use std::net::{SocketAddr, UdpSocket};
use std::ops::ControlFlow::{Break, Continue};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use riptide_bench::udp::group::{GroupOptions, ProcessGroup};
use riptide_control::rng::Rng;
use riptide_node::StatusReport;
use riptide_node::client::{Client, ClientOptions};
use riptide_wire::layout::{VERSION, header};
use riptide_wire::{Envelope, Message};

mod common;

const PER_PORT: u64 = 3_000;

/// A datagram no decoder may accept: random bytes with a wrong version, or
/// a well-formed header (right group) whose body is cut short, so it passes
/// the NIC's checks and fails in host software.
fn garbage(rng: &mut Rng, group: u16, client_port: bool) -> Vec<u8> {
    if rng.below(4) == 0 {
        let message = if client_port {
            Message::ClientRequest {
                client: rng.next_u64(),
                request: 1,
                cookie: rng.next_u64(),
                command: vec![1, 0, 0, 0, 1, b'k'],
            }
        } else {
            Message::RecoveryRequest {
                nonce: rng.next_u64(),
                lives: vec![0; 3],
            }
        };
        let mut datagram = Envelope {
            group,
            sender: 1,
            life: 0,
            message,
        }
        .encode();
        let cut = 1 + rng.below(5) as usize;
        datagram.truncate(datagram.len() - cut);
        let len = header::PAYLOAD_LEN.get(&datagram) - cut as u64;
        header::PAYLOAD_LEN.set(&mut datagram, len);
        return datagram;
    }
    let len = rng.below(1_473) as usize;
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    if bytes.first() == Some(&VERSION) {
        bytes[0] = !VERSION;
    }
    bytes
}

fn dropped(status: &StatusReport) -> (u64, u64) {
    (
        status.nic_invalid_frames + status.host.malformed_punts,
        status.host.malformed_client,
    )
}

#[test]
fn garbage_on_every_port_is_counted_and_dropped_while_the_group_commits() {
    let mut options = GroupOptions::loopback(3);
    options.timing.tick_ms = 2;
    options.log_filter = "warn".into();
    let mut group = ProcessGroup::start(env!("CARGO_BIN_EXE_riptide").as_ref(), options).unwrap();
    let leader = group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap();

    // A writer keeps the group busy throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let (config, stop, acked) = (group.config().clone(), stop.clone(), acked.clone());
        thread::spawn(move || {
            let options = ClientOptions {
                attempt_timeout: Duration::from_millis(200),
                deadline: Duration::from_secs(5),
            };
            let mut client = Client::new(&config, 77, options).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                client.put(&format!("k{}", n % 10), &n.to_string()).unwrap();
                acked.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let commit_before = group.status(leader).unwrap().commit;
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = Rng::new(0x9a7b);
    let targets: Vec<(u8, SocketAddr, bool)> = group
        .config()
        .replicas
        .iter()
        .flat_map(|r| [(r.id, r.peer.into(), false), (r.id, r.client.into(), true)])
        .collect();
    let mut sent = [(0u64, 0u64); 3];
    for round in 0..PER_PORT {
        for &(id, addr, client_port) in &targets {
            sender
                .send_to(&garbage(&mut rng, group.config().group, client_port), addr)
                .unwrap();
            let counts = &mut sent[usize::from(id)];
            if client_port {
                counts.1 += 1
            } else {
                counts.0 += 1
            }
        }
        // Paced so no socket buffer overflows: every datagram must be counted.
        if round % 20 == 19 {
            thread::sleep(Duration::from_millis(10));
        }
    }

    let end = Instant::now() + Duration::from_secs(10);
    for id in 0..3u8 {
        common::wait_until(
            end,
            Duration::from_millis(20),
            || {
                let status = group.status(id).expect("a replica answers status requests");
                if dropped(&status) == sent[usize::from(id)] {
                    Break(())
                } else {
                    Continue(status)
                }
            },
            |status| {
                format!(
                    "replica {id} counted {:?} of {:?} garbage datagrams (peer, client): {status:?}",
                    dropped(&status),
                    sent[usize::from(id)]
                )
            },
        );
    }
    let acked_during = acked.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("every write was acknowledged");
    let status = group.status(leader).unwrap();
    assert!(status.is_leader(), "leadership was lost: {status:?}");
    assert!(
        status.commit > commit_before + 100,
        "commit {commit_before} -> {}",
        status.commit
    );
    assert!(
        acked.load(Ordering::Relaxed) > acked_during,
        "writes stopped after the garbage"
    );
    assert_eq!(group.exited(), Vec::new(), "a replica exited");
}
