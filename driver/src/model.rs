//! The behavioural model of the fast path: the golden model the RTL is diffed
//! against. Transaction-level and exact: one call to [`ModelNic::receive`] or
//! [`ModelNic::command`] is one frame or one command, carried out completely, with
//! every effect (frames out, card-to-host records, counters) in the order the
//! hardware produces them. The rules are the fast-path table of
//! `docs/protocol.md`; each arm below names its row.

mod counters;
mod validate;

use std::collections::{BTreeMap, VecDeque};

use riptide_wire::frame::{Endpoint, encode_frame};
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::layout::UDP_PORT;
use riptide_wire::life::is_older;
use riptide_wire::message::Header;
use riptide_wire::regs::{Counter, MAX_REPLICAS};
use riptide_wire::{Ballot, Envelope, Message, MsgType};

pub use counters::Counters;
use validate::{Valid, validate};

use crate::{NicError, NicHost, NicWire};

/// Planted fast-path bugs, all off by default. They exist so the simulator's
/// checkers and fault search can show they catch each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelBugs {
    /// Follower: re-ack an ACCEPT for a slot already seen (in `base..next_slot`)
    /// whatever its ballot, without writing it to the host.
    pub ack_without_store: bool,
    /// Leader: commit counted across ballots. An ACCEPTED counts for an
    /// outstanding slot whatever ballot it carries, and a `Configure` keeps
    /// the ack bitmaps, so acks gathered before a re-proposal (for another
    /// ballot's value) count toward the new proposal's quorum.
    pub commit_on_any_ack: bool,
    /// Leader: a slot is chosen with `f` acks (its own included) instead of `f+1`.
    pub minority_quorum: bool,
}

/// The behavioural NIC of replica `id`.
#[derive(Debug, Clone)]
pub struct ModelNic {
    id: u8,
    group: u16,
    /// Addresses of every replica's NIC, indexed by replica id (ours included).
    peers: Vec<Endpoint>,
    bugs: ModelBugs,
    config: NicConfig,
    /// The `next_slot` of the last `Configure`: slots below it are not ours to
    /// re-ack (software may hold a different value there).
    base: u64,
    /// Highest fenced ballot: nothing below it is acked.
    fence: Ballot,
    /// Leader: the ack bitmap (bit = replica id) of each slot in
    /// `(config.commit, config.next_slot)`.
    acks: BTreeMap<u64, u32>,
    /// Follower: the commit index last reported to the host.
    reported_commit: u64,
    transmit: VecDeque<(u8, Vec<u8>)>,
    host: VecDeque<CardToHost>,
    counters: Counters,
    /// Commands that broke the host contract (submit or heartbeat when not
    /// leader, submit beyond the window, transmit to an unknown replica):
    /// refused without effect.
    refused_commands: u64,
    /// Follower: COMMIT frames of our ballot reported to the host. A frame
    /// fate the register map has no counter for yet.
    heartbeats: u64,
}

impl ModelNic {
    /// The NIC of replica `id` in a group of `replicas` whose NICs use the
    /// default addresses ([`ModelNic::default_endpoint`]).
    pub fn new(id: u8, replicas: u8, group: u16, bugs: ModelBugs) -> ModelNic {
        let peers = (0..replicas).map(ModelNic::default_endpoint).collect();
        ModelNic::with_peers(id, group, peers, bugs)
    }

    /// The NIC of replica `id`, with the address of every replica's NIC
    /// (indexed by id; the NIC listens on the UDP port of its own entry).
    pub fn with_peers(id: u8, group: u16, peers: Vec<Endpoint>, bugs: ModelBugs) -> ModelNic {
        let replicas = u8::try_from(peers.len()).unwrap_or(u8::MAX);
        ModelNic {
            id,
            group,
            bugs,
            config: NicConfig {
                role: NicRole::Idle,
                ballot: Ballot::ZERO,
                next_slot: 1,
                commit: 0,
                replicas,
                window: 0,
                lives: [0; MAX_REPLICAS],
            },
            base: 1,
            fence: Ballot::ZERO,
            acks: BTreeMap::new(),
            reported_commit: 0,
            transmit: VecDeque::new(),
            host: VecDeque::new(),
            counters: Counters::default(),
            refused_commands: 0,
            heartbeats: 0,
            peers,
        }
    }

