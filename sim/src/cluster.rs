//! The simulated cluster and its discrete-event loop: one queue of timed
//! events, virtual time in microseconds, every random choice drawn from
//! streams of the run's seed, every checker fed as the run goes.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use riptide_control::kv::{Command, Reply};
use riptide_control::{Input, Output, ReplicaConfig, Role};
use riptide_wire::host::{CardToHost, NicCommand};

use crate::check::agreement::{AgreementChecker, Application};
use crate::check::chosen::ChosenChecker;
use crate::check::liveness::{LivenessChecker, PendingOp, Stall};
use crate::check::{Check, show_value};
use crate::client::{Client, ClientAction, Workload};
use crate::config::{FaultPlan, SimConfig};
use crate::faults::{CrashMode, FaultSchedule};
use crate::history::{HistoryRecorder, Output as OpOutput};
use crate::latency::Micros;
use crate::ldfi::lineage::Lineage;
use crate::linearizability;
use crate::network::Network;
use crate::node::{NicEffects, Node};
use crate::report::{Checks, SimReport, Stats};
use crate::rng::{self, Rng};
use crate::timeline::Timeline;
use crate::trace::TraceHash;

/// The replica group id every simulated replica uses.
const GROUP: u16 = 1;

/// Something that happens at an instant of virtual time.
#[derive(Debug)]
enum Event {
    /// Every live replica gets `Input::Tick`; periodic checks run.
    Tick,
    /// A frame reaches replica `to`'s NIC from the wire.
    Frame {
        from: u8,
        to: u8,
        frame: Vec<u8>,
    },
    /// A host-to-card command takes effect on a NIC.
    HostToCard {
        node: u8,
        incarnation: u32,
        command: NicCommand,
    },
    /// A card-to-host record reaches host software.
    CardToHost {
        node: u8,
        incarnation: u32,
        record: CardToHost,
    },
    /// A client request reaches a replica's host.
    Request {
        node: u8,
        client: u64,
        request: u64,
        command: Command,
    },
    /// A replica's reply reaches its client.
    Reply {
        from: u8,
        client: u64,
        request: u64,
        reply: Reply,
    },
    /// A client's think time is over: it issues its next operation.
    ClientStart {
        client: usize,
    },
    /// A client's send `attempt` of `request` went unanswered for too long.
    ClientTimeout {
        client: usize,
        request: u64,
        attempt: u32,
    },
    Crash {
        node: u8,
        mode: CrashMode,
    },
    Restart {
        node: u8,
        mode: CrashMode,
    },
    /// A replica whose clock drifts gets `Input::Tick` on its own period.
    DriftingTick {
        node: u8,
    },
}

impl Event {
    /// Feeds what identifies this event into the run's trace hash.
    fn trace(&self, hash: &mut TraceHash) {
        match self {
            Event::Tick => hash.add(&[0]),
            Event::Frame { from, to, frame } => {
                hash.add(&[1, *from, *to]);
                hash.add(frame);
            }
            Event::HostToCard { node, .. } => hash.add(&[2, *node]),
            Event::CardToHost { node, .. } => hash.add(&[3, *node]),
            Event::Request {
                node,
                client,
                request,
                ..
            } => {
                hash.add(&[4, *node]);
                hash.add_u64(*client);
                hash.add_u64(*request);
            }
            Event::Reply {
                from,
                client,
                request,
                ..
            } => {
                hash.add(&[5, *from]);
                hash.add_u64(*client);
                hash.add_u64(*request);
            }
            Event::ClientStart { client } => hash.add_u64(6 << 32 | *client as u64),
            Event::ClientTimeout {
                client, request, ..
            } => {
                hash.add_u64(7 << 32 | *client as u64);
                hash.add_u64(*request);
            }
            Event::Crash { node, mode } => hash.add(&[&[8, *node], mode_tag(*mode)].concat()),
            Event::Restart { node, mode } => hash.add(&[&[9, *node], mode_tag(*mode)].concat()),
            Event::DriftingTick { node } => hash.add(&[10, *node]),
        }
    }
}

