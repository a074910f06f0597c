//! The NIC a replica process drives: the software fast path (the behavioural
//! model, run in-process over UDP sockets) or an Alveo board over PCIe.
//!
//! Both speak the host records of `riptide_wire::host`, so the rest of the
//! runtime does not care which it has; the differences are where frames go
//! (the model's frames leave through this process's UDP socket, a board's
//! through its own Ethernet port).

use riptide_driver::model::ModelNic;
use riptide_driver::pcie::{AlveoNic, AlveoOptions, BoardError, PcieDevice, VfioDevice};
use riptide_driver::{NicError, NicHost, NicWire};
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::regs::Counter;

use super::config::ClusterConfig;

/// A NIC backend as the replica loop uses it: the host side of the NIC, and
/// where its frames go.
pub trait ReplicaNic: NicHost {
    /// For status dumps: `model` or the board's address.
    fn name(&self) -> String;
    fn counters(&mut self) -> Vec<(Counter, u64)>;
    /// The software fast path's network side, whose frames this process
    /// moves over its replica socket. `None` for a board: it sends and
    /// receives on its own Ethernet port, and its records do not arrive
    /// through the loop's sockets, so the loop polls it.
    fn wire(&mut self) -> Option<&mut dyn NicWire>;
    /// Whether the loop must poll the card for records: it has no wire here.
    fn needs_polling(&self) -> bool;
}

impl ReplicaNic for ModelNic {
    fn name(&self) -> String {
        "model".to_string()
    }

    fn counters(&mut self) -> Vec<(Counter, u64)> {
        ModelNic::counters(self).iter().collect()
    }

    fn wire(&mut self) -> Option<&mut dyn NicWire> {
        Some(self)
    }

    fn needs_polling(&self) -> bool {
        false
    }
}

/// An Alveo board running riptide's bitstream.
pub struct Board<D: PcieDevice> {
    name: String,
    nic: AlveoNic<D>,
}

impl Board<VfioDevice> {
    /// Opens the board at `spec` (`vfio:DDDD:BB:DD.F`) and programs it as
    /// replica `id` of `config`. Every replica needs a MAC in the config: the
    /// board puts frames on a real Ethernet.
    pub fn open(spec: &str, config: &ClusterConfig, id: u8) -> Result<Self, BoardError> {
        let nic = AlveoNic::open_vfio(spec, AlveoOptions::default())?;
        Board::program(spec.to_string(), nic, config, id)
    }
}

impl<D: PcieDevice> Board<D> {
    /// Identity, peer table, then the fast path on.
    pub fn program(
        name: String,
        mut nic: AlveoNic<D>,
        config: &ClusterConfig,
        id: u8,
    ) -> Result<Self, BoardError> {
        // Refused now rather than at every Configure of the replica's life.
        if config.timing.window > u64::from(nic.max_window()) {
            return Err(BoardError::WindowTooLarge {
                window: config.timing.window,
                max: nic.max_window(),
            });
        }
        nic.set_identity(id, config.group)?;
        for (replica, endpoint) in config.endpoints().iter().enumerate() {
            nic.set_peer(replica, endpoint)?;
        }
        nic.enable(true)?;
        Ok(Board { name, nic })
    }
}

impl<D: PcieDevice> NicHost for Board<D> {
    fn command(&mut self, command: NicCommand) -> Result<(), NicError> {
        NicHost::command(&mut self.nic, command)
    }

    fn poll_host(&mut self) -> Result<Option<CardToHost>, NicError> {
        NicHost::poll_host(&mut self.nic)
    }
}

