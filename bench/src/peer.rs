//! The peer comparison: a 3-node (or n-node) openraft group, measured with
//! the same load generator as riptide, in the same run.
//!
//! Each openraft node runs riptide's KV state machine (`KvStore`, at-most-once
//! sessions included) on an in-memory log, and answers riptide's client
//! protocol (`ClientRequest`/`ClientReply` datagrams on a UDP port: writes via
//! `client_write`, gets after `ensure_linearizable`, `NotLeader` hints from
//! openraft's `ForwardToLeader`), so [`crate::udp::load`] drives both systems
//! unchanged, with identical requests. Between nodes openraft uses its usual
//! request/response RPC shape over loopback TCP ([`network`]); the nodes share
//! one process and one two-worker tokio runtime, where riptide runs one
//! process per replica.

pub mod network;
pub mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use riptide_control::kv::{Command, LogValue, Reply};
use riptide_node::{ClusterConfig, Timing};
use riptide_wire::{Envelope, Message};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, UdpSocket};

use crate::udp::load::{self, LoadOptions, LoadResult};
use store::{LogStore, StateMachine};

pub type NodeId = u64;

/// A log entry's command: a riptide `LogValue`, encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request(pub Vec<u8>);

/// What applying an entry owes its client: an encoded `Reply`, if anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response(pub Option<Vec<u8>>);

openraft::declare_raft_types!(
    /// The peer harness's openraft types.
    pub Types: D = Request, R = Response, SnapshotData = std::io::Cursor<Vec<u8>>
);

/// A running openraft group on loopback.
pub struct OpenraftGroup {
    runtime: Option<tokio::runtime::Runtime>,
    rafts: Vec<Raft<Types>>,
    config: ClusterConfig,
}

impl OpenraftGroup {
    /// Starts `n` nodes, initializes the group and waits for a leader.
    pub fn start(n: u8, group: u16) -> anyhow::Result<OpenraftGroup> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (rafts, addresses) = runtime.block_on(start_nodes(n, group))?;
        let config = ClusterConfig::from_addresses(group, &addresses, Timing::default())?;
        Ok(OpenraftGroup {
            runtime: Some(runtime),
            rafts,
            config,
        })
    }

    /// The group as riptide's clients see it (client ports; the replica
    /// addresses are the nodes' TCP RPC addresses).
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }
}

impl Drop for OpenraftGroup {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            for raft in &self.rafts {
                let _ = runtime.block_on(raft.shutdown());
            }
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

async fn start_nodes(
    n: u8,
    group: u16,
) -> anyhow::Result<(Vec<Raft<Types>>, Vec<(SocketAddrV4, u16)>)> {
    // Timing as openraft's defaults suggest for a LAN: heartbeats every
    // 50 ms, elections after 150 to 300 ms. No snapshots (see `store`).
    let config = Arc::new(
        Config {
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            snapshot_policy: SnapshotPolicy::Never,
            ..Config::default()
        }
        .validate()?,
    );
    let mut rafts = Vec::new();
    let mut addresses = Vec::new();
    let mut members = BTreeMap::new();
    for id in 0..u64::from(n) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let (SocketAddr::V4(rpc), client_port) =
            (listener.local_addr()?, client.local_addr()?.port())
        else {
            anyhow::bail!("loopback is IPv4");
        };
        let machine = StateMachine::default();
        let raft = Raft::new(
            id,
            config.clone(),
            network::Network,
            LogStore::default(),
            machine.clone(),
        )
        .await?;
        tokio::spawn(network::serve(listener, raft.clone()));
        tokio::spawn(front(client, raft.clone(), machine, group, id as u8));
        members.insert(
            id,
            BasicNode {
                addr: rpc.to_string(),
            },
        );
        addresses.push((rpc, client_port));
        rafts.push(raft);
    }
    rafts[0].initialize(members).await?;
    rafts[0]
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.current_leader.is_some(), "a leader")
        .await
        .context("openraft elected no leader")?;
    Ok((rafts, addresses))
}

/// riptide's client protocol in front of one openraft node.
async fn front(socket: UdpSocket, raft: Raft<Types>, machine: StateMachine, group: u16, id: u8) {
    let socket = Arc::new(socket);
    let mut buf = vec![0; 1 << 16];
    while let Ok((len, from)) = socket.recv_from(&mut buf).await {
        let Ok(Envelope {
            message:
                // The peer answers on loopback for the benchmark only: it
                // asks no cookie (`riptide_node::cookie`).
                Message::ClientRequest {
                    client,
                    request,
                    command,
                    ..
                },
            ..
        }) = Envelope::decode(&buf[..len], group)
        else {
            continue;
        };
        let Ok(command) = Command::decode(&command) else {
            continue;
        };
        let (raft, machine, socket) = (raft.clone(), machine.clone(), socket.clone());
        tokio::spawn(async move {
            let Some((leader, result)) =
                execute(&raft, &machine, id, client, request, command).await
            else {
                return;
            };
            let reply = Envelope {
                group,
                sender: id,
                life: 0,
                message: Message::ClientReply {
                    client,
                    request,
                    leader,
                    result,
                },
            };
            if let Ok(datagram) = reply.try_encode() {
                let _ = socket.send_to(&datagram, from).await;
            }
        });
    }
}

