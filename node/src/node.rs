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
use super::cookie::Cookies;
use super::nic::{ReplicaNic, is_validation_drop};
use super::ring::TransportStats;
use super::status::{HostCounters, StatusReport, cookie_reply, parse_status_request, role_name};

/// Clients whose reply address a replica remembers at most; past it the book
/// starts over (a forgotten client's retry is answered at its new address).
const MAX_CLIENTS: usize = 1 << 16;

/// How often the cookie key is replaced, in milliseconds: a cookie lasts
/// one to two of these.
const COOKIE_ROTATION_MS: u64 = 120_000;

/// Where a client's replies go, and how much may be sent there unproven.
#[derive(Debug, Clone, Copy)]
struct ClientAddr {
    addr: SocketAddr,
    /// The length of the client's latest request: a reply to an unproven
    /// address is at most this long.
    request_len: usize,
    /// Whether that request carried a valid cookie for `addr`.
    proven: bool,
}

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
    clients: BTreeMap<u64, ClientAddr>,
    cookies: Cookies,
    /// Ticks between two cookie key rotations.
    cookie_rotation: u64,
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
            cookies: Cookies::new(),
            cookie_rotation: (COOKIE_ROTATION_MS / config.timing.tick_ms.max(1)).max(1),
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
        if self.ticks.is_multiple_of(self.cookie_rotation) {
            self.cookies.rotate();
        }
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
        if let Some(cookie) = parse_status_request(datagram) {
            self.counters.status_requests += 1;
            // The report is some 800 bytes against a 23-byte request: only
            // for an address that proved it receives there.
            let datagram = if self.cookies.verify(from, cookie) {
                let report = self.status();
                serde_json::to_vec(&report).expect("a status report serializes")
            } else {
                self.counters.cookies_sent += 1;
                cookie_reply(self.cookies.issue(from))
            };
            self.outbox.push(Outgoing::Client { to: from, datagram });
            return;
        }
        let request = Envelope::decode(datagram, self.group)
            .map_err(|e| e.to_string())
            .and_then(|envelope| match envelope.message {
                Message::ClientRequest {
                    client,
                    request,
                    cookie,
                    command,
                } => Command::decode(&command)
                    .map(|command| (client, request, cookie, command))
                    .map_err(|e| e.to_string()),
                other => Err(format!("a {:?} on the client port", other.msg_type())),
            });
        match request {
            Ok((client, request, cookie, command)) => {
                self.counters.client_requests += 1;
                if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
                    self.clients.clear();
                }
                self.clients.insert(
                    client,
                    ClientAddr {
                        addr: from,
                        request_len: datagram.len(),
                        proven: self.cookies.verify(from, cookie),
                    },
                );
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
                Output::Installed { .. } => self.counters.snapshot_installs += 1,
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
        let Some(&ClientAddr {
            addr: to,
            request_len,
            proven,
        }) = self.clients.get(&client)
        else {
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
        let mut datagram = match envelope.try_encode() {
            Ok(datagram) => datagram,
            Err(_) => {
                self.counters.oversize += 1;
                return;
            }
        };
        if !proven && datagram.len() > request_len {
            // A get's value (or any answer) longer than the request, to an
            // address that may be forged: a cookie instead, which the
            // client sends back with the same request. A cookie reply is
            // 61 bytes; the shortest request is 63.
            self.counters.cookies_sent += 1;
            let cookie = Reply::Cookie {
                cookie: self.cookies.issue(to),
            };
            datagram = Envelope {
                message: Message::ClientReply {
                    client,
                    request,
                    leader: None,
                    result: Some(cookie.encode()),
                },
                ..envelope
            }
            .encode();
        }
        self.counters.client_replies += 1;
        self.outbox.push(Outgoing::Client { to, datagram });
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
                datagram = session.retry_datagram().unwrap();
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

    /// The one datagram node 0 sends `client_addr()` for `request`.
    fn answer(group: &mut Group, from: SocketAddr, request: &[u8]) -> Vec<u8> {
        group.nodes[0].client_datagram(from, request);
        let outbox = group.nodes[0].take_outbox();
        match &outbox[..] {
            [.., Outgoing::Client { to, datagram }] if *to == from => datagram.clone(),
            _ => panic!("no reply: {outbox:?}"),
        }
    }

    #[test]
    fn a_status_request_is_answered_with_json_once_the_address_is_proven() {
        use crate::status::{STATUS_REQUEST, parse_cookie_reply, status_request};
        let mut group = Group::new();
        // Unproven: a cookie, as long as the request.
        let reply = answer(&mut group, client_addr(), STATUS_REQUEST);
        assert_eq!(reply.len(), STATUS_REQUEST.len());
        let cookie = parse_cookie_reply(&reply).expect("a cookie");
        // Another address cannot use it.
        let other: SocketAddr = "127.0.0.1:6666".parse().unwrap();
        let reply = answer(&mut group, other, &status_request(cookie));
        assert_eq!(reply.len(), STATUS_REQUEST.len());
        // Proven: the report.
        let reply = answer(&mut group, client_addr(), &status_request(cookie));
        let report: StatusReport = serde_json::from_slice(&reply).unwrap();
        assert_eq!(
            (report.id, report.group, report.role.as_str()),
            (0, GROUP, "follower")
        );
        assert_eq!(report.host.status_requests, 3);
        assert_eq!(report.host.cookies_sent, 2);
    }

    #[test]
    fn no_reply_to_an_unproven_address_is_larger_than_its_request() {
        let mut group = Group::new();
        let leader = group.elect();
        let mut session = Session::new(leader as u64, GROUP, 3);
        let value = "v".repeat(10_000);
        let put = Command::Put {
            key: "k".into(),
            value: value.clone(),
        };
        assert_eq!(group.request(&mut session, &put), Reply::Done);
        // A get of the long value, from a forged source: the node sees only
        // the request, and sends no more bytes than it holds.
        let mut forged = Session::new(99, GROUP, 3);
        let get = forged.begin(&Command::Get { key: "k".into() });
        group.nodes[leader].client_datagram(client_addr(), &get);
        let mut sent = Vec::new();
        for _ in 0..5 {
            group.deliver();
            sent.append(&mut group.to_client);
        }
        assert!(!sent.is_empty(), "the replica answers");
        for datagram in &sent {
            assert!(
                datagram.len() <= get.len(),
                "{} > {}",
                datagram.len(),
                get.len()
            );
        }
        // The client that receives there proves it, and gets the value.
        let mut honest = Session::new(leader as u64 + 3, GROUP, 3);
        assert_eq!(
            group.request(&mut honest, &Command::Get { key: "k".into() }),
            Reply::Value(Some(value))
        );
        let report = group.nodes[leader].status();
        assert!(report.host.cookies_sent >= 2, "{:?}", report.host);
    }
}
