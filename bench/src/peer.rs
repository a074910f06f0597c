//! The peer comparison: a 3-node (or n-node) openraft group, measured with
//! the same load generator as riptide, in the same run.
//!
//! Each openraft node runs riptide's KV state machine (`KvStore`, at-most-once
//! sessions included) on an in-memory log, and answers riptide's client
//! protocol (`ClientRequest`/`ClientReply` datagrams on a UDP port: writes via
//! `client_write`, gets after `ensure_linearizable`, `NotLeader` hints from
//! openraft's `ForwardToLeader`), so [`crate::udp::load`] drives both systems
//! unchanged, with identical requests. Between nodes openraft uses its usual
//! request/response RPC shape over persistent loopback TCP connections in a
//! binary codec ([`network`], [`codec`]). As riptide runs one process per
//! replica, the benchmark runs one process per node ([`measure`]), each a
//! tokio runtime with a worker per core, openraft's defaults otherwise
//! (`docs/runtime.md`, "The openraft peer").

pub mod codec;
pub mod network;
pub mod store;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use riptide_control::kv::{Command, LogValue, Reply};
use riptide_node::client::{Client, ClientOptions};
use riptide_node::{ClusterConfig, Timing};
use riptide_wire::{Envelope, Message};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, UdpSocket};

use crate::processes::{Children, cpu_time, cpu_us_per_op};
use crate::request::{ClientRequest, client_request};
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

/// openraft's configuration for the peer: its defaults (heartbeats every
/// 50 ms, elections after 150 to 300 ms, up to 300 entries per
/// AppendEntries), except that it never snapshots (see `store`).
fn raft_config() -> anyhow::Result<Arc<Config>> {
    Ok(Arc::new(
        Config {
            snapshot_policy: SnapshotPolicy::Never,
            ..Config::default()
        }
        .validate()?,
    ))
}

/// Where one node listens, and who its group is.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub id: NodeId,
    /// The nodes' RPC (TCP) addresses, by id; this node's is `members[id]`.
    pub members: Vec<SocketAddr>,
    /// This node's client (UDP) address.
    pub client: SocketAddr,
    /// The group number clients put in their requests.
    pub group: u16,
    /// Whether this node initializes the group (exactly one does).
    pub initialize: bool,
}

