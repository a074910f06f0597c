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
use riptide_wire::records::RecordError;
use thiserror::Error;

use pcie::BoardError;

/// A NIC as the host sees it: commands in, records out. Sans-IO like the
/// control plane; every backend has this side (model, RTL card, fake and real
/// boards), and a failure surfaces at the call where it happened.
pub trait NicHost {
    /// Carry out a host-to-card command.
    fn command(&mut self, command: NicCommand) -> Result<(), NicError>;
    /// The next record on the card-to-host stream, if one is ready.
    fn poll_host(&mut self) -> Result<Option<CardToHost>, NicError>;
}

/// A simulated NIC's network side: frames in and out, moved by the caller
/// (the simulator decides every delay). A real board's network side is its
/// Ethernet port, so it has none of this.
pub trait NicWire {
    /// A frame arrived from the network (untrusted bytes): validated,
    /// counted, and acted on or dropped; never an error of the caller's.
    fn receive(&mut self, frame: &[u8]);
    /// The next frame to put on the network, with the replica it is for.
    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)>;
}

/// Both sides: what the cluster simulator and the tests drive.
pub trait SimulatedNic: NicHost + NicWire {}

impl<T: NicHost + NicWire + ?Sized> SimulatedNic for T {}

/// Why a NIC could not carry out a host call. Contract violations of the
/// host (a submit while not leader, …) are not errors: the hardware cannot
/// refuse a command it already took from a ring, so every backend counts
/// them instead (`docs/driver.md`).
#[derive(Debug, Error)]
pub enum NicError {
    /// The driver of a board (real or fake) failed: registers, rings, VFIO.
    #[error(transparent)]
    Driver(#[from] BoardError),
    /// The card emitted a card-to-host packet that is not a record: a bug
    /// in the card, surfaced to the host rather than skipped.
    #[error("the card emitted a card-to-host packet that is not a record")]
    Card(#[source] RecordError),
    /// The driver dropped card-to-host data it could not use. On a real
    /// board that is counted (`HostStats`); behind a simulated board, where
    /// the card is ours, it is a bug to report.
    #[error(
        "the driver dropped {malformed_records} malformed record(s) and {bad_descriptors} bad \
         descriptor(s)"
    )]
    DroppedByDriver {
        malformed_records: u64,
        bad_descriptors: u64,
    },
    /// The driver used a simulated board's XDMA engine in a way a real one
    /// would not do as meant (a descriptor rewritten while the engine owned
    /// it, an adjacent block across 4 KiB): silent on hardware, a driver bug.
    #[error("XDMA misuse: {0}")]
    Xdma(pcie::fake::Violation),
}
