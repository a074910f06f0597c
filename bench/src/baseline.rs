//! The bare UDP round, the limit a replication round on this machine can
//! approach: client → leader → every follower → first ack → client, in the
//! same process layout as a riptide group (one process per member, on
//! loopback), with threads and blocking sockets and no protocol work.
//!
//! The leader's client thread reads a client request, decodes its envelope
//! (it must answer the client's session with the same client and request
//! numbers, so the load generator drives it unchanged) and sends the
//! command with a small header to every follower; each follower echoes the
//! header; the leader's peer thread answers the client on the first echo of
//! a round and ignores the rest. Nothing is logged, ordered or applied: the
//! figures are what the machine's loopback, scheduler and syscalls cost one
//! round, and every replication figure is printed also as a ratio to them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use riptide_control::kv::Reply;
use riptide_node::{ClusterConfig, Timing};
use riptide_wire::{Envelope, Message};

use crate::processes::{Children, cpu_time, cpu_us_per_op};
use crate::request::{ClientRequest, client_request};
use crate::udp::group::free_ports;
use crate::udp::load::{self, LoadOptions, LoadResult};

/// round (8) | client IPv4 (4) | client port (2) | client id (8) | request (8).
const HEADER: usize = 30;

/// Rounds remembered as answered: a late second ack finds its round here.
const ANSWERED: usize = 1 << 14;

/// A round's header, which the followers echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RoundHeader {
    round: u64,
    client_addr: SocketAddrV4,
    client: u64,
    request: u64,
}