/// A plain crash adds nothing, so runs without the newer crash flavours keep
/// their trace hashes.
fn mode_tag(mode: CrashMode) -> &'static [u8] {
    match mode {
        CrashMode::Full => &[],
        CrashMode::Wipe => &[1],
        CrashMode::HostOnly => &[2],
    }
}

/// Events ordered by time, then by when they were scheduled, so equal times
/// replay in one order.
#[derive(Debug, Default)]
struct EventQueue {
    heap: BinaryHeap<Reverse<(Micros, u64)>>,
    events: std::collections::BTreeMap<u64, Event>,
    next_seq: u64,
}

impl EventQueue {
    fn push(&mut self, at: Micros, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse((at, seq)));
        self.events.insert(seq, event);
    }

    fn pop(&mut self) -> Option<(Micros, Event)> {
        let Reverse((at, seq)) = self.heap.pop()?;
        let event = self
            .events
            .remove(&seq)
            .expect("every queued seq has its event");
        Some((at, event))
    }
}

pub struct Cluster<'a> {
    config: &'a SimConfig,
    schedule: FaultSchedule,
    now: Micros,
    queue: EventQueue,
    nodes: Vec<Node>,
    network: Network,
    clients: Vec<Client>,
    workload: Workload,
    mean_think_us: Micros,
    restart_seeds: Rng,
    history: HistoryRecorder,
    issued: u64,
    agreement: AgreementChecker,
    chosen: ChosenChecker,
    liveness: LivenessChecker,
    liveness_result: Check<crate::check::liveness::LivenessViolation>,
    /// The documented stop of a group that lost f+1 replicas' state, if the
    /// run ended in it.
    stall: Option<Stall>,
    /// Each replica's tick period if its clock drifts, else `None` (it
    /// ticks with the others).
    drift_tick_us: Vec<Option<Micros>>,
    /// The first reply that did not fit its operation.
    bad_reply: Check<String>,
    leader_ballots: BTreeSet<u64>,
    stats: Stats,
    /// The event log, if `SimConfig::log` asks for one.
    log: Option<Vec<String>>,
    timeline: Option<Timeline>,
    trace: TraceHash,
    /// What supported each outcome, if the run is traced for fault search.
    lineage: Option<Lineage>,
}

impl<'a> Cluster<'a> {
    pub fn new(config: &'a SimConfig) -> Cluster<'a> {
        let schedule = config.schedule();
        let latency = &config.latency;
        let mut replica_seeds = rng::stream(config.seed, "replicas");
        let nodes = (0..config.replicas)
            .map(|id| {
                Node::boot(
                    replica_config(config, id, replica_seeds.next_u64()),
                    config.nic.of(id),
                    config.variant.nic(),
                )
            })
            .collect();
        let mut cluster = Cluster {
            config,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            network: Network::new(latency.clone(), rng::stream(config.seed, "network")),
            clients: (0..config.clients)
                .map(|id| Client::new(u64::from(id), config.replicas))
                .collect(),
            workload: Workload::new(rng::stream(config.seed, "workload"), config.keys),
            mean_think_us: config.mean_think_us(schedule.heal_us),
            restart_seeds: rng::stream(config.seed, "restarts"),
            history: HistoryRecorder::new(),
            issued: 0,
            agreement: AgreementChecker::new(),
            chosen: ChosenChecker::new(config.replicas),
            liveness: LivenessChecker::new(
                schedule.heal_us,
                config.liveness_ticks * latency.tick_us,
            ),
            liveness_result: Check::Passed,
            stall: None,
            drift_tick_us: (0..config.replicas)
                .map(|id| match schedule.drift_permille(id) {
                    0 => None,
                    permille => Some(drifted_tick_us(latency.tick_us, permille)),
                })
                .collect(),
            bad_reply: Check::Passed,
            leader_ballots: BTreeSet::new(),
            stats: Stats {
                ops_total: config.ops,
                ..Stats::default()
            },
            trace: TraceHash::new(),
            log: config.log.then(Vec::new),
            timeline: config
                .timeline
                .then(|| Timeline::new(config.replicas, GROUP)),
            lineage: None,
            schedule,
        };
        cluster.queue.push(latency.tick_us, Event::Tick);
        for node in 0..config.replicas {
            if let Some(period) = cluster.drift_tick_us[usize::from(node)] {
                cluster.queue.push(period, Event::DriftingTick { node });
                let permille = cluster.schedule.drift_permille(node);
                cluster.mark(
                    node,
                    &format!("clock drift {permille:+} permille: tick {period} us"),
                );
            }
        }
        for crash in cluster.schedule.crash_events().collect::<Vec<_>>() {
            let (node, mode) = (crash.replica, crash.mode);
            cluster.queue.push(crash.at_us, Event::Crash { node, mode });
            cluster
                .queue
                .push(crash.restart_us, Event::Restart { node, mode });
        }
        for client in 0..cluster.clients.len() {
            let start = cluster.workload.think(cluster.mean_think_us / 2);
            cluster.queue.push(start, Event::ClientStart { client });
        }
        cluster
    }

    /// Records the run's lineage (frames sent, slots applied, crashes and
    /// restarts) for [`Cluster::run_traced`]; recording does not change what
    /// the run does.
    pub fn with_lineage(mut self) -> Cluster<'a> {
        self.lineage = Some(Lineage::new(GROUP));
        self
    }

