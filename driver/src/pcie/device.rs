//! The thin seam between the driver logic and a PCIe function: what the
//! riptide driver needs from a device and nothing more.
//!
//! `pci-driver`'s own `PciDevice`/`PciRegion` are sealed, and a region cannot
//! react to a write, so the driver talks to this trait instead. Two
//! implementations exist: [`super::vfio::VfioDevice`] (a real board through
//! VFIO) and [`super::fake::FakeDevice`] (an XDMA engine plus riptide's
//! registers in memory, for tests).
//!
//! DMA memory belongs to the device object: the driver asks for a buffer, gets
//! its bus address (IOVA) to put into descriptors, and reads or writes its bytes
//! through the device. That keeps raw pointers inside the VFIO backend and lets
//! the fake engine see the same bytes the driver wrote.

use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// A base address register index, 0 to 5.
pub type Bar = u8;

/// PCI vendor and device id, as config space reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciIds {
    pub vendor: u16,
    pub device: u16,
}

impl fmt::Display for PciIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.device)
    }
}

/// Host memory mapped for DMA: `len` bytes the device reaches at bus address
/// `iova`. Not `Clone`: unmapping consumes it.
#[derive(Debug, PartialEq, Eq)]
pub struct DmaBuffer {
    iova: u64,
    len: usize,
}

impl DmaBuffer {
    /// Only device implementations create these, when they map memory.
    pub fn new(iova: u64, len: usize) -> DmaBuffer {
        DmaBuffer { iova, len }
    }

    pub fn iova(&self) -> u64 {
        self.iova
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bus address of byte `offset`.
    pub fn iova_at(&self, offset: usize) -> u64 {
        self.iova + offset as u64
    }
}

/// How a wait for an interrupt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The device raised an interrupt (MSI-X/MSI delivered to an eventfd).
    Interrupt,
    /// Nothing arrived in time, or the device has no interrupts: poll.
    Timeout,
}

/// A device access failed. These are environment or driver faults, not
/// protocol errors: the caller usually cannot go on with the device.
#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("BAR {bar} is not present or not mapped")]
    NoBar { bar: Bar },
    #[error("BAR {bar} offset {offset:#x}: {reason}")]
    Mmio {
        bar: Bar,
        offset: u64,
        reason: String,
    },
    #[error(
        "cannot map {len} bytes for DMA: {reason} (VFIO pins DMA memory: if this is \
         ENOMEM, raise the locked-memory limit, e.g. `ulimit -l unlimited` or \
         LimitMEMLOCK=infinity)"
    )]
    DmaMap { len: usize, reason: String },
    #[error("no DMA buffer is mapped at iova {iova:#x}")]
    UnknownBuffer { iova: u64 },
    #[error("DMA access of {len} bytes at offset {offset} is outside a {size}-byte buffer")]
    DmaBounds {
        offset: usize,
        len: usize,
        size: usize,
    },
    #[error("waiting for an interrupt failed: {0}")]
    Interrupt(String),
}

/// Checks that `len` bytes at `offset` fit in `size` bytes.
pub fn check_dma_range(offset: usize, len: usize, size: usize) -> Result<(), DeviceError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DeviceError::DmaBounds { offset, len, size }),
    }
}

/// A PCIe function as the riptide driver uses it.
pub trait PcieDevice {
    /// Vendor and device id from config space.
    fn ids(&self) -> PciIds;
    /// A 32-bit register read at a 4-byte aligned `offset` of `bar`.
    fn read32(&mut self, bar: Bar, offset: u64) -> Result<u32, DeviceError>;
    /// A 32-bit register write. Every DMA write made before it is visible to
    /// the device when the device sees this write (doorbells depend on it).
    fn write32(&mut self, bar: Bar, offset: u64, value: u32) -> Result<(), DeviceError>;
    /// Maps `len` bytes (rounded up to whole pages, zeroed, page-aligned) for
    /// device reads and writes.
    fn dma_map(&mut self, len: usize) -> Result<DmaBuffer, DeviceError>;
    /// Unmaps a buffer; the device must no longer use it.
    fn dma_unmap(&mut self, buffer: DmaBuffer) -> Result<(), DeviceError>;
    /// Writes host bytes into a DMA buffer.
    fn dma_write(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), DeviceError>;
    /// Reads bytes the device wrote into a DMA buffer.
    fn dma_read(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        out: &mut [u8],
    ) -> Result<(), DeviceError>;
    /// Blocks until the device raises an interrupt or `timeout` passes.
    fn wait_interrupt(&mut self, timeout: Duration) -> Result<Wake, DeviceError>;
}
