//! The replica state machine. See `docs/protocol.md`.
//!
//! [`Replica::step`] takes one [`Input`] and returns the [`Output`]s it caused.
//! The work is split by protocol concern:
//! - [`log`]: the log and its replacement rules;
//! - [`election`]: failure detection, phase 1 with the NIC fence, the merge;
//! - [`phase2`]: NIC records, punted phase-2 frames, learning what is chosen;
//! - [`leader`]: the window, heartbeats, retransmission, stall re-election;
//! - [`catchup`]: fetching chosen entries a replica missed;
//! - [`recovery`]: rejoining after amnesia, and answering those who do;
//! - [`lives`]: which incarnation of each replica a message comes from;
//! - [`clients`]: sessions, read-index reads, applying and replying.

mod canonical;
mod catchup;
mod clients;
mod election;
mod leader;
mod lives;
mod log;
mod phase2;
mod recovery;
mod snapshot;

use std::collections::BTreeMap;

use riptide_wire::host::{NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::layout::MAX_PAYLOAD;
use riptide_wire::message::body::ENTRY_FIXED_LEN;
use riptide_wire::{Ballot, Entry, Message};

use crate::kv::{Command, KvStore, Reply};
use crate::rng::Rng;

use catchup::Catchup;
use election::{Candidacy, PromiseMade};
use leader::Leadership;
use log::Log;
pub use log::LogEntry;
use recovery::{Answering, Recovery};

/// Static configuration of one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// This replica's id, `0..replicas`.
    pub id: u8,
    /// Group size 2f+1.
    pub replicas: u8,
    pub group: u16,
    /// Seeds the replica's own randomness (election timeouts, the recovery
    /// nonce). Give each incarnation of a replica its own seed: a restarted
    /// replica with the same seed would reuse its previous recovery nonce.
    pub seed: u64,
    /// This life of the replica: 0 on a group's first boot, higher with every
    /// restart (a restarted replica raises it if a peer knew a higher one).
    pub incarnation: u32,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: u64,
    /// Election timeout is drawn uniformly from this range of ticks.
    pub election_ticks: (u64, u64),
    /// Ticks without commit progress before the leader retransmits.
    pub retransmit_ticks: u64,
    /// Most slots the leader keeps in flight.
    pub window: u64,
    /// Most slots the leader keeps in flight before client writes wait for
    /// one (0 counts as 1; above `window` the window is the limit): writes
    /// that arrive meanwhile share the next slot, so under load a slot
    /// carries a batch, and with fewer in flight a write is submitted at
    /// once (`docs/runtime.md`, "Batching").
    pub max_inflight: u64,
    /// Protocol variant; anything but [`Variant::Correct`] is a planted bug.
    pub variant: Variant,
    /// The operator's way out when more than f replicas lost their memory
    /// at once (`docs/protocol.md`, "More than f amnesiacs"): recovery
    /// completes once every replica listed here answered, even short of
    /// f+1. Empty (the default): f+1 answers, which is what keeps the log
    /// from forking.
    pub survivors: Vec<u8>,
    /// Applied entries between snapshots: once this many were applied since
    /// the last, the state machine (with its sessions) is snapshotted and
    /// the log up to it dropped (`docs/protocol.md`, "Snapshots and log
    /// compaction"). 0 never snapshots.
    pub snapshot_every: u64,
    /// Most client requests a leader holds at once (writes queued or in
    /// flight, gets waiting for their barrier); one more is answered
    /// `Reply::Busy`, so a flood of clients costs bounded memory.
    pub max_pending: usize,
}

