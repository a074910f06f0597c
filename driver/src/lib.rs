//! riptide's NIC driver: the interface the control plane drives a NIC through,
//! and its backends.
//!
//! Every backend speaks the host records of [`riptide_wire::host`]: commands in,
//! events and punted frames out. Three backends: the behavioural model
//! ([`model::ModelNic`]), the golden model of the fast path; an Alveo board
//! over VFIO ([`pcie::AlveoNic`]); and the RTL simulation
//! (`riptide_hw::card`) behind the same driver on a simulated board
//! ([`pcie::SimulatedBoard`]). See `docs/driver.md`.

pub mod model;
pub mod pcie;

use riptide_wire::host::{CardToHost, NicCommand};

/// A NIC as host software sees it. Sans-IO like the control plane: the caller
/// moves frames between the NIC and the network, and records between the NIC
/// and the host, so the simulator decides every delay.
pub trait Nic {
    /// Carry out a host-to-card command.
    fn command(&mut self, command: NicCommand);
    /// A frame arrived from the network (untrusted bytes).
    fn receive(&mut self, frame: &[u8]);
    /// The next frame to put on the network, with the replica it is for.
    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)>;
    /// The next record on the card-to-host stream.
    fn poll_host(&mut self) -> Option<CardToHost>;
    /// Failures counted because this interface cannot return them: driver
    /// errors behind a simulated board, card-to-host packets that are not
    /// records. Each is a bug in the driver, the fake board or the card.
    fn faults(&self) -> u64 {
        0
    }
}
