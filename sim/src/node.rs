//! One simulated replica: the control plane, its NIC (a `SimulatedNic`:
//! the behavioural model, or the RTL on a simulated board driven through the
//! PCIe driver), and the two streams between them. Host-to-card commands take effect after a small delay; card-to-host
//! records cross a FIFO DMA stream, one record after another, so a burst of
//! NIC acks reaches host software late: the window the NIC fence closes.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use riptide_control::{Input, Output, Replica, ReplicaConfig, Role};
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::{NicError, SimulatedNic};
use riptide_hw::card::rtl_board;
use riptide_wire::frame::decode_frame;
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::layout::UDP_PORT;
use riptide_wire::{DecodeError, Envelope, Message};

use crate::check::chosen::HeldEntry;
use crate::config::NicBackend;
use crate::latency::{LatencyModel, Micros};

/// One replica's state at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSummary {
    pub id: u8,
    pub up: bool,
    /// The incarnation the control plane holds (raised by recovery if its
    /// restart guessed too low).
    pub incarnation: u32,
    /// How often the simulator restarted it: its true incarnation.
    pub restarts: u32,
    pub role: String,
    pub promised: u64,
    pub vote_floor: u64,
    pub commit: u64,
    pub applied: u64,
    pub log_len: usize,
}

impl fmt::Display for NodeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guessed = if self.incarnation == self.restarts {
            String::new()
        } else {
            format!(" (restart {})", self.restarts)
        };
        write!(
            f,
            "replica {}#{}{guessed}: {}{}, promised {:#x} (vote floor {:#x}), commit {}, applied {}, {} log entries",
            self.id,
            self.incarnation,
            if self.up { "" } else { "down, " },
            self.role,
            self.promised,
            self.vote_floor,
            self.commit,
            self.applied,
            self.log_len
        )
    }
}

/// What a NIC did in response to a command or a frame.
#[derive(Debug, Default)]
pub struct NicEffects {
    /// Frames put on the wire, with the replica each is for.
    pub frames: Vec<(u8, Vec<u8>)>,
    /// Card-to-host records, with the time each reaches host software.
    pub records: Vec<(Micros, CardToHost)>,
}

pub struct Node {
    pub id: u8,
    /// 0 for the first run, +1 per restart: events of a former life are ignored.
    pub incarnation: u32,
    /// Whether the host (control plane) runs.
    pub up: bool,
    /// Whether the NIC runs: a NIC may outlive its host's crash.
    pub nic_up: bool,
    /// When the host last came up (boot or restart).
    pub up_since: Micros,
    config: ReplicaConfig,
    backend: NicBackend,
    bugs: ModelBugs,
    replica: Replica,
    nic: Box<dyn SimulatedNic>,
    /// Host calls its NICs failed, over every incarnation (each a bug in the
    /// driver, the fake board or the card), and the last failure.
    nic_faults: u64,
    last_nic_fault: Option<String>,
    /// The (slot, ballot) of every entry this incarnation copied from the
    /// others' answers when it recovered: copies, not acceptances.
    copied: BTreeSet<(u64, u64)>,
    /// When the card-to-host stream is free for the next record.
    dma_free_at: Micros,
    /// When the host-to-card stream is free for the next command.
    h2c_free_at: Micros,
}

impl Node {
    pub fn boot(config: ReplicaConfig, backend: NicBackend, bugs: ModelBugs) -> Node {
        Node {
            id: config.id,
            incarnation: 0,
            up: true,
            nic_up: true,
            up_since: 0,
            replica: Replica::new(config.clone()),
            nic: boot_nic(&config, backend, bugs),
            nic_faults: 0,
            last_nic_fault: None,
            config,
            backend,
            bugs,
            copied: BTreeSet::new(),
            dma_free_at: 0,
            h2c_free_at: 0,
        }
    }

    /// The replica loses its memory and everything in flight between host
    /// and card; its NIC too, unless `nic_survives`.
    pub fn crash(&mut self, nic_survives: bool) {
        self.up = false;
        self.nic_up = nic_survives;
    }