impl ReplicaConfig {
    /// Replica `id` of a group of `replicas`, with the default timing: heartbeat
    /// every 5 ticks, election timeout 30..=60 ticks, retransmission after 10
    /// ticks without progress, a window of 64 slots of which
    /// [`DEFAULT_MAX_INFLIGHT`] fill at once, a snapshot every
    /// [`DEFAULT_SNAPSHOT_EVERY`] applied entries.
    pub fn new(id: u8, replicas: u8, group: u16, seed: u64) -> ReplicaConfig {
        ReplicaConfig {
            id,
            replicas,
            group,
            seed,
            incarnation: 0,
            heartbeat_ticks: 5,
            election_ticks: (30, 60),
            retransmit_ticks: 10,
            window: 64,
            max_inflight: DEFAULT_MAX_INFLIGHT,
            variant: Variant::Correct,
            survivors: Vec::new(),
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }

    /// A majority: f+1 of 2f+1.
    pub fn quorum(&self) -> usize {
        usize::from(self.replicas) / 2 + 1
    }
}

/// Slots a leader fills at once by default before writes start to share
/// one: chosen by measurement (`docs/runtime.md`, "Batching").
pub const DEFAULT_MAX_INFLIGHT: u64 = 2;

/// Applied entries between snapshots by default: at ~160 bytes an entry a
/// log of this many is under a megabyte, and a snapshot of a few thousand
/// keys costs about as much to take as the entries cost to apply.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 4096;

/// Client requests a leader holds at once by default: thousands of clients
/// with a request each, a few megabytes at the 16 KiB value limit... and
/// far more than the window needs to stay full.
pub const DEFAULT_MAX_PENDING: usize = 4096;

/// Host-side protocol variants. The planted bugs exist so the checkers and the
/// fault search can prove they catch them; they are never on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    #[default]
    Correct,
    /// Send PROMISE before the NIC fence completes.
    PromiseBeforeFence,
    /// A new leader keeps its own log instead of the highest-ballot value per slot.
    LeaderLogWins,
    /// Commit counted across ballots: a commit index learned from the leader
    /// of one ballot marks chosen every entry held up to it, whatever ballot
    /// it was accepted in (Raft's "figure 8" slip).
    CommitAcrossBallots,
    /// Lives ignored: a recovery is answered at once without a fence, crash
    /// vectors are neither merged nor checked, the NIC's lives table stays 0.
    StaleIncarnation,
    /// Only the recovery fence is gone: a recovery request is answered at
    /// once, promising nothing, while lives are kept everywhere else.
    UnfencedRecovery,
    /// Only the NIC's lives table is gone: the host keeps its crash vector
    /// but programs 0 for every peer, so the NIC counts acks of any life.
    NicIgnoresLives,
    /// A snapshot holds the map without the session table: a retry of a
    /// write executed before an install executes again.
    SnapshotDropsSessions,
}

/// What a replica is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Restarted with its state lost; collecting state before it may vote.
    Recovering,
    Follower,
    /// Running phase 1 for its own ballot.
    Candidate,
    Leader,
}

/// Inputs a replica reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One unit of logical time passed.
    Tick,
    /// A message from replica `from` (decoded from a punted frame or a
    /// socket), with its header's `LIFE` byte.
    Receive {
        from: u8,
        life: u8,
        message: Message,
    },
    /// A record from this replica's NIC.
    Nic(NicEvent),
    /// A client request that reached this replica.
    Client {
        client: u64,
        request: u64,
        command: Command,
    },
}

/// Effects a replica asks its caller to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a message to replica `to`.
    Send { to: u8, message: Message },
    /// Command this replica's NIC.
    Nic(NicCommand),
    /// The entry in `slot` is chosen and was applied to the state machine, in
    /// slot order (the agreement checker watches these).
    Applied { slot: u64, value: Vec<u8> },
    /// A snapshot of every slot up to `slot` was installed in place of
    /// applying them: the next `Applied` is `slot + 1`.
    /// `state` is the snapshot's bytes ([`crate::kv::KvStore::snapshot`]).
    Installed { slot: u64, state: Vec<u8> },
    /// Answer a client.
    Reply {
        client: u64,
        request: u64,
        reply: Reply,
    },
}

/// A snapshot of a replica's state for logs, status dumps and checkers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: u8,
    pub role: Role,
    pub promised: riptide_wire::Ballot,
    pub commit: u64,
    pub applied: u64,
}

/// What a replica is doing, with the state only that role has.
#[derive(Debug, Clone)]
enum State {
    Recovering(Recovery),
    Follower,
    Candidate(Candidacy),
    Leader(Leadership),
}

/// What this replica last programmed into its NIC, advanced by the NIC's own
/// records (a follower NIC's next slot moves as it accepts).
#[derive(Debug, Clone, Copy)]
struct NicView {
    role: NicRole,
    ballot: Ballot,
    next_slot: u64,
}

