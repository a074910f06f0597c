//! One replica host without I/O: the control plane ([`Replica`]) wired to its
//! NIC ([`ReplicaNic`]), fed datagrams and ticks, filling an outbox of
//! datagrams to send. The replica loop moves bytes between this and the
//! sockets; tests drive it directly.
//!
//! The wiring is the contract of `docs/protocol.md`: the control plane's
//! messages leave through the NIC (`Transmit`), every NIC record goes back to
//! the control plane (events as `Input::Nic`, punted frames decoded as
//! `Input::Receive`), and clients talk to the host, not to the NIC.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;

use riptide_control::kv::{Command, Reply};
use riptide_control::{Input, Output, Replica, Role};
use riptide_wire::frame::{Endpoint, decode_frame, encode_frame};
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::layout::{MAX_DATAGRAM, RIPTIDE_OFFSET};
use riptide_wire::{Envelope, Message};
use tracing::{debug, info, warn};

use super::config::ClusterConfig;
use super::nic::{ReplicaNic, is_validation_drop};
use super::ring::TransportStats;
use super::status::{HostCounters, STATUS_REQUEST, StatusReport, role_name};

/// Clients whose reply address a replica remembers at most; past it the book
/// starts over (a forgotten client's retry is answered at its new address).
const MAX_CLIENTS: usize = 1 << 16;

/// A datagram the node wants sent.
#[derive(Debug)]
pub enum Outgoing {
    /// To replica `to`'s replica port: `frame[datagram]` (the NIC built a
    /// whole frame; only its UDP payload goes on the socket).
    Peer {
        to: u8,
        frame: Vec<u8>,
        datagram: Range<usize>,
    },
    /// To a client (a reply, or a status report).
    Client { to: SocketAddr, datagram: Vec<u8> },
}

/// A replica host: control plane, NIC, client book and counters.
pub struct Node<F: ReplicaNic> {
    replica: Replica,
    nic: F,
    group: u16,
    /// Replica ports, by id: where the NIC's frames for each replica go.
    ports: Vec<u16>,
    /// This replica's NIC address: received datagrams are framed to it.
    own: Endpoint,
    clients: BTreeMap<u64, SocketAddr>,
    counters: HostCounters,
    transport: TransportStats,
    ticks: u64,
    outbox: Vec<Outgoing>,
    /// Role and ballot last logged, to log changes once.
    logged: (Role, u64),
}

impl<F: ReplicaNic> Node<F> {
    pub fn new(replica: Replica, nic: F, config: &ClusterConfig) -> Node<F> {
        let id = replica.config().id;
        let endpoints = config.endpoints();
        let status = replica.status();
        let mut node = Node {
            group: config.group,
            ports: endpoints.iter().map(|e| e.port).collect(),
            own: endpoints[usize::from(id)],
            replica,
            nic,
            clients: BTreeMap::new(),
            counters: HostCounters::default(),
            transport: TransportStats::default(),
            ticks: 0,
            outbox: Vec::new(),
            logged: (status.role, status.promised.0),
        };
        // A restarted replica's first step idles its NIC and asks the others.
        node.step(Input::Tick);
        node
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    pub fn nic(&self) -> &F {
        &self.nic
    }

    /// The NIC, for a caller that moves its frames itself (a test's fake
    /// board).
    pub fn nic_mut(&mut self) -> &mut F {
        &mut self.nic
    }

    /// Everything to send since the last call.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// The transport's counters, for status reports.
    pub fn note_transport(&mut self, stats: TransportStats) {
        self.transport = stats;
    }

    /// One tick of the logical clock.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.step(Input::Tick);
    }

    /// A datagram on the replica port (untrusted bytes): framed for the NIC,
    /// which validates it like any frame off the wire.
    pub fn peer_datagram(&mut self, from: SocketAddr, datagram: &[u8]) {
        self.counters.peer_datagrams += 1;
        if datagram.len() > MAX_DATAGRAM {
            self.counters.unframeable += 1;
            return;
        }
        let src = Endpoint {
            mac: [0; 6],
            ip: match from {
                SocketAddr::V4(v4) => v4.ip().octets(),
                SocketAddr::V6(_) => [0; 4],
            },
            port: from.port(),
        };
        let frame = encode_frame(&src, &self.own, datagram);
        // Only the software fast path has a replica socket to hear from.
        if let Some(wire) = self.nic.wire() {
            wire.receive(&frame);
        }
        self.pump();
    }