impl<D: PcieDevice> ReplicaNic for Board<D> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn wire(&mut self) -> Option<&mut dyn NicWire> {
        None
    }

    fn needs_polling(&self) -> bool {
        true
    }

    fn counters(&mut self) -> Vec<(Counter, u64)> {
        self.nic
            .counters()
            .map(|counters| {
                counters
                    .into_iter()
                    .map(|(counter, value)| (counter, u64::from(value)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether `counter` counts frames dropped by validation (a malformed or
/// misaddressed frame), as opposed to a protocol decision.
pub fn is_validation_drop(counter: Counter) -> bool {
    (Counter::DropShort..=Counter::DropUnusedNonZero).contains(&counter)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use riptide_control::Replica;
    use riptide_control::client::{Progress, Session};
    use riptide_control::kv::{Command, Reply};
    use riptide_driver::model::ModelBugs;
    use riptide_driver::pcie::FakeDevice;

    use super::*;
    use crate::node::{Node, Outgoing};

    type FakeBoard = Board<FakeDevice<ModelNic>>;

    /// Three replicas on fake boards whose cards are behavioural NICs; the
    /// test carries frames between the cards, as a switch would.
    fn group() -> (ClusterConfig, Vec<Node<FakeBoard>>) {
        let ports: Vec<(u16, u16)> = (0..3).map(|i| (7100 + i, 7200 + i)).collect();
        let config =
            ClusterConfig::local(4, Ipv4Addr::LOCALHOST, &ports, Default::default()).unwrap();
        let nodes = (0..3)
            .map(|id| {
                let card = ModelNic::with_peers(
                    id,
                    config.group,
                    config.endpoints(),
                    ModelBugs::default(),
                );
                let nic = AlveoNic::open(FakeDevice::new(card), AlveoOptions::default()).unwrap();
                let board = Board::program(format!("fake{id}"), nic, &config, id).unwrap();
                Node::new(
                    Replica::new(config.replica_config(id, 50 + u64::from(id))),
                    board,
                    &config,
                )
            })
            .collect();
        (config, nodes)
    }

    /// Moves frames between the cards and polls every host until quiet;
    /// returns what the hosts sent to clients.
    fn settle(nodes: &mut [Node<FakeBoard>]) -> Vec<Vec<u8>> {
        let mut to_clients = Vec::new();
        for _ in 0..200 {
            let mut frames = Vec::new();
            for node in nodes.iter_mut() {
                node.poll_nic();
                let card = node.nic_mut().nic.device_mut().card_mut();
                while let Some((to, frame)) = NicWire::poll_transmit(card) {
                    frames.push((to, frame));
                }
                for out in node.take_outbox() {
                    match out {
                        Outgoing::Client { datagram, .. } => to_clients.push(datagram),
                        Outgoing::Peer { .. } => panic!("a board sends replica traffic itself"),
                    }
                }
            }
            if frames.is_empty() {
                return to_clients;
            }
            for (to, frame) in frames {
                nodes[usize::from(to)]
                    .nic_mut()
                    .nic
                    .device_mut()
                    .receive_frame(&frame);
            }
        }
        panic!("the boards never went quiet");
    }

    #[test]
    fn a_window_larger_than_the_boards_is_refused_when_the_board_is_programmed() {
        let ports = [(7100, 7200), (7101, 7201), (7102, 7202)];
        let timing = crate::Timing {
            window: u64::from(riptide_wire::regs::MAX_WINDOW_SLOTS) + 1,
            ..Default::default()
        };
        let config = ClusterConfig::local(4, Ipv4Addr::LOCALHOST, &ports, timing).unwrap();
        let card = ModelNic::with_peers(0, config.group, config.endpoints(), ModelBugs::default());
        let nic = AlveoNic::open(FakeDevice::new(card), AlveoOptions::default()).unwrap();
        let error = Board::program("fake0".into(), nic, &config, 0)
            .err()
            .unwrap();
        assert!(
            matches!(
                error,
                BoardError::WindowTooLarge {
                    window: 65,
                    max: 64
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn replicas_on_boards_elect_commit_and_heartbeat_through_the_card() {
        let (config, mut nodes) = group();
        let leader = (0..400)
            .find_map(|_| {
                nodes.iter_mut().for_each(Node::tick);
                settle(&mut nodes);
                nodes.iter_mut().position(|n| n.status().is_leader())
            })
            .expect("a leader on boards");
        let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut session = Session::new(1, config.group, 3);
        let put = Command::Put {
            key: "k".into(),
            value: "v".into(),
        };
        let datagram = session.begin(&put);
        nodes[leader].client_datagram(client, &datagram);
        let replies = settle(&mut nodes);
        assert!(
            replies
                .iter()
                .any(|r| session.on_datagram(r) == Progress::Done(Reply::Done)),
            "no reply to the put"
        );
        // Followers learn the commit from heartbeats: the leader's host
        // strobes HEARTBEAT and its card sends the COMMIT frames.
        let tx_commit = |node: &mut Node<FakeBoard>| {
            let counters = node.status().nic_counters;
            counters.get("tx_commit").copied().unwrap_or(0)
        };
        let commits_sent = tx_commit(&mut nodes[leader]);
        for _ in 0..20 {
            nodes.iter_mut().for_each(Node::tick);
            settle(&mut nodes);
        }
        for node in &mut nodes {
            let status = node.status();
            assert!(
                status.commit >= 1 && status.applied == status.commit,
                "{status:?}"
            );
            assert_eq!(status.host.nic_errors, 0, "{status:?}");
            assert!(status.nic.starts_with("fake"));
            assert_eq!(node.replica().kv().read("k"), Some("v"));
        }
        assert!(tx_commit(&mut nodes[leader]) > commits_sent);
    }
}