/// The (leader hint, encoded reply) to send, or nothing (a stale duplicate).
async fn execute(
    raft: &Raft<Types>,
    machine: &StateMachine,
    id: u8,
    client: u64,
    request: u64,
    command: Command,
) -> Option<(Option<u8>, Option<Vec<u8>>)> {
    let hint = |leader: Option<&NodeId>| leader.and_then(|&l| u8::try_from(l).ok());
    match command {
        Command::Get { key } => match raft.ensure_linearizable().await {
            Ok(_) => Some((
                Some(id),
                Some(Reply::Value(machine.read(&key).await).encode()),
            )),
            Err(e) => Some((
                hint(
                    e.forward_to_leader::<BasicNode>()
                        .and_then(|f| f.leader_id.as_ref()),
                ),
                None,
            )),
        },
        command => {
            let value = LogValue::Request {
                client,
                request,
                command,
            }
            .encode();
            match raft.client_write(Request(value)).await {
                Ok(response) => response.data.0.map(|reply| (Some(id), Some(reply))),
                Err(e) => Some((
                    hint(
                        e.forward_to_leader::<BasicNode>()
                            .and_then(|f| f.leader_id.as_ref()),
                    ),
                    None,
                )),
            }
        }
    }
}

/// Runs the same load against an openraft group of `replicas`.
pub fn measure(
    replicas: u8,
    load: &LoadOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, Duration),
) -> anyhow::Result<LoadResult> {
    let group = OpenraftGroup::start(replicas, 1)?;
    load::run(group.config(), load, stop, progress)
}

/// riptide and a peer side by side, with the peer's figures as ratios of
/// riptide's (above 1: the peer is slower, or for throughput, faster).
pub struct Comparison<'a> {
    pub peer: &'a str,
    pub riptide: &'a LoadResult,
    pub other: &'a LoadResult,
}

impl fmt::Display for Comparison<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>12} {:>12} {:>12}",
            "", "riptide", self.peer, "ratio"
        )?;
        for (name, p) in [
            ("p50", 50.0),
            ("p90", 90.0),
            ("p99", 99.0),
            ("p99.9", 99.9),
            ("max", 100.0),
        ] {
            let (a, b) = (
                self.riptide.latencies.percentile(p),
                self.other.latencies.percentile(p),
            );
            writeln!(
                f,
                "{:<12} {:>9} us {:>9} us {:>11.2}x",
                name,
                a,
                b,
                b as f64 / a.max(1) as f64
            )?;
        }
        let (a, b) = (self.riptide.throughput(), self.other.throughput());
        writeln!(
            f,
            "{:<12} {:>8.0}/s {:>10.0}/s {:>11.2}x",
            "throughput",
            a,
            b,
            b / a.max(f64::MIN_POSITIVE)
        )
    }
}

#[cfg(test)]
mod tests {
    use riptide_node::client::{Client, ClientOptions};

    use super::*;

    #[test]
    fn an_openraft_group_answers_riptides_client_protocol() {
        let group = OpenraftGroup::start(3, 9).unwrap();
        let mut client = Client::new(group.config(), 5, ClientOptions::default()).unwrap();
        assert_eq!(client.put("k", "v1").unwrap(), Reply::Done);
        assert_eq!(client.get("k").unwrap(), Reply::Value(Some("v1".into())));
        assert_eq!(
            client.cas("k", Some("v1"), "v2").unwrap(),
            Reply::Swapped(true)
        );
        assert_eq!(
            client.cas("k", Some("v1"), "v3").unwrap(),
            Reply::Swapped(false)
        );
        assert_eq!(client.delete("k").unwrap(), Reply::Done);
        assert_eq!(client.get("k").unwrap(), Reply::Value(None));
        // A client that starts at every node reaches the leader through hints.
        for first in 0..3 {
            let mut other =
                Client::new(group.config(), 10 + first, ClientOptions::default()).unwrap();
            assert_eq!(other.put("x", "y").unwrap(), Reply::Done);
        }
    }

    #[test]
    fn the_comparison_prints_ratios() {
        let mut a = crate::latency::Latencies::new();
        let mut b = crate::latency::Latencies::new();
        for us in 1..=100 {
            a.record(us);
            b.record(2 * us);
        }
        let result = |latencies, completed| LoadResult {
            latencies,
            completed,
            unfinished: 0,
            retries: 0,
            window: Duration::from_secs(1),
            sessions: 1,
        };
        let (riptide, other) = (result(a, 100), result(b, 50));
        let text = Comparison {
            peer: "openraft",
            riptide: &riptide,
            other: &other,
        }
        .to_string();
        assert!(text.contains("p50"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("max") && l.ends_with("2.00x")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("throughput") && l.ends_with("0.50x")),
            "{text}"
        );
    }
}