/// One replica's control plane. See the module docs and `docs/protocol.md`.
/// `Clone` and `Debug` let the model checker (`mc/`) branch on a replica's
/// state and fingerprint it ([`Replica::write_canonical`]).
#[derive(Debug, Clone)]
pub struct Replica {
    cfg: ReplicaConfig,
    rng: Rng,
    state: State,
    /// Highest ballot this replica promised (or accepted at): it votes for
    /// nothing below it.
    promised: Ballot,
    /// After amnesia: the highest ballot the others reported; this replica
    /// votes only strictly above it (its forgotten promises may reach it).
    vote_floor: Ballot,
    /// After amnesia: the highest commit the others reported. This replica
    /// may not promise before its commit reaches it: until then its log may
    /// lack chosen values it once accepted.
    recovered_commit: u64,
    log: Log,
    kv: KvStore,
    applied: u64,
    /// Highest commit index heard from anyone; above our commit means catch up.
    known_commit: u64,
    /// The highest ballot a commit index was heard under, and that index:
    /// entries of that ballot arriving later in a slot up to it are chosen.
    heard: (Ballot, u64),
    nic: NicView,
    now: u64,
    election_deadline: u64,
    /// A promise waiting for its fence: (ballot, candidate, candidate's commit).
    pending_promise: Option<PromiseMade>,
    /// The promise sent last, re-sent if its PREPARE is retransmitted.
    promise_made: Option<PromiseMade>,
    catchup: Catchup,
    /// The crash vector: the highest incarnation known of each replica,
    /// ours included. Entries never go back.
    lives: Vec<u32>,
    /// The state machine at the log's base, encoded, to serve to replicas
    /// that need slots we dropped.
    snapshot: Option<snapshot::Snapshot>,
    /// Recoveries of others this replica fenced for, by requester.
    answering: BTreeMap<u8, Answering>,
    /// Outputs of the current step, in order.
    out: Vec<Output>,
}

/// Byte budget of the entries a message may carry: a datagram's payload less
/// room for the other body fields.
const ENTRIES_BUDGET: usize = MAX_PAYLOAD - 64;

/// Whether `entries` fit one datagram's body.
fn entries_fit(entries: &[Entry]) -> bool {
    entries_len(entries) <= ENTRIES_BUDGET
}

fn entries_len(entries: &[Entry]) -> usize {
    2 + entries
        .iter()
        .map(|entry| ENTRY_FIXED_LEN + entry.value.len())
        .sum::<usize>()
}

impl Replica {
    /// A replica booting with its group for the first time: empty log, no
    /// promises, voting at once.
    pub fn new(cfg: ReplicaConfig) -> Replica {
        let mut replica = Replica::blank(cfg);
        replica.arm_election_timer();
        replica
    }

    /// A replica restarting after losing its state (amnesia): it runs recovery
    /// before it may vote. Its first step idles the NIC and asks the others.
    /// Its incarnation is at least 1 (`cfg.incarnation` is the caller's best
    /// knowledge; recovery raises it if a peer knew a higher one).
    pub fn restarted(cfg: ReplicaConfig) -> Replica {
        let cfg = ReplicaConfig {
            incarnation: cfg.incarnation.max(1),
            ..cfg
        };
        let mut replica = Replica::blank(cfg);
        let nonce = Recovery::nonce(replica.incarnation(), replica.rng.next_u64());
        replica.state = State::Recovering(Recovery::new(nonce));
        replica
    }

    fn blank(cfg: ReplicaConfig) -> Replica {
        let mut lives = vec![0; usize::from(cfg.replicas)];
        lives[usize::from(cfg.id)] = cfg.incarnation;
        Replica {
            rng: Rng::new(cfg.seed),
            state: State::Follower,
            promised: Ballot::ZERO,
            vote_floor: Ballot::ZERO,
            recovered_commit: 0,
            log: Log::default(),
            kv: KvStore::new(),
            applied: 0,
            known_commit: 0,
            heard: (Ballot::ZERO, 0),
            nic: NicView {
                role: NicRole::Idle,
                ballot: Ballot::ZERO,
                next_slot: 1,
            },
            now: 0,
            election_deadline: 0,
            pending_promise: None,
            promise_made: None,
            catchup: Catchup::default(),
            snapshot: None,
            lives,
            answering: BTreeMap::new(),
            out: Vec::new(),
            cfg,
        }
    }