/// Starts one node on the current tokio runtime: its RPC server, its client
/// front, and (on the initializing node) the group's membership.
pub async fn start_node(options: &NodeOptions) -> anyhow::Result<Raft<Types>> {
    let rpc = *options
        .members
        .get(options.id as usize)
        .context("the node's id has no address in the member list")?;
    let listener = TcpListener::bind(rpc)
        .await
        .with_context(|| format!("cannot bind {rpc}"))?;
    let client = UdpSocket::bind(options.client)
        .await
        .with_context(|| format!("cannot bind {}", options.client))?;
    let machine = StateMachine::default();
    let raft = Raft::new(
        options.id,
        raft_config()?,
        network::Network,
        LogStore::default(),
        machine.clone(),
    )
    .await?;
    tokio::spawn(network::serve(listener, raft.clone()));
    tokio::spawn(front(
        client,
        raft.clone(),
        machine,
        options.group,
        options.id as u8,
    ));
    if options.initialize {
        let members = options
            .members
            .iter()
            .enumerate()
            .map(|(id, addr)| {
                (
                    id as NodeId,
                    BasicNode {
                        addr: addr.to_string(),
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        raft.initialize(members).await?;
    }
    Ok(raft)
}

/// Runs one node as a process (`riptide openraft-node`): a tokio runtime
/// with one worker per core, as openraft's users run it. Returns only if
/// the node fails to start.
pub fn run_node(options: &NodeOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let _raft = start_node(options).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// Free loopback addresses: `count` TCP ones for RPCs, `count` UDP ones for
/// clients (the sockets are closed before the nodes bind them).
fn free_addresses(count: usize) -> anyhow::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
    let tcp = (0..count)
        .map(|_| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()?;
    let udp = (0..count)
        .map(|_| std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        tcp.iter()
            .map(|s| s.local_addr())
            .collect::<Result<_, _>>()?,
        udp.iter()
            .map(|s| s.local_addr())
            .collect::<Result<_, _>>()?,
    ))
}

/// The group as riptide's clients see it: client ports, and the nodes' TCP
/// RPC addresses as replica addresses.
fn client_config(
    group: u16,
    members: &[SocketAddr],
    clients: &[SocketAddr],
) -> anyhow::Result<ClusterConfig> {
    let v4 = |a: &SocketAddr| match a {
        SocketAddr::V4(v4) => Ok(*v4),
        SocketAddr::V6(_) => anyhow::bail!("loopback is IPv4"),
    };
    let addresses = members
        .iter()
        .zip(clients)
        .map(|(m, c)| Ok((v4(m)?, c.port())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ClusterConfig::from_addresses(
        group,
        &addresses,
        Timing::default(),
    )?)
}

/// Waits until the group answers a put through the client protocol (it has
/// a leader that commits).
fn wait_until_answering(config: &ClusterConfig) -> anyhow::Result<()> {
    let options = ClientOptions {
        attempt_timeout: Duration::from_millis(200),
        deadline: Duration::from_secs(20),
    };
    let mut client = Client::new(config, 1, options).context("a probe client")?;
    client
        .put("probe", "x")
        .context("the openraft group never answered")?;
    Ok(())
}

/// A running openraft group in this process (one runtime for every node),
/// for tests; benchmarks run one process per node ([`measure`]).
pub struct OpenraftGroup {
    runtime: Option<tokio::runtime::Runtime>,
    rafts: Vec<Raft<Types>>,
    config: ClusterConfig,
}

impl OpenraftGroup {
    /// Starts `n` nodes, initializes the group and waits until it answers.
    pub fn start(n: u8, group: u16) -> anyhow::Result<OpenraftGroup> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (members, clients) = free_addresses(usize::from(n))?;
        let rafts = runtime.block_on(async {
            let mut rafts = Vec::new();
            for id in 0..u64::from(n) {
                let options = NodeOptions {
                    id,
                    members: members.clone(),
                    client: clients[id as usize],
                    group,
                    initialize: id == 0,
                };
                rafts.push(start_node(&options).await?);
            }
            anyhow::Ok(rafts)
        })?;
        let config = client_config(group, &members, &clients)?;
        let group = OpenraftGroup {
            runtime: Some(runtime),
            rafts,
            config,
        };
        wait_until_answering(&group.config)?;
        Ok(group)
    }

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

/// riptide's client protocol in front of one openraft node.
async fn front(socket: UdpSocket, raft: Raft<Types>, machine: StateMachine, group: u16, id: u8) {
    let socket = Arc::new(socket);
    let mut buf = vec![0; 1 << 16];
    while let Ok((len, from)) = socket.recv_from(&mut buf).await {
        let Some(ClientRequest {
            client,
            request,
            command,
        }) = client_request(&buf[..len], group)
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

/// What the peer measurement found.
pub struct PeerResult {
    pub result: LoadResult,
    /// CPU µs per operation of each node process, by node id.
    pub cpu_us_per_op: Vec<f64>,
}

/// Runs the same load against an openraft group of `replicas`, one
/// process per node (the `riptide` binary `exe`'s hidden `openraft-node`
/// subcommand), and stops it.
pub fn measure(
    exe: &Path,
    replicas: u8,
    load: &LoadOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, Duration),
) -> anyhow::Result<PeerResult> {
    const GROUP: u16 = 1;
    let (members, clients) = free_addresses(usize::from(replicas))?;
    let member_list: Vec<String> = members.iter().map(SocketAddr::to_string).collect();
    let mut children = Children::default();
    for (id, client) in clients.iter().enumerate() {
        let mut command = std::process::Command::new(exe);
        command
            .arg("openraft-node")
            .args(["--id", &id.to_string()])
            .args(["--members", &member_list.join(",")])
            .args(["--client", &client.to_string()])
            .args(["--group", &GROUP.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if id == 0 {
            command.arg("--initialize");
        }
        children.spawn(&format!("openraft node {id}"), command)?;
    }
    let config = client_config(GROUP, &members, &clients)?;
    wait_until_answering(&config)?;
    let pids: Vec<u32> = children.pids().into_iter().map(|(_, pid)| pid).collect();
    let before: Vec<_> = pids.iter().map(|&p| cpu_time(p)).collect();
    let result = load::run(&config, load, stop, progress)?;
    let after: Vec<_> = pids.iter().map(|&p| cpu_time(p)).collect();
    if let Some((name, how)) = children.exited() {
        anyhow::bail!("{name} exited during the run ({how})");
    }
    Ok(PeerResult {
        cpu_us_per_op: cpu_us_per_op(&before, &after, result.all_completed),
        result,
    })
}

#[cfg(test)]
mod tests {
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
}
