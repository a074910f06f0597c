//! End to end: three replicas, each driving a behavioural NIC (`ModelNic`),
//! over a tiny lossless in-order network. A leader is elected, hundreds of
//! client writes commit and apply identically everywhere, then the leader is
//! killed and a new one re-proposes and continues with nothing lost.

use std::collections::{BTreeMap, VecDeque};

use riptide_control::kv::{Command, LogValue, Reply};
use riptide_control::{Input, Output, Replica, ReplicaConfig, Role};
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_wire::Envelope;
use riptide_wire::frame::decode_frame;
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::layout::UDP_PORT;

const GROUP: u16 = 7;

/// Work waiting to happen, processed strictly in FIFO order.
enum Work {
    Input(u8, Input),
    Command(u8, NicCommand),
    Frame(u8, Vec<u8>),
    Record(u8, CardToHost),
}

struct Node {
    replica: Replica,
    nic: ModelNic,
    alive: bool,
    applied: Vec<(u64, Vec<u8>)>,
}

struct Cluster {
    nodes: Vec<Node>,
    work: VecDeque<Work>,
    replies: BTreeMap<(u64, u64), Reply>,
}

impl Cluster {
    fn new(n: u8, seed: u64) -> Cluster {
        let nodes = (0..n)
            .map(|id| Node {
                replica: Replica::new(ReplicaConfig::new(id, n, GROUP, seed + u64::from(id))),
                nic: ModelNic::new(id, n, GROUP, ModelBugs::default()),
                alive: true,
                applied: Vec::new(),
            })
            .collect();
        Cluster {
            nodes,
            work: VecDeque::new(),
            replies: BTreeMap::new(),
        }
    }

    fn tick(&mut self) {
        for id in 0..self.nodes.len() as u8 {
            self.work.push_back(Work::Input(id, Input::Tick));
        }
        self.run();
    }

    fn client(&mut self, to: u8, client: u64, request: u64, command: Command) {
        self.work.push_back(Work::Input(
            to,
            Input::Client {
                client,
                request,
                command,
            },
        ));
        self.run();
    }

    fn run(&mut self) {
        while let Some(work) = self.work.pop_front() {
            let id = match &work {
                Work::Input(id, _)
                | Work::Command(id, _)
                | Work::Frame(id, _)
                | Work::Record(id, _) => *id,
            };
            let node = &mut self.nodes[usize::from(id)];
            if !node.alive {
                continue;
            }
            match work {
                Work::Input(_, input) => {
                    for output in node.replica.step(input) {
                        self.output(id, output);
                    }
                }
                Work::Command(_, command) => {
                    node.nic.command(command);
                    self.drain_nic(id);
                }
                Work::Frame(_, frame) => {
                    node.nic.receive(&frame);
                    self.drain_nic(id);
                }
                Work::Record(_, record) => {
                    let input = match record {
                        CardToHost::Event(event) => Input::Nic(event),
                        CardToHost::Punted(frame) => {
                            let view =
                                decode_frame(&frame, UDP_PORT).expect("NIC punts valid frames");
                            let envelope = Envelope::decode(view.datagram, GROUP)
                                .expect("peers send valid datagrams");
                            Input::Receive {
                                from: envelope.sender,
                                life: envelope.life,
                                message: envelope.message,
                            }
                        }
                    };
                    self.work.push_back(Work::Input(id, input));
                }
            }
        }
    }

    fn drain_nic(&mut self, id: u8) {
        let nic = &mut self.nodes[usize::from(id)].nic;
        while let Some((to, frame)) = nic.poll_transmit() {
            self.work.push_back(Work::Frame(to, frame));
        }
        while let Some(record) = nic.poll_host() {
            self.work.push_back(Work::Record(id, record));
        }
    }

    fn output(&mut self, id: u8, output: Output) {
        match output {
            Output::Send { to, message } => {
                let datagram = Envelope {
                    group: GROUP,
                    sender: id,
                    life: 0,
                    message,
                }
                .encode();
                self.work
                    .push_back(Work::Command(id, NicCommand::Transmit { to, datagram }));
            }
            Output::Nic(command) => self.work.push_back(Work::Command(id, command)),
            Output::Applied { slot, value } => {
                self.nodes[usize::from(id)].applied.push((slot, value))
            }
            Output::Installed { slot, .. } => {
                panic!(
                    "replica {id} installed a snapshot at {slot}: these runs stay below the interval"
                )
            }
            Output::Reply {
                client,
                request,
                reply,
            } => {
                if !matches!(reply, Reply::NotLeader { .. }) {
                    self.replies.insert((client, request), reply);
                }
            }
        }
    }