    /// Replica `id`'s default address: a locally administered MAC ending in the
    /// id, IPv4 `10.0.<id/250>.<id%250 + 1>`, riptide's UDP port.
    pub fn default_endpoint(id: u8) -> Endpoint {
        Endpoint {
            mac: [0x02, 0x52, 0x54, 0x00, 0x00, id],
            ip: [10, 0, id / 250, id % 250 + 1],
            port: UDP_PORT,
        }
    }

    /// `message` of group `group` as replica `from` puts it on the wire to
    /// replica `to`, both at their default addresses, on its first life.
    pub fn default_frame(group: u16, from: u8, to: u8, message: Message) -> Vec<u8> {
        ModelNic::default_frame_of_life(group, from, 0, to, message)
    }

    /// [`ModelNic::default_frame`] with the header's `LIFE` byte `life`.
    pub fn default_frame_of_life(
        group: u16,
        from: u8,
        life: u8,
        to: u8,
        message: Message,
    ) -> Vec<u8> {
        let datagram = Envelope {
            group,
            sender: from,
            life,
            message,
        }
        .encode();
        encode_frame(
            &ModelNic::default_endpoint(from),
            &ModelNic::default_endpoint(to),
            &datagram,
        )
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Commands refused for breaking the host contract (see the field).
    pub fn refused_commands(&self) -> u64 {
        self.refused_commands
    }

    /// Heartbeats (COMMIT of our ballot) a follower reported to the host.
    pub fn heartbeats(&self) -> u64 {
        self.heartbeats
    }

    /// The current programming (commit and next slot advance with traffic).
    pub fn config(&self) -> &NicConfig {
        &self.config
    }

    pub fn fence(&self) -> Ballot {
        self.fence
    }

    fn quorum(&self) -> u32 {
        let half = u32::from(self.config.replicas) / 2;
        if self.bugs.minority_quorum {
            half
        } else {
            half + 1
        }
    }

    /// Replica `id`'s entry of the lives table (ids past the table have none).
    fn life_of(&self, id: u8) -> u8 {
        self.config.lives.get(usize::from(id)).copied().unwrap_or(0)
    }

    fn is_peer(&self, id: u8) -> bool {
        id != self.id && id < self.config.replicas && usize::from(id) < self.peers.len()
    }

    fn write_host(&mut self, record: CardToHost) {
        self.counters.bump(Counter::HostRecords);
        self.host.push_back(record);
    }

    fn event(&mut self, event: NicEvent) {
        self.write_host(CardToHost::Event(event));
    }

    fn punt(&mut self, frame: &[u8], why: Counter) {
        self.counters.bump(why);
        self.write_host(CardToHost::Punted(frame.to_vec()));
    }

    /// Frame a datagram for replica `to`; false if `to` has no address.
    fn send_datagram(&mut self, to: u8, datagram: &[u8]) -> bool {
        let (Some(src), Some(dst)) = (
            self.peers.get(usize::from(self.id)),
            self.peers.get(usize::from(to)),
        ) else {
            return false;
        };
        let frame = encode_frame(src, dst, datagram);
        self.transmit.push_back((to, frame));
        true
    }

    /// Send a message the fast path builds itself.
    fn send(&mut self, to: u8, message: Message, counter: Counter) {
        let datagram = Envelope {
            group: self.group,
            sender: self.id,
            life: self.life_of(self.id),
            message,
        }
        .encode();
        if self.send_datagram(to, &datagram) {
            self.counters.bump(counter);
        }
    }

    fn followers(&self) -> Vec<u8> {
        (0..self.config.replicas)
            .filter(|&id| self.is_peer(id))
            .collect()
    }

    fn receive_valid(&mut self, frame: &[u8], valid: Valid<'_>) {
        let Valid {
            header,
            msg_type,
            payload,
        } = valid;
        // Row "any: type >= 0x10 (rare path) or NACK".
        if !msg_type.handled_by_nic() {
            return self.punt(frame, Counter::PuntRare);
        }
        match self.config.role {
            // Row "Idle: anything".
            NicRole::Idle => self.punt(frame, Counter::PuntIdle),
            // Acks and NACKs go back to the sender: it must be one of our peers.
            _ if !self.is_peer(header.sender) => self.counters.bump(Counter::DropPhase2),
            // Row "any phase 2: LIFE older than the table's".
            _ if is_older(header.life, self.life_of(header.sender)) => {
                self.counters.bump(Counter::DropOldLife)
            }
            NicRole::Follower => self.follower_receive(frame, header, msg_type, payload),
            NicRole::Leader => self.leader_receive(frame, header, msg_type),
        }
    }

    fn follower_receive(
        &mut self,
        frame: &[u8],
        header: Header,
        msg_type: MsgType,
        payload: &[u8],
    ) {
        let (b, s, sender) = (header.ballot, header.slot, header.sender);
        let ours = self.config.ballot;
        match msg_type {
            MsgType::Accept => {
                let seen = self.base <= s && s < self.config.next_slot;
                if self.bugs.ack_without_store && seen && b != ours {
                    return self.reack(sender, b, s);
                }
                if b < ours || b < self.fence {
                    self.counters.bump(Counter::DropStale);
                    let nack = Message::Nack {
                        ballot: ours.max(self.fence),
                        slot: s,
                    };
                    return self.send(sender, nack, Counter::TxNack);
                }
                if b > ours {
                    return self.punt(frame, Counter::PuntHigherBallot);
                }
                if s == self.config.next_slot {
                    self.accept_in_order(sender, b, s, header.commit, payload);
                } else if seen {
                    self.reack(sender, b, s);
                } else {
                    self.punt(frame, Counter::PuntSlot);
                }
            }
            MsgType::Commit if b == ours => {
                self.heartbeats += 1;
                self.counters.bump(Counter::Committed);
                self.reported_commit = self.reported_commit.max(header.commit);
                self.event(NicEvent::Committed {
                    ballot: b,
                    commit: header.commit,
                });
            }
            MsgType::Commit if b > ours => self.punt(frame, Counter::PuntHigherBallot),
            _ => self.counters.bump(Counter::DropPhase2),
        }
    }

    /// Row "Follower, ACCEPT, b == ballot, s == next_slot": the host record
    /// first, then the ack, so software sees every acked entry by the time a
    /// later fence completes.
    fn accept_in_order(&mut self, sender: u8, b: Ballot, s: u64, commit: u64, value: &[u8]) {
        self.counters.bump(Counter::Accepted);
        self.event(NicEvent::Accepted {
            ballot: b,
            slot: s,
            value: value.to_vec(),
        });
        self.send(
            sender,
            Message::Accepted { ballot: b, slot: s },
            Counter::TxAccepted,
        );
        self.config.next_slot += 1;
        if commit > self.reported_commit {
            self.reported_commit = commit;
            self.counters.bump(Counter::Committed);
            self.event(NicEvent::Committed { ballot: b, commit });
        }
    }

    fn reack(&mut self, sender: u8, b: Ballot, s: u64) {
        self.counters.bump(Counter::Reacked);
        self.send(
            sender,
            Message::Accepted { ballot: b, slot: s },
            Counter::TxAccepted,
        );
    }

    fn leader_receive(&mut self, frame: &[u8], header: Header, msg_type: MsgType) {
        let (b, s) = (header.ballot, header.slot);
        let ours = self.config.ballot;
        let outstanding = self.config.commit < s && s < self.config.next_slot;
        match msg_type {
            MsgType::Accepted if outstanding && (b == ours || self.bugs.commit_on_any_ack) => {
                self.count_ack(header.sender, s);
            }
            _ if b > ours => self.punt(frame, Counter::PuntHigherBallot),
            _ => self.counters.bump(Counter::DropPhase2),
        }
    }

    /// Row "Leader, ACCEPTED": set the sender's bit, then advance commit over
    /// contiguous slots with a quorum of bits.
    fn count_ack(&mut self, sender: u8, s: u64) {
        self.counters.bump(Counter::AckCounted);
        *self.acks.entry(s).or_insert(0) |= 1 << sender;
        self.advance_commit();
    }

    fn advance_commit(&mut self) {
        let before = self.config.commit;
        let quorum = self.quorum();
        while let Some(&bits) = self.acks.get(&(self.config.commit + 1)) {
            if bits.count_ones() < quorum {
                break;
            }
            self.acks.remove(&(self.config.commit + 1));
            self.config.commit += 1;
        }
        if self.config.commit > before {
            self.counters.bump(Counter::Committed);
            self.event(NicEvent::Committed {
                ballot: self.config.ballot,
                commit: self.config.commit,
            });
        }
    }

    fn submit(&mut self, value: Vec<u8>) {
        // Saturating: with the planted commit-on-any-ack bug, acks kept across
        // a `Configure` can carry commit past the slots assigned since.
        let in_flight = (self.config.next_slot - 1).saturating_sub(self.config.commit);
        if self.config.role != NicRole::Leader || in_flight >= self.config.window {
            // Software broke the contract (it tracks role and window itself):
            // refuse, and the missing `Accepted` record shows it.
            self.refused_commands += 1;
            return;
        }
        self.counters.bump(Counter::Submitted);
        let (ballot, slot, commit) = (
            self.config.ballot,
            self.config.next_slot,
            self.config.commit,
        );
        self.config.next_slot += 1;
        *self.acks.entry(slot).or_insert(0) |= 1 << self.id;
        self.event(NicEvent::Accepted {
            ballot,
            slot,
            value: value.clone(),
        });
        for to in self.followers() {
            let accept = Message::Accept {
                ballot,
                slot,
                commit,
                value: value.clone(),
            };
            self.send(to, accept, Counter::TxAccept);
        }
        // With one replica (or the minority-quorum bug) our own ack may suffice.
        self.advance_commit();
    }

    fn heartbeat(&mut self) {
        if self.config.role != NicRole::Leader {
            self.refused_commands += 1;
            return;
        }
        let (ballot, commit) = (self.config.ballot, self.config.commit);
        for to in self.followers() {
            self.send(to, Message::Commit { ballot, commit }, Counter::TxCommit);
        }
    }
}

/// The model never fails a host call: its methods are infallible, and the
/// traits wrap them.
impl ModelNic {
    /// Carries out a host-to-card command (a contract violation is counted:
    /// [`ModelNic::refused_commands`]).
    pub fn command(&mut self, command: NicCommand) {
        match command {
            NicCommand::Configure(config) => {
                self.base = config.next_slot;
                self.reported_commit = config.commit;
                if !self.bugs.commit_on_any_ack {
                    self.acks.clear();
                }
                self.config = config;
            }
            NicCommand::Fence { ballot } => {
                self.fence = self.fence.max(ballot);
                self.counters.bump(Counter::FenceDone);
                self.event(NicEvent::FenceDone { ballot });
            }
            NicCommand::Submit { value } => self.submit(value),
            NicCommand::Heartbeat => self.heartbeat(),
            NicCommand::Transmit { to, datagram } => {
                if self.send_datagram(to, &datagram) {
                    self.counters.bump(Counter::TxRaw);
                } else {
                    self.refused_commands += 1;
                }
            }
        }
    }

