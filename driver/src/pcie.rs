//! The Alveo board over PCIe: riptide's NIC as host software drives it on real
//! hardware.
//!
//! Layers, top down:
//! - [`board`]: [`AlveoNic`], the host side of the NIC interface: registers
//!   (configuration, fence, peers, counters) and the two record streams.
//! - [`xdma`]: the Xilinx XDMA engine's descriptor rings in streaming mode.
//! - [`device`]: [`PcieDevice`], the thin seam to a PCIe function: BAR
//!   registers, DMA memory, interrupts.
//! - [`vfio`]: [`PcieDevice`] on a real board through VFIO (`pci-driver`).
//! - [`fake`]: [`PcieDevice`] as an XDMA engine plus riptide's registers in
//!   memory, with a card model behind them, for tests without hardware.
//! - [`simulated`]: [`SimulatedBoard`], the driver over a fake board as a
//!   [`crate::SimulatedNic`], for the cluster simulator.
//!
//! The protocol is described in `docs/driver.md`.

pub mod board;
pub mod device;
pub mod fake;
pub mod simulated;
pub mod vfio;
pub mod xdma;

pub use board::{AlveoNic, AlveoOptions, BoardError, HostStats};
pub use device::{Bar, DeviceError, DmaBuffer, PciIds, PcieDevice, Wake};
pub use fake::{CardLogic, FakeDevice, Fault, Violation};
pub use simulated::SimulatedBoard;
pub use vfio::{PciAddress, VfioDevice, VfioError};
pub use xdma::{RingConfig, XdmaError};