    /// A datagram on the client port (untrusted bytes): a client request, a
    /// status request, or garbage (counted and dropped).
    pub fn client_datagram(&mut self, from: SocketAddr, datagram: &[u8]) {
        self.counters.client_datagrams += 1;
        if datagram == STATUS_REQUEST {
            self.counters.status_requests += 1;
            let report = self.status();
            let datagram = serde_json::to_vec(&report).expect("a status report serializes");
            self.outbox.push(Outgoing::Client { to: from, datagram });
            return;
        }
        let request = Envelope::decode(datagram, self.group)
            .map_err(|e| e.to_string())
            .and_then(|envelope| match envelope.message {
                Message::ClientRequest {
                    client,
                    request,
                    command,
                } => Command::decode(&command)
                    .map(|command| (client, request, command))
                    .map_err(|e| e.to_string()),
                other => Err(format!("a {:?} on the client port", other.msg_type())),
            });
        match request {
            Ok((client, request, command)) => {
                self.counters.client_requests += 1;
                if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
                    self.clients.clear();
                }
                self.clients.insert(client, from);
                self.step(Input::Client {
                    client,
                    request,
                    command,
                });
            }
            Err(why) => {
                self.counters.malformed_client += 1;
                debug!(%from, %why, "dropped a malformed client datagram");
            }
        }
    }

    /// Takes whatever the NIC reported on its own (a board's records).
    pub fn poll_nic(&mut self) {
        self.pump();
    }

    pub fn status(&mut self) -> StatusReport {
        let status = self.replica.status();
        let counters = self.nic.counters();
        StatusReport {
            id: status.id,
            group: self.group,
            role: role_name(status.role).to_string(),
            ballot_round: status.promised.round(),
            ballot_leader: status.promised.leader(),
            commit: status.commit,
            applied: status.applied,
            ticks: self.ticks,
            incarnation: self.replica.incarnation(),
            recovery_answers: self.replica.recovery_answers(),
            nic: self.nic.name(),
            nic_invalid_frames: counters
                .iter()
                .filter(|(counter, _)| is_validation_drop(*counter))
                .map(|(_, n)| n)
                .sum(),
            nic_counters: counters
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(counter, n)| (counter.name().to_string(), *n))
                .collect(),
            host: self.counters,
            transport: self.transport,
        }
    }

    fn step(&mut self, input: Input) {
        let outputs = self.replica.step(input);
        self.carry_out(outputs);
        self.pump();
        self.log_changes();
    }

    /// Moves records from the NIC to the control plane, and frames from the
    /// NIC to the outbox, until the NIC has nothing more.
    fn pump(&mut self) {
        loop {
            self.collect_transmits();
            let record = match self.nic.poll_host() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(error) => {
                    self.counters.nic_errors += 1;
                    warn!(%error, "reading the NIC's records failed");
                    break;
                }
            };
            let input = match record {
                CardToHost::Event(event) => Input::Nic(event),
                CardToHost::Punted(frame) => match self.decode_punt(&frame) {
                    Some(input) => input,
                    None => continue,
                },
            };
            let outputs = self.replica.step(input);
            self.carry_out(outputs);
        }
    }

    /// A punted frame passed the NIC's header checks; its body is still
    /// untrusted.
    fn decode_punt(&mut self, frame: &[u8]) -> Option<Input> {
        let decoded = decode_frame(frame, self.own.port)
            .and_then(|view| Envelope::decode(view.datagram, self.group));
        match decoded {
            Ok(envelope) => Some(Input::Receive {
                from: envelope.sender,
                life: envelope.life,
                message: envelope.message,
            }),
            Err(error) => {
                self.counters.malformed_punts += 1;
                debug!(%error, "dropped a punted frame that does not decode");
                None
            }
        }
    }

    fn collect_transmits(&mut self) {
        let Some(wire) = self.nic.wire() else {
            return;
        };
        while let Some((to, frame)) = wire.poll_transmit() {
            let Some(&port) = self.ports.get(usize::from(to)) else {
                continue;
            };
            // The NIC built the frame, so it decodes; only its UDP payload
            // goes on the socket.
            if let Ok(view) = decode_frame(&frame, port) {
                let datagram = RIPTIDE_OFFSET..RIPTIDE_OFFSET + view.datagram.len();
                self.outbox.push(Outgoing::Peer {
                    to,
                    frame,
                    datagram,
                });
            }
        }
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, message } => self.transmit(to, message),
                Output::Nic(command) => self.nic_command(command),
                Output::Applied { .. } => self.counters.applied += 1,
                Output::Reply {
                    client,
                    request,
                    reply,
                } => self.reply(client, request, reply),
            }
        }
    }

    fn transmit(&mut self, to: u8, message: Message) {
        let envelope = Envelope {
            group: self.group,
            sender: self.replica.config().id,
            life: self.replica.life(),
            message,
        };
        match envelope.try_encode() {
            Ok(datagram) => self.nic_command(NicCommand::Transmit { to, datagram }),
            Err(error) => {
                self.counters.oversize += 1;
                warn!(%error, to, "a message does not fit a datagram");
            }
        }
    }

    fn nic_command(&mut self, command: NicCommand) {
        if let Err(error) = self.nic.command(command) {
            self.counters.nic_errors += 1;
            warn!(%error, "the NIC refused a command");
        }
    }

    fn reply(&mut self, client: u64, request: u64, reply: Reply) {
        let Some(&to) = self.clients.get(&client) else {
            return;
        };
        let (leader, result) = match reply {
            Reply::NotLeader { leader } => (leader, None),
            reply => (Some(self.replica.config().id), Some(reply.encode())),
        };
        let envelope = Envelope {
            group: self.group,
            sender: self.replica.config().id,
            life: self.replica.life(),
            message: Message::ClientReply {
                client,
                request,
                leader,
                result,
            },
        };
        match envelope.try_encode() {
            Ok(datagram) => {
                self.counters.client_replies += 1;
                self.outbox.push(Outgoing::Client { to, datagram });
            }
            Err(_) => self.counters.oversize += 1,
        }
    }

    fn log_changes(&mut self) {
        let status = self.replica.status();
        let now = (status.role, status.promised.0);
        if now != self.logged {
            self.logged = now;
            info!(
                role = role_name(status.role),
                ballot_round = status.promised.round(),
                ballot_leader = status.promised.leader(),
                commit = status.commit,
                "role or ballot changed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use riptide_control::client::{Progress, Session};
    use riptide_control::rng::Rng;
    use riptide_driver::model::{ModelBugs, ModelNic};

    use super::*;
    use crate::ring::Outbound;
    use crate::serve::{PEER_SOCKET, dispatch};

    const GROUP: u16 = 9;

    fn config() -> ClusterConfig {
        let ports: Vec<(u16, u16)> = (0..3).map(|i| (7100 + i, 7200 + i)).collect();
        ClusterConfig::local(GROUP, Ipv4Addr::LOCALHOST, &ports, Default::default()).unwrap()
    }

    fn client_addr() -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5555))
    }

    /// Three nodes on a lossless in-memory network; client replies collected.
    struct Group {
        config: ClusterConfig,
        nodes: Vec<Node<ModelNic>>,
        to_client: Vec<Vec<u8>>,
    }

    impl Group {
        fn new() -> Group {
            let config = config();
            let nodes = (0..3)
                .map(|id| {
                    let replica = Replica::new(config.replica_config(id, 100 + u64::from(id)));
                    let nic =
                        ModelNic::with_peers(id, GROUP, config.endpoints(), ModelBugs::default());
                    Node::new(replica, nic, &config)
                })
                .collect();
            Group {
                config,
                nodes,
                to_client: Vec::new(),
            }
        }

        /// Carries every outbox as the replica loop would address it, with
        /// the network in place of the sockets.
        fn deliver(&mut self) {
            let peers: Vec<SocketAddr> =
                self.config.replicas.iter().map(|r| r.peer.into()).collect();
            for _ in 0..1000 {
                let mut moved = false;
                for id in 0..self.nodes.len() {
                    let mut sent: Vec<Outbound> = Vec::new();
                    let outbox = self.nodes[id].take_outbox();
                    moved |= !outbox.is_empty();
                    dispatch(outbox, &peers, Some(PEER_SOCKET), |out| sent.push(out));
                    for out in sent {
                        let datagram = &out.bytes[out.range];
                        if out.socket == PEER_SOCKET {
                            let to = peers
                                .iter()
                                .position(|&addr| addr == out.to)
                                .expect("frames go to replica addresses");
                            self.nodes[to].peer_datagram(peers[id], datagram);
                        } else {
                            assert_eq!(out.to, client_addr());
                            self.to_client.push(datagram.to_vec());
                        }
                    }
                }
                if !moved {
                    return;
                }
            }
            panic!("the network never went quiet");
        }

        fn leader(&mut self) -> Option<usize> {
            (0..3).find(|&id| self.nodes[id].status().is_leader())
        }

        fn elect(&mut self) -> usize {
            for _ in 0..500 {
                for node in &mut self.nodes {
                    node.tick();
                }
                self.deliver();
                if let Some(leader) = self.leader() {
                    return leader;
                }
            }
            panic!("no leader elected");
        }

        /// Runs one request of `session` to completion, following redirects.
        fn request(&mut self, session: &mut Session, command: &Command) -> Reply {
            let mut datagram = session.begin(command);
            for _ in 0..10 {
                self.nodes[session.target()].client_datagram(client_addr(), &datagram);
                self.deliver();
                for reply in std::mem::take(&mut self.to_client) {
                    match session.on_datagram(&reply) {
                        Progress::Done(reply) => return reply,
                        Progress::Resend { .. } => {}
                        Progress::Ignored => {}
                    }
                }
                datagram = session.retry_datagram().unwrap().to_vec();
            }
            panic!("the request did not complete");
        }
    }

    #[test]
    fn a_group_elects_commits_and_answers_clients_through_redirects() {
        let mut group = Group::new();
        let leader = group.elect();
        // Start at a follower: it redirects to the leader.
        let mut session = Session::new((leader as u64 + 1) % 3, GROUP, 3);
        assert_ne!(session.target(), leader);
        let put = Command::Put {
            key: "k".into(),
            value: "v".into(),
        };
        assert_eq!(group.request(&mut session, &put), Reply::Done);
        assert_eq!(session.target(), leader);
        let get = Command::Get { key: "k".into() };
        assert_eq!(
            group.request(&mut session, &get),
            Reply::Value(Some("v".into()))
        );
        // Heartbeats carry the commit index to the followers.
        for _ in 0..20 {
            for node in &mut group.nodes {
                node.tick();
            }
            group.deliver();
        }
        for node in &mut group.nodes {
            let status = node.status();
            assert!(status.commit >= 2, "{status:?}");
            assert_eq!(status.garbage_dropped(), 0);
            assert_eq!(node.replica().kv().read("k"), Some("v"));
        }
        let status = group.nodes[leader].status();
        assert_eq!(status.host.client_requests, 2);
        assert_eq!(status.host.client_replies, 2);
        assert_eq!(status.nic, "model");
        assert!(status.nic_counters["submitted"] >= 2);
    }

    #[test]
    fn garbage_on_both_ports_is_counted_and_dropped() {
        let mut group = Group::new();
        let leader = group.elect();
        let mut rng = Rng::new(7);
        let sent = 2_000;
        for _ in 0..sent {
            let len = rng.below(200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            group.nodes[leader].peer_datagram(client_addr(), &bytes);
            group.nodes[leader].client_datagram(client_addr(), &bytes);
        }
        // A valid header of a rare-path type with a truncated body: the NIC
        // punts it, software fails to decode it.
        let mut truncated = Envelope {
            group: GROUP,
            sender: 1,
            life: 0,
            message: Message::RecoveryRequest {
                nonce: 1,
                lives: vec![0; 3],
            },
        }
        .encode();
        truncated.truncate(truncated.len() - 3);
        truncated[riptide_wire::layout::header::PAYLOAD_LEN.offset + 1] -= 3;
        group.nodes[leader].peer_datagram(client_addr(), &truncated);
        group.deliver();
        let status = group.nodes[leader].status();
        assert_eq!(status.nic_invalid_frames, sent);
        assert_eq!(status.host.malformed_punts, 1);
        assert_eq!(status.host.malformed_client, sent);
        assert_eq!(status.garbage_dropped(), 2 * sent + 1);
        assert!(status.is_leader());
        // Still serving.
        let mut session = Session::new(1, GROUP, 3);
        let put = Command::Put {
            key: "a".into(),
            value: "b".into(),
        };
        assert_eq!(group.request(&mut session, &put), Reply::Done);
    }

    #[test]
    fn a_status_request_is_answered_with_json() {
        let mut group = Group::new();
        group.nodes[0].client_datagram(client_addr(), STATUS_REQUEST);
        let outbox = group.nodes[0].take_outbox();
        let Some(Outgoing::Client { datagram, .. }) = outbox.last() else {
            panic!("no status reply: {outbox:?}");
        };
        let report: StatusReport = serde_json::from_slice(datagram).unwrap();
        assert_eq!(
            (report.id, report.group, report.role.as_str()),
            (0, GROUP, "follower")
        );
        assert_eq!(report.host.status_requests, 1);
    }
}
