//! One replica host without I/O: the control plane ([`Replica`]) wired to its
//! NIC ([`FastPath`]), fed datagrams and ticks, filling an outbox of
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

use riptide_wire::frame::{Endpoint, decode_frame, encode_frame};
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::layout::{MAX_DATAGRAM, RIPTIDE_OFFSET};
use riptide_wire::{Envelope, Message};
use tracing::{debug, info, warn};

use super::config::ClusterConfig;
use super::fastpath::{FastPath, is_validation_drop};
use super::ring::TransportStats;
use super::status::{HostCounters, STATUS_REQUEST, StatusReport, role_name};
use crate::kv::{Command, Reply};
use crate::{Input, Output, Replica, Role};

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
pub struct Node<F: FastPath> {
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

impl<F: FastPath> Node<F> {
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
        self.nic.receive(&frame);
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
        while let Some((to, frame)) = self.nic.poll_transmit() {
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
                Output::Nic(NicCommand::Heartbeat) if !self.nic.has_heartbeat() => {
                    self.software_heartbeat()
                }
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

    /// What a NIC heartbeat sends, COMMIT(ballot, commit) to every follower,
    /// built in software for a NIC without the command.
    fn software_heartbeat(&mut self) {
        let status = self.replica.status();
        let cfg = self.replica.config();
        let (me, replicas) = (cfg.id, cfg.replicas);
        for to in (0..replicas).filter(|&to| to != me) {
            let commit = Message::Commit {
                ballot: status.promised,
                commit: status.commit,
            };
            self.transmit(to, commit);
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