    /// A frame from the network: validated, counted, acted on or dropped.
    pub fn receive(&mut self, frame: &[u8]) {
        self.counters.bump(Counter::RxFrames);
        match validate(frame, self.own_port(), self.group) {
            Ok(valid) => self.receive_valid(frame, valid),
            Err(error) => {
                let counter = Counter::for_drop_reason(error.reason())
                    .expect("header validation only fails for reasons with counters");
                self.counters.bump(counter);
            }
        }
    }

    /// The next frame to put on the network, with the replica it is for.
    pub fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        self.transmit.pop_front()
    }

    /// The next record on the card-to-host stream.
    pub fn poll_host(&mut self) -> Option<CardToHost> {
        self.host.pop_front()
    }
}

impl NicHost for ModelNic {
    fn command(&mut self, command: NicCommand) -> Result<(), NicError> {
        ModelNic::command(self, command);
        Ok(())
    }

    fn poll_host(&mut self) -> Result<Option<CardToHost>, NicError> {
        Ok(ModelNic::poll_host(self))
    }
}

impl NicWire for ModelNic {
    fn receive(&mut self, frame: &[u8]) {
        ModelNic::receive(self, frame);
    }

    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        ModelNic::poll_transmit(self)
    }
}

impl ModelNic {
    fn own_port(&self) -> u16 {
        self.peers
            .get(usize::from(self.id))
            .map_or(UDP_PORT, |endpoint| endpoint.port)
    }
}