    /// Back with amnesia: a restarted control plane (which must recover
    /// before it votes) and, unless the old NIC survived, a fresh NIC.
    /// `seed` reseeds its randomness. A restart that lost its state record
    /// (`knows_incarnation` false) guesses incarnation 1, as a process with
    /// no record does, and leaves it to recovery to raise.
    pub fn restart(&mut self, now: Micros, seed: u64, knows_incarnation: bool) {
        self.incarnation += 1;
        self.copied.clear();
        self.up = true;
        self.up_since = now;
        self.config.seed = seed;
        self.config.incarnation = if knows_incarnation {
            self.incarnation
        } else {
            1
        };
        self.replica = Replica::restarted(self.config.clone());
        if !self.nic_up {
            self.nic = boot_nic(&self.config, self.backend, self.bugs);
            self.dma_free_at = now;
        }
        self.nic_up = true;
        self.h2c_free_at = now;
    }

    /// Feeds one input to the control plane.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        let recovering = self.replica.status().role == Role::Recovering;
        let outputs = self.replica.step(input);
        if recovering && self.replica.status().role != Role::Recovering {
            self.copied = self
                .replica
                .entries()
                .map(|(slot, entry)| (slot, entry.ballot.0))
                .collect();
        }
        outputs
    }

    /// Down, or restarted and not yet holding its share of the state again
    /// (recovering, or recovered but not caught up: `Replica::recovered`).
    pub fn without_state(&self) -> bool {
        !self.up || !self.replica.recovered()
    }

    /// Host calls this replica's NICs failed, over every incarnation.
    pub fn nic_faults(&self) -> u64 {
        self.nic_faults
    }

    /// The last of them, for the report.
    pub fn last_nic_fault(&self) -> Option<&str> {
        self.last_nic_fault.as_deref()
    }

    fn nic_failed(&mut self, error: NicError) {
        self.nic_faults += 1;
        self.last_nic_fault = Some(error.to_string());
    }

    /// The incarnation the control plane runs as (raised by recovery when a
    /// peer knew a later one).
    pub fn replica_incarnation(&self) -> u32 {
        self.replica.incarnation()
    }

    pub fn role(&self) -> Role {
        self.replica.status().role
    }

    pub fn ballot(&self) -> u64 {
        self.replica.status().promised.0
    }

    /// Where the replica stands, for the report.
    pub fn summary(&self) -> NodeSummary {
        let status = self.replica.status();
        NodeSummary {
            id: self.id,
            up: self.up,
            incarnation: self.replica.incarnation(),
            restarts: self.incarnation,
            role: format!("{:?}", status.role).to_lowercase(),
            promised: status.promised.0,
            vote_floor: self.replica.vote_floor().0,
            commit: status.commit,
            applied: status.applied,
            log_len: self.replica.entries().count(),
        }
    }

    /// When a command issued by the host at `now` takes effect on the NIC:
    /// commands are applied in the order issued.
    pub fn host_to_card_at(&mut self, now: Micros, latency: &LatencyModel) -> Micros {
        self.h2c_free_at = self.h2c_free_at.max(now) + latency.host_to_card_us;
        self.h2c_free_at
    }

    /// The host's message for replica `to`, as the datagram its NIC sends.
    pub fn transmit(&self, to: u8, message: Message) -> NicCommand {
        let envelope = Envelope {
            group: self.config.group,
            sender: self.id,
            life: self.replica.life(),
            message,
        };
        NicCommand::Transmit {
            to,
            datagram: envelope.encode(),
        }
    }

    pub fn nic_command(
        &mut self,
        now: Micros,
        command: NicCommand,
        latency: &LatencyModel,
    ) -> NicEffects {
        if let Err(error) = self.nic.command(command) {
            self.nic_failed(error);
        }
        self.drain_nic(now, latency)
    }

    pub fn nic_receive(&mut self, now: Micros, frame: &[u8], latency: &LatencyModel) -> NicEffects {
        self.nic.receive(frame);
        self.drain_nic(now, latency)
    }

    fn drain_nic(&mut self, now: Micros, latency: &LatencyModel) -> NicEffects {
        let mut effects = NicEffects::default();
        while let Some(frame) = self.nic.poll_transmit() {
            effects.frames.push(frame);
        }
        loop {
            match self.nic.poll_host() {
                Ok(Some(record)) => {
                    self.dma_free_at = self.dma_free_at.max(now) + latency.dma_per_record_us;
                    effects.records.push((self.dma_free_at, record));
                }
                Ok(None) => break,
                // What is behind it comes with the next drain; a failure
                // that repeats must not spin here.
                Err(error) => {
                    self.nic_failed(error);
                    break;
                }
            }
        }
        effects
    }

    /// Decodes a frame the NIC punted to host software (untrusted bytes) into
    /// the input the control plane expects.
    pub fn punted(&self, frame: &[u8]) -> Result<Input, DecodeError> {
        let view = decode_frame(frame, UDP_PORT)?;
        let envelope = Envelope::decode(view.datagram, self.config.group)?;
        Ok(Input::Receive {
            from: envelope.sender,
            life: envelope.life,
            message: envelope.message,
        })
    }

    /// The replica's log, for the chosen-value checker.
    pub fn held_entries(&self) -> impl Iterator<Item = HeldEntry<'_>> {
        self.replica.entries().map(move |(slot, entry)| HeldEntry {
            replica: self.id,
            slot,
            ballot: entry.ballot.0,
            value: &entry.value,
            chosen: entry.chosen,
            copied: self.copied.contains(&(slot, entry.ballot.0)),
        })
    }
}