    fn leader(&self) -> Option<u8> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.alive && node.replica.status().role == Role::Leader)
            .max_by_key(|(_, node)| node.replica.status().promised)
            .map(|(id, _)| id as u8)
    }

    fn elect(&mut self) -> u8 {
        for _ in 0..1_000 {
            self.tick();
            if let Some(leader) = self.leader() {
                return leader;
            }
        }
        panic!("no leader after 1000 ticks");
    }

    /// `clients` closed-loop clients each complete `per_client` puts (with a
    /// get after every tenth), retrying at the current leader when a reply is
    /// late.
    fn workload(&mut self, clients: u64, first_request: u64, per_client: u64) {
        let mut next: BTreeMap<u64, (u64, u64)> = (0..clients)
            .map(|client| (client, (first_request, 0)))
            .collect();
        let last = first_request + per_client;
        for _ in 0..20_000 {
            let leader = self.leader();
            let pending: Vec<(u64, u64, u64)> = next
                .iter()
                .filter(|(_, (request, _))| *request < last)
                .map(|(&client, &(request, sent))| (client, request, sent))
                .collect();
            if pending.is_empty() {
                return;
            }
            for (client, request, sent_at) in pending {
                if self.replies.contains_key(&(client, request)) {
                    next.insert(client, (request + 1, 0));
                    continue;
                }
                let Some(leader) = leader else { continue };
                if sent_at == 0 || sent_at % 40 == 0 {
                    self.client(leader, client, request, command(client, request));
                }
                next.insert(client, (request, sent_at + 1));
            }
            self.tick();
        }
        panic!("workload did not complete");
    }

    fn alive(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|node| node.alive)
    }
}

fn command(client: u64, request: u64) -> Command {
    if request % 10 == 9 {
        Command::Get {
            key: format!("k{client}"),
        }
    } else {
        Command::Put {
            key: format!("k{client}"),
            value: format!("{client}:{request}"),
        }
    }
}

/// Every node applied slots 1, 2, … in order, and all agree slot by slot.
fn assert_agreement(cluster: &Cluster) -> u64 {
    let mut longest: Vec<(u64, Vec<u8>)> = Vec::new();
    for node in &cluster.nodes {
        for (i, (slot, _)) in node.applied.iter().enumerate() {
            assert_eq!(*slot, i as u64 + 1, "applied out of order");
        }
        let common = node.applied.len().min(longest.len());
        assert_eq!(
            node.applied[..common],
            longest[..common],
            "replicas disagree"
        );
        if node.applied.len() > longest.len() {
            longest = node.applied.clone();
        }
    }
    longest.len() as u64
}

fn writes_applied(node: &Node) -> Vec<(u64, u64)> {
    node.applied
        .iter()
        .flat_map(|(_, value)| {
            LogValue::decode(value)
                .unwrap()
                .writes()
                .into_iter()
                .map(|(client, request, _)| (client, request))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn three_replicas_commit_then_survive_the_loss_of_their_leader() {
    let mut cluster = Cluster::new(3, 2024);
    let first = cluster.elect();

    cluster.workload(10, 1, 30);
    for _ in 0..20 {
        cluster.tick();
    }
    let slots = assert_agreement(&cluster);
    assert!(slots >= 270, "only {slots} slots applied");
    for node in cluster.alive() {
        assert_eq!(node.applied.len() as u64, slots, "a replica lags at rest");
        assert_eq!(node.replica.applied(), slots);
        for client in 0..10 {
            assert_eq!(
                node.replica.kv().read(&format!("k{client}")),
                Some(&*format!("{client}:30"))
            );
        }
    }
    // Every acknowledged write was applied exactly once.
    let writes = writes_applied(&cluster.nodes[usize::from(first)]);
    let mut unique = writes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(writes.len(), unique.len(), "a write was applied twice");
    assert_eq!(writes.len(), 10 * 27);
    // Gets went through read-index, not the log.
    assert_eq!(
        cluster.replies.get(&(3, 9)),
        Some(&Reply::Value(Some("3:8".into())))
    );

    // Kill the leader; the survivors elect a new one, which continues.
    cluster.nodes[usize::from(first)].alive = false;
    let second = cluster.elect();
    assert_ne!(second, first);
    cluster.workload(10, 31, 20);
    for _ in 0..20 {
        cluster.tick();
    }
    let after = assert_agreement(&cluster);
    assert!(after > slots);
    for node in cluster.alive() {
        assert_eq!(node.applied.len() as u64, after);
        for client in 0..10 {
            assert_eq!(
                node.replica.kv().read(&format!("k{client}")),
                Some(&*format!("{client}:50"))
            );
        }
        let writes = writes_applied(node);
        let mut unique = writes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(writes.len(), unique.len(), "a write was applied twice");
        assert_eq!(writes.len(), 10 * (27 + 18), "a write was lost");
    }
    // The new leader's NIC did the replication: its fast path counted acks.
    let nic = &cluster.nodes[usize::from(second)].nic;
    assert!(nic.counters().by_name("ack_counted") > 0);
}