    /// React to one input; returns what the caller must carry out, in order.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        #[cfg(debug_assertions)]
        let lives_before = self.lives.clone();
        match input {
            Input::Tick => self.tick(),
            Input::Receive {
                from,
                life,
                message,
            } => self.receive(from, life, message),
            Input::Nic(event) => self.nic_event(event),
            Input::Client {
                client,
                request,
                command,
            } => self.client_request(client, request, command),
        }
        self.settle();
        #[cfg(debug_assertions)]
        {
            self.invariants();
            let went_back = lives_before.iter().zip(&self.lives).any(|(b, a)| a < b);
            assert!(
                !went_back,
                "lives went back: {lives_before:?} -> {:?}",
                self.lives
            );
        }
        std::mem::take(&mut self.out)
    }

    /// What must hold between any two steps; `step` checks it in debug and
    /// test builds. Panics with the broken invariant.
    pub fn invariants(&self) {
        let (applied, commit) = (self.applied, self.log.commit());
        assert!(applied <= commit, "applied {applied} > commit {commit}");
        assert!(
            commit <= self.log.last_slot(),
            "commit {commit} past the last slot {}",
            self.log.last_slot()
        );
        assert!(
            self.vote_floor <= self.promised,
            "vote floor {:?} above promised {:?}",
            self.vote_floor,
            self.promised
        );
        assert!(
            self.nic.ballot <= self.promised,
            "NIC programmed at {:?} above promised {:?}",
            self.nic.ballot,
            self.promised
        );
        assert!(
            self.log.base() <= applied,
            "log compacted to {} past applied {applied}",
            self.log.base()
        );
        assert_eq!(
            self.snapshot_slot(),
            self.log.base(),
            "the snapshot and the log's base are one slot"
        );
        assert_eq!(self.lives.len(), usize::from(self.cfg.replicas));
        if self.role() == Role::Leader {
            assert_eq!(self.nic.role, NicRole::Leader, "a leader's NIC leads");
        }
    }

    fn role(&self) -> Role {
        match self.state {
            State::Recovering(_) => Role::Recovering,
            State::Follower => Role::Follower,
            State::Candidate(_) => Role::Candidate,
            State::Leader(_) => Role::Leader,
        }
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role(),
            promised: self.promised,
            commit: self.log.commit(),
            applied: self.applied,
        }
    }

    /// The log, in slot order: every entry this replica holds.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &LogEntry)> {
        self.log.iter()
    }

    /// The values a leader holds for slots it has not submitted yet, as they
    /// will be proposed: a checker must count a write waiting here as still
    /// carried (with `max_inflight` slots in flight, writes wait to batch).
    pub fn queued_values(&self) -> Vec<Vec<u8>> {
        let State::Leader(leadership) = &self.state else {
            return Vec::new();
        };
        leadership
            .queue
            .iter()
            .map(|queued| queued.clone().into_value())
            .collect()
    }

    /// Highest slot such that every slot up to it is chosen and held here.
    pub fn commit(&self) -> u64 {
        self.log.commit()
    }

    /// Highest slot applied to the state machine.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The state machine (read-only), for checkers and status dumps.
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// After amnesia, the ballot this replica votes strictly above.
    pub fn vote_floor(&self) -> Ballot {
        self.vote_floor
    }

    /// Whether this replica holds its share of the group's state again: not
    /// recovering, and (after amnesia) caught up to the commit the others
    /// reported, so it may vote. Until then, it does not count as a copy of
    /// the chosen values: losing another replica's state before this is true
    /// loses f+1 replicas' state.
    pub fn recovered(&self) -> bool {
        self.may_vote()
    }

    pub fn config(&self) -> &ReplicaConfig {
        &self.cfg
    }

    fn tick(&mut self) {
        self.now += 1;
        match self.role() {
            Role::Recovering => {}
            Role::Follower => self.follower_tick(),
            Role::Candidate => self.candidate_tick(),
            Role::Leader => self.leader_tick(),
        }
    }

    fn receive(&mut self, from: u8, life: u8, message: Message) {
        if from >= self.cfg.replicas || from == self.cfg.id {
            return;
        }
        let knew = self.lives[usize::from(from)];
        if let Message::RecoveryRequest { nonce, lives } = &message
            && self.asks_from_a_gone_life(from, lives)
        {
            return self.tell_gone_life(from, *nonce, knew);
        }
        if !self.admit(from, life, &message) {
            return;
        }
        if self.role() == Role::Recovering {
            return self.receive_while_recovering(from, message);
        }
        match message {
            Message::Accept {
                ballot,
                slot,
                commit,
                value,
            } => self.punted_accept(from, ballot, slot, commit, value),
            Message::Accepted { ballot, .. } | Message::Nack { ballot, .. } => {
                self.observe_ballot(ballot)
            }
            Message::Commit { ballot, commit } => self.punted_commit(from, ballot, commit),
            Message::Prepare { ballot, commit, .. } => self.prepare(from, ballot, commit),
            Message::Promise {
                ballot,
                commit,
                entries,
                ..
            } => self.promise(from, ballot, commit, entries),
            Message::CatchupRequest { from: slot, .. } => self.catchup_request(from, slot),
            Message::CatchupResponse {
                commit, entries, ..
            } => self.catchup_response(from, commit, entries),
            Message::RecoveryRequest { nonce, .. } => self.recovery_request(from, nonce, knew),
            Message::SnapshotRequest { slot, offset, .. } => {
                self.snapshot_request(from, slot, offset)
            }
            Message::SnapshotChunk {
                slot,
                commit,
                total,
                offset,
                data,
                ..
            } => self.snapshot_chunk(from, slot, commit, (total, offset), data),
            // Only a recovering replica wants these; clients do not talk to
            // replicas over the replica network.
            Message::RecoveryResponse { .. }
            | Message::ClientRequest { .. }
            | Message::ClientReply { .. } => {}
        }
    }

    fn nic_event(&mut self, event: NicEvent) {
        match event {
            NicEvent::Accepted {
                ballot,
                slot,
                value,
            } => self.nic_accepted(ballot, slot, value),
            NicEvent::Committed { ballot, commit } => self.nic_committed(ballot, commit),
            NicEvent::FenceDone { ballot } => {
                self.fence_done(ballot);
                self.answer_fenced_recoveries(ballot);
            }
        }
    }

    /// Work that follows any input: learn, apply, refill the window, answer
    /// reads, finish phase 1, ask for missing entries.
    fn settle(&mut self) {
        if self.role() == Role::Recovering {
            return self.recovery_requests();
        }
        self.apply_chosen();
        self.maybe_snapshot();
        if self.role() == Role::Candidate {
            self.try_finish_phase1();
        }
        if self.role() == Role::Leader {
            self.answer_reads();
            self.submit_ready();
        }
        self.maybe_catch_up();
    }

    fn send(&mut self, to: u8, message: Message) {
        self.out.push(Output::Send { to, message });
    }

    /// Tells `to` the ballot we promised: its message was of a lower one.
    fn nack(&mut self, to: u8, slot: u64) {
        let ballot = self.promised;
        self.send(to, Message::Nack { ballot, slot });
    }

    fn broadcast(&mut self, message: Message) {
        let me = self.cfg.id;
        for to in (0..self.cfg.replicas).filter(|&to| to != me) {
            self.send(to, message.clone());
        }
    }

    fn nic_command(&mut self, command: NicCommand) {
        self.out.push(Output::Nic(command));
    }

    fn configure_nic(&mut self, role: NicRole, ballot: Ballot, next_slot: u64, commit: u64) {
        self.nic = NicView {
            role,
            ballot,
            next_slot,
        };
        self.nic_command(NicCommand::Configure(NicConfig {
            role,
            ballot,
            next_slot,
            commit,
            replicas: self.cfg.replicas,
            window: self.cfg.window,
            lives: self.nic_lives(),
        }));
    }

    /// Redraw the election timeout and restart it from now.
    fn arm_election_timer(&mut self) {
        let (lo, hi) = self.cfg.election_ticks;
        self.election_deadline = self.now + self.rng.range_inclusive(lo, hi.max(lo));
    }

    /// Whether this replica may promise: not before a recovered replica has
    /// caught up to what the others had chosen (see `recovered_commit`).
    fn may_vote(&self) -> bool {
        self.role() != Role::Recovering && self.log.commit() >= self.recovered_commit
    }

    /// Who clients should try: the leader of the promised ballot, if that is
    /// someone else.
    fn leader_hint(&self) -> Option<u8> {
        match self.role() {
            Role::Follower if self.promised != Ballot::ZERO => {
                Some(self.promised.leader()).filter(|&id| id != self.cfg.id)
            }
            _ => None,
        }
    }
}