    /// Runs until every operation completed, a safety checker fired, or an
    /// operation missed its liveness deadline.
    pub fn run(self, progress: &mut dyn FnMut(u64, u64)) -> SimReport {
        self.run_traced(progress).0
    }

    /// [`Cluster::run`], also returning the lineage if it was recorded.
    pub fn run_traced(
        mut self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> (SimReport, Option<Lineage>) {
        while let Some((at, event)) = self.queue.pop() {
            self.now = at;
            self.trace.add_u64(at);
            event.trace(&mut self.trace);
            self.handle(event, progress);
            let safe = self.agreement.result().passed() && self.chosen.result().passed();
            // With every operation done, the run goes on until every replica
            // that is up holds its state again, or its rejoin deadline says
            // it never will.
            let done = self.stats.ops_completed == self.config.ops
                && (self.stats.crashes_beyond_f > 0 || self.stragglers().next().is_none());
            if !safe || !self.liveness_result.passed() || self.stall.is_some() || done {
                break;
            }
        }
        let lineage = self.lineage.take();
        (self.finish(), lineage)
    }

    /// Replicas up but without their state (recovering, or not caught up):
    /// (id, incarnation, up since).
    fn stragglers(&self) -> impl Iterator<Item = (u8, u32, Micros)> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.up && n.without_state())
            .map(|n| (n.id, n.replica_incarnation(), n.up_since))
    }

    fn handle(&mut self, event: Event, progress: &mut dyn FnMut(u64, u64)) {
        match event {
            Event::Tick => self.tick(),
            Event::Frame { from, to, frame } => self.frame_arrives(from, to, &frame),
            Event::HostToCard {
                node,
                incarnation,
                command,
            } => {
                if self.alive(node, incarnation) {
                    let effects = self.nodes[node as usize].nic_command(
                        self.now,
                        command,
                        &self.config.latency,
                    );
                    self.nic_effects(node, effects);
                }
            }
            Event::CardToHost {
                node,
                incarnation,
                record,
            } => {
                if self.alive(node, incarnation) {
                    self.card_to_host(node, record);
                }
            }
            Event::Request {
                node,
                client,
                request,
                command,
            } => {
                if let Some(timeline) = &mut self.timeline {
                    timeline.request(self.now, node, client, request, &command);
                }
                if self.nodes[node as usize].up {
                    self.host_step(
                        node,
                        Input::Client {
                            client,
                            request,
                            command,
                        },
                    );
                } else {
                    self.stats.lost_to_crashes += 1;
                }
            }
            Event::Reply {
                from,
                client,
                request,
                reply,
            } => {
                let retry_us = self.config.latency.tick_us;
                let action = self.clients[client as usize].reply(from, request, reply, retry_us);
                self.client_action(client as usize, action, progress);
            }
            Event::ClientStart { client } => self.client_start(client),
            Event::ClientTimeout {
                client,
                request,
                attempt,
            } => {
                let action = self.clients[client].timeout(request, attempt);
                self.client_action(client, action, progress);
            }
            Event::Crash { node, mode } => self.crash(node, mode),
            Event::Restart { node, mode } => {
                // A skipped crash has nothing to restart.
                if !self.nodes[node as usize].up {
                    let seed = self.restart_seeds.next_u64();
                    let knows_incarnation = mode != CrashMode::Wipe;
                    self.nodes[node as usize].restart(self.now, seed, knows_incarnation);
                    self.chosen.restarted(node);
                    if let Some(lineage) = &mut self.lineage {
                        lineage.restarted(node, self.now);
                    }
                    let what = match mode {
                        CrashMode::Full => "RESTART (amnesia)",
                        CrashMode::Wipe => "RESTART (amnesia, no state record: guesses life 1)",
                        CrashMode::HostOnly => "RESTART (host amnesia, NIC kept)",
                    };
                    self.note(format!("{what} r{node}"));
                    self.mark(node, what);
                }
            }
            Event::DriftingTick { node } => {
                if self.nodes[node as usize].up {
                    self.host_step(node, Input::Tick);
                }
                let period = self.drift_tick_us[usize::from(node)]
                    .expect("only a drifting replica has its own ticks");
                self.queue
                    .push(self.now + period, Event::DriftingTick { node });
            }
        }
    }

    /// Crashes `node`, unless that would leave more than f replicas without
    /// their state (down, or restarted and not yet caught up): no protocol
    /// without stable storage survives that (`docs/protocol.md`). A schedule cannot promise this by timing alone
    /// (recovery may wait out a partition), so it is enforced here; skipped
    /// crashes are counted. A schedule with `Fault::BeyondF` asks for those
    /// crashes to happen all the same.
    fn crash(&mut self, node: u8, mode: CrashMode) {
        if !self.nodes[node as usize].up {
            self.stats.crashes_skipped += 1;
            self.note(format!("crash of r{node} skipped: already down"));
            return;
        }
        let stateless = self
            .nodes
            .iter()
            .filter(|n| n.id != node && n.without_state())
            .count();
        if stateless >= self.f() {
            if !self.schedule.beyond_f() {
                self.stats.crashes_skipped += 1;
                self.note(format!(
                    "crash of r{node} skipped: f replicas without state"
                ));
                return;
            }
            self.stats.crashes_beyond_f += 1;
        }
        self.stats.crashes += 1;
        if let Some(lineage) = &mut self.lineage {
            lineage.crashed(node, self.now);
        }
        let what = match mode {
            CrashMode::Full => "CRASH",
            CrashMode::Wipe => {
                self.stats.wipes += 1;
                "CRASH (and its state record)"
            }
            CrashMode::HostOnly => {
                self.stats.host_crashes += 1;
                "CRASH (host only, NIC survives)"
            }
        };
        let what = if stateless >= self.f() {
            format!("{what}, past f without state")
        } else {
            what.to_string()
        };
        self.note(format!("{what} r{node}"));
        self.mark(node, &what);
        self.nodes[node as usize].crash(mode == CrashMode::HostOnly);
    }

    fn f(&self) -> usize {
        usize::from((self.config.replicas - 1) / 2)
    }

    fn alive(&mut self, node: u8, incarnation: u32) -> bool {
        let n = &self.nodes[node as usize];
        let alive = n.up && n.incarnation == incarnation;
        if !alive {
            self.stats.lost_to_crashes += 1;
        }
        alive
    }

    fn tick(&mut self) {
        for node in 0..self.config.replicas {
            let drifts = self.drift_tick_us[usize::from(node)].is_some();
            if self.nodes[node as usize].up && !drifts {
                self.host_step(node, Input::Tick);
            }
        }
        let entries = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .flat_map(Node::held_entries);
        self.chosen.logs(self.now, entries);
        let overdue = self.clients.iter().any(|c| {
            c.in_flight
                .as_ref()
                .is_some_and(|f| self.liveness.deadline(f.invoked_us) < self.now)
        });
        if overdue {
            let pending: Vec<PendingOp> = self.pending_ops().collect();
            let without_state: Vec<u8> = self
                .nodes
                .iter()
                .filter(|n| n.without_state())
                .map(|n| n.id)
                .collect();
            // Only a crash carried out past f can leave f+1 replicas without
            // state; otherwise a stall is a liveness bug whatever the group
            // looks like.
            let stall = (self.stats.crashes_beyond_f > 0)
                .then(|| {
                    self.liveness
                        .stall(self.now, &pending, &without_state, self.config.replicas)
                })
                .flatten();
            match stall {
                Some(stall) => {
                    self.note(format!("STALL (documented): {stall}"));
                    self.stall = Some(stall);
                }
                None => self.liveness_result = self.liveness.check(self.now, &pending),
            }
        }
        // Past f, a replica that cannot recover is the documented stall.
        if self.liveness_result.passed() && self.stats.crashes_beyond_f == 0 {
            let stragglers: Vec<(u8, u32, Micros)> = self.stragglers().collect();
            self.liveness_result = self.liveness.check_rejoined(self.now, stragglers);
        }
        self.queue
            .push(self.now + self.config.latency.tick_us, Event::Tick);
    }

    fn pending_ops(&self) -> impl Iterator<Item = PendingOp> + '_ {
        self.clients.iter().filter_map(|client| {
            client.in_flight.as_ref().map(|f| PendingOp {
                client: client.id,
                request: f.request,
                operation: format!("{:?}", f.command),
                invoked_us: f.invoked_us,
            })
        })
    }

    fn frame_arrives(&mut self, from: u8, to: u8, frame: &[u8]) {
        if !self
            .network
            .frame_arrives(&self.schedule, from, to, self.now)
        {
            return;
        }
        if !self.nodes[to as usize].nic_up {
            self.stats.lost_to_crashes += 1;
            return;
        }
        if !self.nodes[to as usize].up {
            self.stats.frames_to_orphan_nics += 1;
        }
        if let Some(timeline) = &mut self.timeline {
            timeline.delivered(from, to, self.now, frame);
        }
        let effects = self.nodes[to as usize].nic_receive(self.now, frame, &self.config.latency);
        self.nic_effects(to, effects);
    }

    /// Puts a NIC's frames on the network and its records on the DMA stream.
    fn nic_effects(&mut self, node: u8, effects: NicEffects) {
        for (to, frame) in effects.frames {
            if usize::from(to) >= self.nodes.len() || to == node {
                self.stats.malformed += 1;
                continue;
            }
            let arrivals = self.network.send_frame(&self.schedule, node, to, self.now);
            if let Some(lineage) = &mut self.lineage {
                lineage.sent(node, to, self.now, &frame, &arrivals);
            }
            if let Some(timeline) = &mut self.timeline {
                timeline.sent(node, to, self.now, &frame, &arrivals);
            }
            for at in arrivals {
                self.queue.push(
                    at,
                    Event::Frame {
                        from: node,
                        to,
                        frame: frame.clone(),
                    },
                );
            }
        }
        let incarnation = self.nodes[node as usize].incarnation;
        for (at, record) in effects.records {
            self.queue.push(
                at,
                Event::CardToHost {
                    node,
                    incarnation,
                    record,
                },
            );
        }
    }

    fn card_to_host(&mut self, node: u8, record: CardToHost) {
        let input = match record {
            CardToHost::Event(event) => Input::Nic(event),
            CardToHost::Punted(frame) => match self.nodes[node as usize].punted(&frame) {
                Ok(input) => input,
                Err(_) => {
                    self.stats.malformed += 1;
                    return;
                }
            },
        };
        self.host_step(node, input);
    }

    /// Feeds the control plane one input and carries out its outputs.
    fn host_step(&mut self, node: u8, input: Input) {
        let shown = self.log.is_some().then(|| format!("{input:?}"));
        let outputs = self.nodes[node as usize].step(input);
        if let Some(input) = shown.filter(|i| i != "Tick" || !outputs.is_empty()) {
            let n = &self.nodes[node as usize];
            let line = format!("r{}#{} {:?} <- {input}", node, n.incarnation, n.role());
            self.note(line);
            for output in &outputs {
                let line = match output {
                    Output::Applied { slot, value } => {
                        format!("    -> Applied slot {slot}: {}", show_value(value))
                    }
                    other => format!("    -> {other:?}"),
                };
                self.note(line);
            }
        }
        for output in outputs {
            match output {
                Output::Send { to, message } => {
                    let command = self.nodes[node as usize].transmit(to, message);
                    self.send_to_card(node, command);
                }
                Output::Nic(command) => self.send_to_card(node, command),
                Output::Applied { slot, value } => {
                    if let Some(lineage) = &mut self.lineage {
                        let leading = self.nodes[node as usize].role() == Role::Leader;
                        lineage.applied(node, slot, &value, self.now, leading);
                    }
                    if let Some(timeline) = &mut self.timeline {
                        timeline.applied(self.now, node, slot, &value);
                    }
                    self.applied(node, slot, value)
                }
                Output::Installed { slot, state } => {
                    self.stats.installs += 1;
                    let application = Application {
                        replica: node,
                        incarnation: self.nodes[node as usize].incarnation,
                        time_us: self.now,
                        value: state,
                    };
                    self.agreement.installed(slot, application);
                }
                Output::Reply {
                    client,
                    request,
                    reply,
                } => {
                    if client >= self.clients.len() as u64 {
                        continue;
                    }
                    for at in self.network.send_client(&self.schedule, self.now) {
                        let reply = reply.clone();
                        self.queue.push(
                            at,
                            Event::Reply {
                                from: node,
                                client,
                                request,
                                reply,
                            },
                        );
                    }
                }
            }
        }
        let n = &self.nodes[node as usize];
        if n.role() == Role::Leader && self.leader_ballots.insert(n.ballot()) {
            self.stats.elections += 1;
        }
    }

    /// Marks something that happened at replica `node` on the timeline, if
    /// the run draws one.
    fn mark(&mut self, node: u8, text: &str) {
        if let Some(timeline) = &mut self.timeline {
            timeline.note(self.now, node, text);
        }
    }

    /// Adds a line to the event log, if the run keeps one.
    fn note(&mut self, line: String) {
        if let Some(log) = &mut self.log {
            log.push(format!("{:>8} {line}", self.now));
        }
    }

    fn send_to_card(&mut self, node: u8, command: NicCommand) {
        let n = &mut self.nodes[node as usize];
        let at = n.host_to_card_at(self.now, &self.config.latency);
        let incarnation = n.incarnation;
        self.queue.push(
            at,
            Event::HostToCard {
                node,
                incarnation,
                command,
            },
        );
    }

    fn applied(&mut self, node: u8, slot: u64, value: Vec<u8>) {
        self.chosen.applied(self.now, node, slot, &value);
        let application = Application {
            replica: node,
            incarnation: self.nodes[node as usize].incarnation,
            time_us: self.now,
            value,
        };
        self.agreement.applied(slot, application);
        self.stats.commits = self.stats.commits.max(slot);
    }

    fn client_start(&mut self, client: usize) {
        if self.issued == self.config.ops {
            return;
        }
        self.issued += 1;
        let c = &self.clients[client];
        let command = self.workload.next(c, c.next_request());
        let op = self
            .history
            .invoke(c.id, &command, self.now)
            .expect("a client starts an operation only when none is pending");
        let action = self.clients[client].start(self.now, command, op);
        self.client_action(client, action, &mut |_, _| {});
    }

    fn client_action(
        &mut self,
        client: usize,
        action: ClientAction,
        progress: &mut dyn FnMut(u64, u64),
    ) {
        match action {
            ClientAction::Nothing => {}
            ClientAction::Send { to, delay } => {
                let c = &self.clients[client];
                let in_flight = c
                    .in_flight
                    .as_ref()
                    .expect("a client sends only while waiting");
                let (request, attempt, command) = (
                    in_flight.request,
                    in_flight.attempt,
                    in_flight.command.clone(),
                );
                let sent_at = self.now + delay;
                let id = c.id;
                self.note(format!(
                    "client {id} sends request {request} (attempt {attempt}) to r{to} at {sent_at}: {command:?}"
                ));
                let c = &self.clients[client];
                for at in self.network.send_client(&self.schedule, sent_at) {
                    let command = command.clone();
                    self.queue.push(
                        at,
                        Event::Request {
                            node: to,
                            client: c.id,
                            request,
                            command,
                        },
                    );
                }
                let timeout =
                    sent_at + self.config.client_timeout_ticks * self.config.latency.tick_us;
                self.queue.push(
                    timeout,
                    Event::ClientTimeout {
                        client,
                        request,
                        attempt,
                    },
                );
            }
            ClientAction::Complete {
                op,
                invoked_us,
                reply,
            } => {
                let id = self.clients[client].id;
                self.note(format!("client {id} completes: {reply:?}"));
                let recorded = OpOutput::from_reply(&reply)
                    .ok_or(None)
                    .and_then(|output| self.history.complete(op, output, self.now).map_err(Some));
                if let Err(error) = recorded {
                    // The control plane answered with a reply of the wrong
                    // kind: a bug to report, not a reason to stop.
                    if self.bad_reply.passed() {
                        let problem = error.map_or("a redirect".to_string(), |e| e.to_string());
                        self.bad_reply = Check::Failed(format!(
                            "client {id} got {reply:?} at {} us: {problem}",
                            self.now
                        ));
                    }
                    self.history.abandon(op).ok();
                }
                self.stats.ops_completed += 1;
                self.stats.latencies_us.push(self.now - invoked_us);
                progress(self.stats.ops_completed, self.config.ops);
                let think = self.workload.think(self.mean_think_us);
                self.queue
                    .push(self.now + think, Event::ClientStart { client });
            }
        }
    }

    fn finish(mut self) -> SimReport {
        let entries = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .flat_map(Node::held_entries);
        self.chosen.logs(self.now, entries);
        self.stats.virtual_us = self.now;
        self.stats.nic_faults = self.nodes.iter().map(Node::nic_faults).sum();
        self.stats.last_nic_fault = self
            .nodes
            .iter()
            .find_map(|n| n.last_nic_fault().map(str::to_string));
        self.stats.frames = self.network.frames.clone();
        self.stats.client_messages = self.network.client.clone();
        self.stats.trace_hash = self.trace.finish();
        let history = self.history.finish();
        let checks = Checks {
            agreement: self.agreement.result(),
            chosen: self.chosen.result(),
            linearizability: linearizability::check(&history),
            liveness: self.liveness_result,
            stall: self.stall,
            replies: self.bad_reply,
        };
        let config = self.config;
        SimReport {
            schedule_file: None,
            seed: config.seed,
            replicas: config.replicas,
            clients: config.clients,
            ops: config.ops,
            variant: config.variant,
            nic: config.nic.clone(),
            think_us: config.think_us,
            snapshot_every: config.timing.snapshot_every,
            fault_kinds: match &config.faults {
                FaultPlan::Generate { kinds, .. } => Some(kinds.clone()),
                FaultPlan::Explicit(_) => None,
            },
            latency: config.latency.clone(),
            schedule: self.schedule,
            checks,
            stats: self.stats,
            committed: self
                .agreement
                .log()
                .map(|(slot, value)| (slot, value.to_vec()))
                .collect(),
            nodes: self.nodes.iter().map(Node::summary).collect(),
            log: self.log.unwrap_or_default(),
            timeline: self.timeline.map(|t| t.render()).unwrap_or_default(),
            history,
        }
    }
}

/// A clock `permille` thousandths off ticks this often (never less than 1 us).
fn drifted_tick_us(tick_us: Micros, permille: i32) -> Micros {
    let scaled = i128::from(tick_us) * i128::from(1000 + permille) / 1000;
    Micros::try_from(scaled.max(1)).unwrap_or(Micros::MAX)
}

fn replica_config(config: &SimConfig, id: u8, seed: u64) -> ReplicaConfig {
    let timing = &config.timing;
    ReplicaConfig {
        id,
        replicas: config.replicas,
        group: GROUP,
        seed,
        incarnation: 0,
        heartbeat_ticks: timing.heartbeat_ticks,
        election_ticks: timing.election_ticks,
        retransmit_ticks: timing.retransmit_ticks,
        window: timing.window,
        max_inflight: timing.max_inflight,
        variant: config.variant.host(),
        survivors: Vec::new(),
        snapshot_every: timing.snapshot_every,
        max_pending: riptide_control::DEFAULT_MAX_PENDING,
    }
}