impl RoundHeader {
    fn encode(&self) -> [u8; HEADER] {
        let mut out = [0; HEADER];
        out[..8].copy_from_slice(&self.round.to_le_bytes());
        out[8..12].copy_from_slice(&self.client_addr.ip().octets());
        out[12..14].copy_from_slice(&self.client_addr.port().to_le_bytes());
        out[14..22].copy_from_slice(&self.client.to_le_bytes());
        out[22..30].copy_from_slice(&self.request.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<RoundHeader> {
        let bytes: &[u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let ip: [u8; 4] = bytes[8..12].try_into().unwrap();
        let port = u16::from_le_bytes([bytes[12], bytes[13]]);
        Some(RoundHeader {
            round: u64_at(0),
            client_addr: SocketAddrV4::new(ip.into(), port),
            client: u64_at(14),
            request: u64_at(22),
        })
    }
}

/// Runs the leader: `client` answers clients, `peer` talks to `followers`.
/// Returns only on a socket error.
pub fn serve_leader(
    client: UdpSocket,
    peer: UdpSocket,
    followers: Vec<SocketAddr>,
    group: u16,
) -> anyhow::Result<()> {
    let (reply_socket, forward_socket) = (client.try_clone()?, peer.try_clone()?);
    let acks = std::thread::spawn(move || answer_acks(peer, reply_socket, group));
    forward_requests(client, forward_socket, &followers, group)?;
    acks.join()
        .map_err(|_| anyhow::anyhow!("the ack thread panicked"))?
}

fn forward_requests(
    client: UdpSocket,
    peer: UdpSocket,
    followers: &[SocketAddr],
    group: u16,
) -> anyhow::Result<()> {
    let mut buf = vec![0; 1 << 16];
    let mut forward = Vec::with_capacity(1 << 16);
    for round in 0u64.. {
        let (len, from) = client.recv_from(&mut buf)?;
        let SocketAddr::V4(client_addr) = from else {
            continue;
        };
        let Some(ClientRequest {
            client,
            request,
            command,
        }) = client_request(&buf[..len], group)
        else {
            continue;
        };
        let header = RoundHeader {
            round,
            client_addr,
            client,
            request,
        };
        forward.clear();
        forward.extend_from_slice(&header.encode());
        forward.extend_from_slice(&command);
        for &follower in followers {
            peer.send_to(&forward, follower)?;
        }
    }
    Ok(())
}

fn answer_acks(peer: UdpSocket, client: UdpSocket, group: u16) -> anyhow::Result<()> {
    let mut answered = vec![u64::MAX; ANSWERED];
    let mut buf = [0; 64];
    let done = Reply::Done.encode();
    loop {
        let (len, _) = peer.recv_from(&mut buf)?;
        let Some(header) = RoundHeader::decode(&buf[..len]) else {
            continue;
        };
        let seen = &mut answered[header.round as usize % ANSWERED];
        if *seen == header.round {
            continue;
        }
        *seen = header.round;
        let reply = Envelope {
            group,
            sender: 0,
            life: 0,
            message: Message::ClientReply {
                client: header.client,
                request: header.request,
                leader: Some(0),
                result: Some(done.clone()),
            },
        };
        client.send_to(&reply.encode(), header.client_addr)?;
    }
}

/// Runs a follower: echoes every round's header to its sender.
pub fn serve_follower(peer: UdpSocket) -> anyhow::Result<()> {
    let mut buf = vec![0; 1 << 16];
    loop {
        let (len, from) = peer.recv_from(&mut buf)?;
        if len >= HEADER {
            peer.send_to(&buf[..HEADER], from)?;
        }
    }
}

/// What `riptide bench --baseline` measured.
pub struct BaselineResult {
    pub result: LoadResult,
    /// CPU µs per operation of each member process, leader first.
    pub cpu_us_per_op: Vec<f64>,
}

/// Starts a leader and `members - 1` followers of the `riptide` binary
/// `exe` (its hidden `bench-round` subcommand) on loopback, offers `load`
/// to the leader, and stops them.
pub fn measure(
    exe: &Path,
    members: u8,
    load: &LoadOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, Duration),
) -> anyhow::Result<BaselineResult> {
    const GROUP: u16 = 1;
    let ports = free_ports(usize::from(members))?;
    let peer_addr = |i: usize| SocketAddr::from((Ipv4Addr::LOCALHOST, ports[i].0));
    let mut children = Children::default();
    for i in 0..ports.len() {
        let mut command = Command::new(exe);
        command
            .arg("bench-round")
            .args(["--peer", &peer_addr(i).to_string()])
            .args(["--group", &GROUP.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if i == 0 {
            command.args(["--client", &format!("127.0.0.1:{}", ports[0].1)]);
            for f in 1..ports.len() {
                command.args(["--follower", &peer_addr(f).to_string()]);
            }
        }
        children.spawn(&format!("baseline member {i}"), command)?;
    }
    let config = ClusterConfig::local(GROUP, Ipv4Addr::LOCALHOST, &ports[..1], Timing::default())?;
    wait_until_answering(&config)?;
    let pids: Vec<u32> = children.pids().into_iter().map(|(_, pid)| pid).collect();
    let before: Vec<_> = pids.iter().map(|&p| cpu_time(p)).collect();
    let result = load::run(&config, load, stop, progress)?;
    let after: Vec<_> = pids.iter().map(|&p| cpu_time(p)).collect();
    if let Some((name, how)) = children.exited() {
        bail!("{name} exited during the run ({how})");
    }
    Ok(BaselineResult {
        cpu_us_per_op: cpu_us_per_op(&before, &after, result.all_completed),
        result,
    })
}

/// Waits until the leader answers a put (its followers are up).
fn wait_until_answering(config: &ClusterConfig) -> anyhow::Result<()> {
    use riptide_node::client::{Client, ClientOptions};
    let deadline = Instant::now() + Duration::from_secs(10);
    let options = ClientOptions {
        attempt_timeout: Duration::from_millis(100),
        ..ClientOptions::default()
    };
    let mut client = Client::new(config, 1, options).context("a probe client")?;
    loop {
        match client.put("probe", "x") {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => {}
            Err(e) => return Err(e).context("the baseline group never answered"),
        }
    }
}

#[cfg(test)]
mod tests {
    use riptide_node::client::{Client, ClientOptions};

    use super::*;

    #[test]
    fn a_round_header_round_trips() {
        let header = RoundHeader {
            round: 7,
            client_addr: "127.0.0.1:4000".parse().unwrap(),
            client: 1 << 40,
            request: 3,
        };
        assert_eq!(RoundHeader::decode(&header.encode()), Some(header));
        assert_eq!(RoundHeader::decode(&[0; HEADER - 1]), None);
    }

    #[test]
    fn a_leader_answers_each_put_once_its_followers_echo() {
        let bind = || UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (client, peer) = (bind(), bind());
        let followers = [bind(), bind()];
        let addrs: Vec<SocketAddr> = followers.iter().map(|f| f.local_addr().unwrap()).collect();
        let ports = [(
            peer.local_addr().unwrap().port(),
            client.local_addr().unwrap().port(),
        )];
        for follower in followers {
            std::thread::spawn(move || serve_follower(follower));
        }
        std::thread::spawn(move || serve_leader(client, peer, addrs, 5));
        let config =
            ClusterConfig::local(5, Ipv4Addr::LOCALHOST, &ports, Timing::default()).unwrap();
        let mut client = Client::new(&config, 9, ClientOptions::default()).unwrap();
        for _ in 0..20 {
            assert_eq!(client.put("k", "v").unwrap(), Reply::Done);
        }
    }
}