/// A fresh NIC for the replica. Both backends use the model's default
/// addresses, so their frames are byte for byte the same.
fn boot_nic(config: &ReplicaConfig, backend: NicBackend, bugs: ModelBugs) -> Box<dyn SimulatedNic> {
    match backend {
        NicBackend::Model => Box::new(ModelNic::new(
            config.id,
            config.replicas,
            config.group,
            bugs,
        )),
        NicBackend::Rtl => {
            let peers = (0..config.replicas)
                .map(ModelNic::default_endpoint)
                .collect();
            let name = format!("sim_r{}", config.id);
            let board = rtl_board(&name, config.id, config.group, peers)
                .expect("the driver opens a simulated board");
            Box::new(board)
        }
        NicBackend::Verilator => {
            let peers = (0..config.replicas)
                .map(ModelNic::default_endpoint)
                .collect();
            // `SimConfig::with_nic` refuses a build without the model.
            let board = riptide_verilated::verilated_board(config.id, config.group, peers)
                .unwrap_or_else(|e| panic!("replica {}: {e}", config.id));
            Box::new(board)
        }
    }
}

#[cfg(test)]
mod tests {
    use riptide_wire::frame::{Endpoint, encode_frame};

    use super::*;

    fn node() -> Node {
        Node::boot(
            ReplicaConfig::new(1, 3, 7, 42),
            NicBackend::Model,
            ModelBugs::default(),
        )
    }

    #[test]
    fn garbage_punted_to_the_host_is_a_typed_error_not_a_panic() {
        let node = node();
        let endpoint = Endpoint {
            port: UDP_PORT,
            ..Endpoint::default()
        };
        let mut short_datagram = encode_frame(&endpoint, &endpoint, &[1, 2, 3]);
        let inputs = [
            Vec::new(),
            vec![0xff; 10],
            vec![0; 200],
            short_datagram.clone(),
        ];
        for frame in inputs {
            assert!(node.punted(&frame).is_err(), "{frame:?}");
        }
        short_datagram.truncate(20);
        assert!(node.punted(&short_datagram).is_err());
    }

    #[test]
    fn a_message_round_trips_through_transmit_and_punt() {
        let node = node();
        let message = Message::Prepare {
            ballot: riptide_wire::Ballot::new(3, 1),
            commit: 9,
            lives: vec![0, 0, 0],
        };
        let NicCommand::Transmit { datagram, .. } = node.transmit(0, message.clone()) else {
            panic!("transmit builds a Transmit command");
        };
        let endpoint = Endpoint {
            port: UDP_PORT,
            ..Endpoint::default()
        };
        let frame = encode_frame(&endpoint, &endpoint, &datagram);
        assert_eq!(
            node.punted(&frame).unwrap(),
            Input::Receive {
                from: 1,
                life: 0,
                message
            }
        );
    }
}
