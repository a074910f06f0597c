//! One replica as the checker holds it: the real control plane, the real
//! NIC model, and the card-to-host stream between them (FIFO, taken one
//! record at a time by an action of its own, so every interleaving of NIC
//! acks and host software is explored: the window the fence closes).
//! Host-to-card commands take effect as the host issues them.

use std::collections::VecDeque;
use std::fmt::Write;

use riptide_control::{Input, Output, Replica, Role};
use riptide_driver::model::ModelNic;
use riptide_wire::frame::decode_frame;
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::layout::UDP_PORT;
use riptide_wire::{Envelope, Message};

use crate::bounds::{Bounds, GROUP};
use crate::fingerprint::HashWriter;

#[derive(Debug, Clone)]
pub struct Node {
    pub replica: Replica,
    pub nic: ModelNic,
    /// Records the NIC wrote that host software has not taken yet.
    pub to_host: VecDeque<CardToHost>,
    /// How often this replica restarted: its true incarnation.
    pub restarts: u32,
    fingerprint: u64,
}

/// What a NIC did: frames for the network, with the replica each is for.
pub type Frames = Vec<(u8, Vec<u8>)>;

impl Node {
    pub fn boot(bounds: &Bounds, id: u8) -> Node {
        let replica = Replica::new(bounds.replica_config(id, 0));
        Node::with(bounds, id, replica, 0)
    }

    /// Back with amnesia: a restarted control plane and a fresh NIC.
    pub fn restarted(bounds: &Bounds, id: u8, restarts: u32) -> Node {
        let replica = Replica::restarted(bounds.replica_config(id, restarts));
        Node::with(bounds, id, replica, restarts)
    }

    fn with(bounds: &Bounds, id: u8, replica: Replica, restarts: u32) -> Node {
        let mut node = Node {
            replica,
            nic: ModelNic::new(id, bounds.replicas, GROUP, bounds.variant.nic()),
            to_host: VecDeque::new(),
            restarts,
            fingerprint: 0,
        };
        node.refresh_fingerprint();
        node
    }

    pub fn id(&self) -> u8 {
        self.replica.config().id
    }

    pub fn role(&self) -> Role {
        self.replica.status().role
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Recomputes the cached fingerprint; call after every change.
    pub fn refresh_fingerprint(&mut self) {
        let mut h = HashWriter::new();
        // Writing into a hasher cannot fail.
        let _ = self.replica.write_canonical(&mut h);
        let _ = self.nic.write_canonical(&mut h);
        let _ = write!(h, "{:?}{}", self.to_host, self.restarts);
        self.fingerprint = h.finish();
    }

    /// A digest of what the properties read of this replica: its role,
    /// promised ballot and applied index, log, crash vector, whether
    /// it holds its state, and the acks waiting for its host. A step that
    /// leaves it (and the ghost and the abstract log) unchanged is invisible
    /// to every property (`reduction.rs`).
    pub fn observable(&self) -> u64 {
        let mut h = HashWriter::new();
        let acks = self.to_host.iter().filter(|record| {
            matches!(
                record,
                CardToHost::Event(riptide_wire::host::NicEvent::Accepted { .. })
            )
        });
        // The commit index is left out: no property reads it (what was
        // learned chosen is in the log's chosen marks and the ghost).
        let status = self.replica.status();
        let _ = write!(
            h,
            "{:?}{:?}{}{:?}{:?}{}{}",
            status.role,
            status.promised,
            status.applied,
            self.replica.entries().collect::<Vec<_>>(),
            self.replica.lives(),
            self.replica.recovered(),
            self.replica.incarnation(),
        );
        for ack in acks {
            let _ = write!(h, "{ack:?}");
        }
        h.finish()
    }

    /// Steps the control plane.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        self.replica.step(input)
    }

    /// The host's message for replica `to`, as the datagram its NIC sends.
    pub fn transmit(&self, to: u8, message: Message) -> NicCommand {
        let datagram = Envelope {
            group: GROUP,
            sender: self.id(),
            life: self.replica.life(),
            message,
        }
        .encode();
        NicCommand::Transmit { to, datagram }
    }

    /// Gives the NIC a command; returns the frames it sent.
    pub fn command(&mut self, command: NicCommand) -> Frames {
        self.nic.command(command);
        self.drain()
    }

    /// A frame arrived from the network; returns the frames the NIC sent.
    pub fn receive(&mut self, frame: &[u8]) -> Frames {
        self.nic.receive(frame);
        self.drain()
    }

    fn drain(&mut self) -> Frames {
        while let Some(record) = self.nic.poll_host() {
            self.to_host.push_back(record);
        }
        std::iter::from_fn(|| self.nic.poll_transmit()).collect()
    }

    /// The input a card-to-host record is for host software; a punted frame
    /// that does not decode is dropped, as a host would.
    pub fn host_input(record: CardToHost) -> Option<Input> {
        match record {
            CardToHost::Event(event) => Some(Input::Nic(event)),
            CardToHost::Punted(frame) => {
                let view = decode_frame(&frame, UDP_PORT).ok()?;
                let envelope = Envelope::decode(view.datagram, GROUP).ok()?;
                Some(Input::Receive {
                    from: envelope.sender,
                    life: envelope.life,
                    message: envelope.message,
                })
            }
        }
    }
}

/// The message a frame on the wire carries, if it decodes.
pub fn frame_message(frame: &[u8]) -> Option<(u8, Message)> {
    let view = decode_frame(frame, UDP_PORT).ok()?;
    let envelope = Envelope::decode(view.datagram, GROUP).ok()?;
    Some((envelope.sender, envelope.message))
}
