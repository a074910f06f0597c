//! The Xilinx XDMA engine (DMA/Bridge Subsystem for PCI Express, AMD/Xilinx
//! PG195) in AXI4-Stream mode, as riptide drives it: one host-to-card (H2C) and
//! one card-to-host (C2H) channel, each a ring of descriptors in host memory.
//! It follows Xilinx's reference driver (`dma_ip_drivers`, XDMA `libxdma`)
//! where PG195 leaves a choice.
//!
//! H2C (no credit mode, as the reference runs every H2C engine):
//! - Each run of the engine is a chain of the descriptors queued since the
//!   last run; the last one carries the Stop bit, so the engine stops there.
//! - The driver starts a run (first descriptor, its adjacent count, Run) when
//!   the engine is idle, and stops the engine (Run cleared) once the run's
//!   descriptors are all counted complete. Descriptors and buffers of a run
//!   are never touched while it is in flight: the engine prefetches them.
//!
//! C2H (credit mode, which the reference offers for AXI4-Stream C2H only):
//! - The descriptors form a circle: descriptor `i` links to `i+1`, the last to
//!   the first; nothing in the circle carries the Stop bit.
//! - The engine fetches a descriptor only against a credit (SGDMA "descriptor
//!   credits" register): writing `k` there is the doorbell for `k` more.
//! - The engine writes a per-descriptor writeback (magic, end of packet,
//!   length) to the address in the descriptor's source field.
//!
//! Both: completion is counted: the engine writes its completed-descriptor
//! count to a host word (poll-mode writeback) after every descriptor carrying
//! the Completed bit, so the host polls memory, not registers. Adjacent counts
//! (`Nxt_adj`) follow [`adjacent_after`].
//!
//! Every register offset and bit of the engine used anywhere in riptide is in
//! [`reg`], [`control`], [`status`] and the constants below.

use super::device::{Bar, DeviceError, DmaBuffer, PcieDevice};
use std::fmt;
use thiserror::Error;

/// Register offsets within the XDMA BAR (PG195, "Register Space"). Address
/// bits [15:12] select a block, [11:8] a channel, [7:0] the register.
pub mod reg {
    pub const H2C_CHANNEL_BLOCK: u64 = 0x0000;
    pub const C2H_CHANNEL_BLOCK: u64 = 0x1000;
    pub const IRQ_BLOCK: u64 = 0x2000;
    pub const H2C_SGDMA_BLOCK: u64 = 0x4000;
    pub const C2H_SGDMA_BLOCK: u64 = 0x5000;
    pub const SGDMA_COMMON_BLOCK: u64 = 0x6000;
    pub const BLOCK_MASK: u64 = 0xF000;
    pub const CHANNEL_STRIDE: u64 = 0x100;
    pub const REGISTER_MASK: u64 = 0xFF;

    // Channel block (H2C 0x0000 + 0x100 * channel, C2H 0x1000 + ...).
    pub const IDENTIFIER: u64 = 0x00;
    pub const CONTROL: u64 = 0x04;
    pub const CONTROL_W1S: u64 = 0x08;
    pub const CONTROL_W1C: u64 = 0x0C;
    /// Status, bits RW1C.
    pub const STATUS: u64 = 0x40;
    /// Status, cleared by the read.
    pub const STATUS_RC: u64 = 0x44;
    pub const COMPLETED_COUNT: u64 = 0x48;
    /// PG195 channel register 0x4C: the engine's alignment requirements
    /// ([`super::Alignments`]).
    pub const ALIGNMENTS: u64 = 0x4C;
    pub const POLL_WB_LO: u64 = 0x88;
    pub const POLL_WB_HI: u64 = 0x8C;
    /// Which status bits raise the channel interrupt.
    pub const INTERRUPT_ENABLE: u64 = 0x90;

    // SGDMA block (H2C 0x4000 + 0x100 * channel, C2H 0x5000 + ...).
    pub const DESC_LO: u64 = 0x80;
    pub const DESC_HI: u64 = 0x84;
    /// Extra adjacent descriptors after the first one.
    pub const DESC_ADJACENT: u64 = 0x88;
    /// Write: add credits; read: credits left.
    pub const DESC_CREDITS: u64 = 0x8C;

    // SGDMA common block.
    /// H2C channel `c` at bit `c`, C2H channel `c` at bit `16 + c`.
    pub const CREDIT_MODE_ENABLE: u64 = 0x20;
    pub const CREDIT_MODE_ENABLE_W1S: u64 = 0x24;
    pub const CREDIT_MODE_ENABLE_W1C: u64 = 0x28;

    // IRQ block: one enable bit per engine, H2C engines first, then C2H.
    pub const CHANNEL_INT_ENABLE: u64 = 0x10;
    pub const CHANNEL_INT_ENABLE_W1S: u64 = 0x14;
    pub const CHANNEL_INT_ENABLE_W1C: u64 = 0x18;
}

/// Channel control register bits (PG195 "H2C/C2H Channel Control (0x04)").
/// The `IE_*` bits log the matching status bit (and stop the engine on errors).
pub mod control {
    pub const RUN: u32 = 1 << 0;
    pub const IE_DESC_STOPPED: u32 = 1 << 1;
    pub const IE_DESC_COMPLETED: u32 = 1 << 2;
    pub const IE_ALIGN_MISMATCH: u32 = 1 << 3;
    pub const IE_MAGIC_STOPPED: u32 = 1 << 4;
    pub const IE_INVALID_LENGTH: u32 = 1 << 5;
    pub const IE_IDLE_STOPPED: u32 = 1 << 6;
    pub const IE_READ_ERROR: u32 = 0x1F << 9;
    /// H2C only; reserved on C2H.
    pub const IE_WRITE_ERROR: u32 = 0x1F << 14;
    pub const IE_DESC_ERROR: u32 = 0x1F << 19;
    pub const POLLMODE_WB_ENABLE: u32 = 1 << 26;
    /// C2H stream: do not write the per-descriptor writeback.
    pub const STREAM_WB_DISABLE: u32 = 1 << 27;
}

/// Channel status register bits (PG195 "H2C/C2H Channel Status (0x40)").
pub mod status {
    pub const BUSY: u32 = 1 << 0;
    pub const DESC_STOPPED: u32 = 1 << 1;
    pub const DESC_COMPLETED: u32 = 1 << 2;
    pub const ALIGN_MISMATCH: u32 = 1 << 3;
    pub const MAGIC_STOPPED: u32 = 1 << 4;
    pub const INVALID_LENGTH: u32 = 1 << 5;
    pub const IDLE_STOPPED: u32 = 1 << 6;
    pub const READ_ERROR_SHIFT: u32 = 9;
    pub const WRITE_ERROR_SHIFT: u32 = 14;
    pub const DESC_ERROR_SHIFT: u32 = 19;
    pub const READ_ERROR: u32 = 0x1F << READ_ERROR_SHIFT;
    pub const WRITE_ERROR: u32 = 0x1F << WRITE_ERROR_SHIFT;
    pub const DESC_ERROR: u32 = 0x1F << DESC_ERROR_SHIFT;
    /// Every bit that means the engine stopped on a fault.
    pub const ERRORS: u32 =
        ALIGN_MISMATCH | MAGIC_STOPPED | INVALID_LENGTH | READ_ERROR | WRITE_ERROR | DESC_ERROR;
    /// Bit 0 of the read/descriptor error fields: PCIe Unsupported Request
    /// (typically an address the IOMMU does not map).
    pub const UNSUPPORTED_REQUEST: u32 = 1;
}

/// Descriptor control field bits (low byte of the first descriptor word).
pub const DESC_STOP: u8 = 1 << 0;
pub const DESC_COMPLETED: u8 = 1 << 1;
pub const DESC_EOP: u8 = 1 << 4;
/// Upper 16 bits of every descriptor's first word.
pub const DESC_MAGIC: u16 = 0xAD4B;
pub const DESCRIPTOR_LEN: usize = 32;
/// `Nxt_adj` is 6 bits.
pub const MAX_ADJACENT: usize = 63;
/// PG195/PG344 "Descriptors": a block of adjacent descriptors must not cross
/// a 4 KiB boundary. The reference driver (`xdma_get_next_adj`) goes further
/// and aligns blocks to 64 descriptors (2 KiB), the most one `Nxt_adj` can
/// name; so do we, which meets PG195's rule with room to spare.
pub const ADJACENT_BLOCK_DESCRIPTORS: usize = MAX_ADJACENT + 1;
/// The 4 KiB boundary PG195 forbids a block of adjacent descriptors to cross.
pub const DESCRIPTOR_FETCH_BOUNDARY: u64 = 4096;
/// The descriptor length field is 28 bits.
pub const MAX_DESC_LEN: usize = (1 << 28) - 1;
/// The credit register holds 10 bits, so at most this many descriptors are
/// ever outstanding, which bounds the ring size.
pub const MAX_CREDITS: usize = 1023;
/// C2H stream buffers (descriptor lengths) must be a multiple of this; riptide
/// keeps H2C chunks to it too, so multi-descriptor records stay beat-packed.
pub const STREAM_LEN_MULTIPLE: usize = 64;

/// Upper 16 bits of the C2H stream writeback's first word.
pub const C2H_WB_MAGIC: u16 = 0x52B4;
/// Bytes the engine writes per C2H writeback.
pub const C2H_WB_LEN: usize = 8;
/// Spacing of C2H writebacks in host memory (one per descriptor).
pub const C2H_WB_STRIDE: usize = 32;

/// Poll-mode writeback word: an error flag and the low 24 bits of the
/// completed-descriptor count.
pub const POLL_WB_ERROR: u32 = 1 << 31;
pub const POLL_WB_COUNT_MASK: u32 = 0x00FF_FFFF;

/// Identifier register: [31:20] subsystem 0x1FC, [19:16] target (0 H2C,
/// 1 C2H), [15] AXI4-Stream, [11:8] channel, [7:0] version.
pub const IDENTIFIER_SUBSYSTEM: u32 = 0x1FC;
pub const IDENTIFIER_STREAM: u32 = 1 << 15;

/// The largest record riptide reassembles from the C2H stream: a punted
/// jumbo datagram with its headers fits well below it.
pub const MAX_PACKET: usize = 128 * 1024;

/// Data direction of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    H2c,
    C2h,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::H2c => "H2C",
            Direction::C2h => "C2H",
        })
    }
}

/// An engine's `alignments` register (PG195): source/destination address
/// alignment and length granularity in bytes, and address bits. A zero
/// register means unspecified, which Xilinx's reference driver
/// (`dma_ip_drivers`, libxdma) takes as byte alignment, byte granularity and
/// 64 address bits; so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alignments {
    pub address: u32,
    pub granularity: u32,
    pub address_bits: u32,
}

impl Alignments {
    pub const fn decode(word: u32) -> Alignments {
        if word == 0 {
            return Alignments {
                address: 1,
                granularity: 1,
                address_bits: 64,
            };
        }
        Alignments {
            address: (word >> 16) & 0xFF,
            granularity: (word >> 8) & 0xFF,
            address_bits: word & 0xFF,
        }
    }

    /// Where buffer `index` starts in a ring of `buffer_size`-byte buffers:
    /// at multiples of the buffer size rounded up to the engine's address
    /// alignment (the mapping itself is page-aligned), `None` if that
    /// alignment is not a power of two.
    pub fn buffer_stride(&self, buffer_size: usize) -> Option<usize> {
        let address = self.address as usize;
        address
            .is_power_of_two()
            .then(|| buffer_size.next_multiple_of(address.max(STREAM_LEN_MULTIPLE)))
    }

    /// Whether riptide's rings can meet them: buffers placed at
    /// [`Alignments::buffer_stride`]; C2H lengths are the buffer size, H2C
    /// lengths are any record's.
    pub fn fit(&self, direction: Direction, buffer_size: usize) -> bool {
        let granularity = self.granularity as usize;
        self.buffer_stride(buffer_size).is_some()
            && granularity != 0
            && match direction {
                Direction::C2h => buffer_size.is_multiple_of(granularity),
                Direction::H2c => granularity == 1,
            }
            && self.address_bits >= 64
    }
}

/// One DMA engine: a direction and a channel number (0..4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Engine {
    pub direction: Direction,
    pub channel: u8,
}

impl Engine {
    pub const fn new(direction: Direction, channel: u8) -> Engine {
        Engine { direction, channel }
    }

    /// Offset of a channel-block register of this engine.
    pub const fn channel_reg(&self, register: u64) -> u64 {
        let block = match self.direction {
            Direction::H2c => reg::H2C_CHANNEL_BLOCK,
            Direction::C2h => reg::C2H_CHANNEL_BLOCK,
        };
        block + reg::CHANNEL_STRIDE * self.channel as u64 + register
    }

    /// Offset of an SGDMA-block register of this engine.
    pub const fn sgdma_reg(&self, register: u64) -> u64 {
        let block = match self.direction {
            Direction::H2c => reg::H2C_SGDMA_BLOCK,
            Direction::C2h => reg::C2H_SGDMA_BLOCK,
        };
        block + reg::CHANNEL_STRIDE * self.channel as u64 + register
    }

    /// This engine's bit in the SGDMA common credit-mode registers.
    pub const fn credit_bit(&self) -> u32 {
        match self.direction {
            Direction::H2c => 1 << self.channel,
            Direction::C2h => 1 << (16 + self.channel),
        }
    }

    /// This engine's bit in the IRQ block channel enable, given how many H2C
    /// channels the IP was built with (C2H engines follow the H2C ones).
    pub const fn irq_bit(&self, h2c_channels: u8) -> u32 {
        match self.direction {
            Direction::H2c => 1 << self.channel,
            Direction::C2h => 1 << (h2c_channels + self.channel),
        }
    }

    /// The identifier register of this engine in streaming mode.
    pub const fn identifier(&self, version: u8) -> u32 {
        let target = match self.direction {
            Direction::H2c => 0,
            Direction::C2h => 1,
        };
        IDENTIFIER_SUBSYSTEM << 20
            | target << 16
            | IDENTIFIER_STREAM
            | (self.channel as u32) << 8
            | version as u32
    }

    /// The control register value riptide runs the engine with: every error
    /// logged (and stopping the engine), completions counted to host memory,
    /// a Stop descriptor logged.
    pub const fn running_control(&self) -> u32 {
        let common = control::RUN
            | control::IE_DESC_STOPPED
            | control::IE_DESC_COMPLETED
            | control::IE_ALIGN_MISMATCH
            | control::IE_MAGIC_STOPPED
            | control::IE_INVALID_LENGTH
            | control::IE_READ_ERROR
            | control::IE_DESC_ERROR
            | control::POLLMODE_WB_ENABLE;
        match self.direction {
            Direction::H2c => common | control::IE_WRITE_ERROR,
            Direction::C2h => common,
        }
    }

    /// The engine and register an offset in the XDMA BAR names, for channel
    /// and SGDMA blocks: `(engine, is_sgdma_block, register)`.
    pub fn decode_offset(offset: u64) -> Option<(Engine, bool, u64)> {
        let channel = ((offset >> 8) & 0xF) as u8;
        let register = offset & reg::REGISTER_MASK;
        let (direction, sgdma) = match offset & reg::BLOCK_MASK {
            reg::H2C_CHANNEL_BLOCK => (Direction::H2c, false),
            reg::C2H_CHANNEL_BLOCK => (Direction::C2h, false),
            reg::H2C_SGDMA_BLOCK => (Direction::H2c, true),
            reg::C2H_SGDMA_BLOCK => (Direction::C2h, true),
            _ => return None,
        };
        Some((Engine::new(direction, channel), sgdma, register))
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} channel {}", self.direction, self.channel)
    }
}

/// A channel status value, decoded for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStatus(pub u32);

impl EngineStatus {
    pub fn errors(&self) -> u32 {
        self.0 & status::ERRORS
    }

    pub fn has(&self, bits: u32) -> bool {
        self.0 & bits != 0
    }
}

const PCIE_ERRORS: [&str; 5] = [
    "unsupported request (address not mapped by the IOMMU?)",
    "completer abort",
    "parity error",
    "poisoned TLP (header EP)",
    "unexpected completion",
];
const AXI_ERRORS: [&str; 2] = ["AXI decode error", "AXI slave error"];

impl fmt::Display for EngineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let flags = [
            (status::MAGIC_STOPPED, "descriptor without the 0xAD4B magic"),
            (
                status::INVALID_LENGTH,
                "descriptor length invalid for the stream (C2H needs a multiple of 64)",
            ),
            (
                status::ALIGN_MISMATCH,
                "source and destination misaligned to each other",
            ),
            (
                status::DESC_STOPPED,
                "stopped at a descriptor with the Stop bit",
            ),
        ];
        for (bit, text) in flags {
            if self.has(bit) {
                parts.push(text.to_string());
            }
        }
        let fields: [(&str, u32, &[&str]); 3] = [
            ("data read", status::READ_ERROR_SHIFT, &PCIE_ERRORS),
            ("AXI write", status::WRITE_ERROR_SHIFT, &AXI_ERRORS),
            ("descriptor fetch", status::DESC_ERROR_SHIFT, &PCIE_ERRORS),
        ];
        for (what, shift, names) in fields {
            let bits = (self.0 >> shift) & 0x1F;
            for (i, name) in names.iter().enumerate() {
                if bits & (1 << i) != 0 {
                    parts.push(format!("{what} failed: {name}"));
                }
            }
        }
        if parts.is_empty() {
            parts.push("no error bits".to_string());
        }
        write!(f, "status {:#010x}: {}", self.0, parts.join("; "))
    }
}

/// Why the XDMA layer failed.
#[derive(Debug, Error)]
pub enum XdmaError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(
        "XDMA {engine}: identifier register reads {found:#010x}, not an XDMA engine \
         (0x1fc in bits 31:20): is BAR {bar} the XDMA register BAR? With the AXI-Lite \
         master enabled the XDMA registers are BAR 1, otherwise BAR 0"
    )]
    NotAnEngine {
        engine: Engine,
        bar: Bar,
        found: u32,
    },
    #[error(
        "XDMA {engine} is memory-mapped (identifier {found:#010x}); riptide needs the \
         AXI4-Stream interface: rebuild the bitstream with the XDMA IP in AXI-Stream mode"
    )]
    NotStreaming { engine: Engine, found: u32 },
    #[error(
        "XDMA {engine} needs {found:?} (alignments register), which riptide's rings cannot \
         meet (power-of-two buffer alignment, any H2C length, C2H lengths of the buffer \
         size, 64-bit addresses): rebuild the bitstream with riptide hw project's xdma_0.tcl"
    )]
    Alignment { engine: Engine, found: Alignments },
    #[error("XDMA {engine} stopped: {status}")]
    Engine {
        engine: Engine,
        status: EngineStatus,
    },
    #[error("ring geometry rejected: {0}")]
    Geometry(String),
    #[error("an empty packet cannot be sent on the H2C stream")]
    EmptyPacket,
    #[error("a {len}-byte packet needs {needed} descriptors, more than the ring's {capacity}")]
    TooLarge {
        len: usize,
        needed: usize,
        capacity: usize,
    },
    #[error("H2C ring full: {in_flight} of {capacity} descriptors still in flight")]
    RingFull { in_flight: u64, capacity: usize },
    #[error(
        "XDMA {engine} reports {completed} completed descriptors but only {posted} were posted"
    )]
    CountOverrun {
        engine: Engine,
        completed: u64,
        posted: u64,
    },
    #[error("C2H descriptor {index}: writeback magic {found:#06x}, expected 0x52b4")]
    BadWriteback { index: usize, found: u16 },
    #[error("C2H descriptor {index}: writeback length {len} exceeds its {size}-byte buffer")]
    WritebackTooLong {
        index: usize,
        len: usize,
        size: usize,
    },
    #[error("C2H packet grew past {max} bytes without an end of packet; dropped")]
    PacketTooLong { max: usize },
}

/// Why 32 bytes are not a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("descriptor magic {found:#06x}, expected 0xad4b")]
pub struct BadMagic {
    pub found: u16,
}

/// One XDMA descriptor (32 bytes, little-endian words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// `DESC_STOP | DESC_COMPLETED | DESC_EOP` bits.
    pub control: u8,
    /// Descriptors adjacent to the one at `next`, fetched along with it.
    pub next_adjacent: u8,
    /// Bytes to move (28 bits).
    pub len: u32,
    /// H2C: host data; C2H stream: host address of the writeback.
    pub src: u64,
    /// C2H: host buffer; H2C stream: unused.
    pub dst: u64,
    pub next: u64,
}

impl Descriptor {
    pub fn encode(&self) -> [u8; DESCRIPTOR_LEN] {
        let first = (DESC_MAGIC as u32) << 16
            | ((self.next_adjacent as u32 & MAX_ADJACENT as u32) << 8)
            | self.control as u32;
        let words = [
            first,
            self.len & MAX_DESC_LEN as u32,
            self.src as u32,
            (self.src >> 32) as u32,
            self.dst as u32,
            (self.dst >> 32) as u32,
            self.next as u32,
            (self.next >> 32) as u32,
        ];
        let mut out = [0u8; DESCRIPTOR_LEN];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8; DESCRIPTOR_LEN]) -> Result<Descriptor, BadMagic> {
        let word = |i: usize| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        };
        let pair = |i: usize| word(i) as u64 | (word(i + 1) as u64) << 32;
        let first = word(0);
        let magic = (first >> 16) as u16;
        if magic != DESC_MAGIC {
            return Err(BadMagic { found: magic });
        }
        Ok(Descriptor {
            control: first as u8,
            next_adjacent: ((first >> 8) & MAX_ADJACENT as u32) as u8,
            len: word(1) & MAX_DESC_LEN as u32,
            src: pair(2),
            dst: pair(4),
            next: pair(6),
        })
    }
}

/// The C2H stream writeback of one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct C2hWriteback {
    pub eop: bool,
    pub len: u32,
}

impl C2hWriteback {
    pub fn encode(&self) -> [u8; C2H_WB_LEN] {
        let first = (C2H_WB_MAGIC as u32) << 16 | self.eop as u32;
        let mut out = [0u8; C2H_WB_LEN];
        out[..4].copy_from_slice(&first.to_le_bytes());
        out[4..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Err carries the magic found instead of 0x52B4.
    pub fn decode(bytes: &[u8; C2H_WB_LEN]) -> Result<C2hWriteback, u16> {
        let first = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let magic = (first >> 16) as u16;
        if magic != C2H_WB_MAGIC {
            return Err(magic);
        }
        Ok(C2hWriteback {
            eop: first & 1 == 1,
            len: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        })
    }
}

/// `Nxt_adj` for the block starting at descriptor `next` of an `n`-descriptor
/// ring, when `following` more descriptors of the chain come after it: those
/// physically after it, up to the chain's end, the ring's end and the end of
/// its 64-descriptor block (the reference driver's rule, which keeps every
/// block inside PG195's 4 KiB). The ring starts on a page.
pub fn adjacent_after(next: usize, n: usize, following: usize) -> u8 {
    let to_ring_end = n - 1 - next;
    let to_block_end = ADJACENT_BLOCK_DESCRIPTORS - 1 - next % ADJACENT_BLOCK_DESCRIPTORS;
    following.min(to_ring_end).min(to_block_end) as u8
}

/// Size of a descriptor ring and of the buffer behind each descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    pub descriptors: usize,
    pub buffer_size: usize,
}

impl RingConfig {
    fn check(&self) -> Result<(), XdmaError> {
        if !(2..=MAX_CREDITS).contains(&self.descriptors) {
            return Err(XdmaError::Geometry(format!(
                "{} descriptors: need 2 to {MAX_CREDITS} (the credit register is 10 bits)",
                self.descriptors
            )));
        }
        if self.buffer_size == 0
            || !self.buffer_size.is_multiple_of(STREAM_LEN_MULTIPLE)
            || self.buffer_size > MAX_DESC_LEN
        {
            return Err(XdmaError::Geometry(format!(
                "buffer size {}: need a non-zero multiple of {STREAM_LEN_MULTIPLE} below 2^28",
                self.buffer_size
            )));
        }
        Ok(())
    }
}

/// What both directions share: the descriptor circle, the data buffers and the
/// completion count written back by the engine.
#[derive(Debug)]
struct Ring {
    engine: Engine,
    bar: Bar,
    config: RingConfig,
    /// Distance between buffers: the buffer size, rounded up to the engine's
    /// address alignment.
    stride: usize,
    descriptors: DmaBuffer,
    buffers: DmaBuffer,
    completion: DmaBuffer,
    /// Descriptors the engine reported done since the channel started.
    completed: u64,
    /// The last 24-bit count seen, to extend it past its wrap.
    last_count: u32,
}

impl Ring {
    /// Stops the engine, checks that it is a streaming XDMA engine whose
    /// alignment needs the rings can meet, and maps the ring's memory.
    fn open<D: PcieDevice>(
        dev: &mut D,
        engine: Engine,
        bar: Bar,
        config: RingConfig,
    ) -> Result<Ring, XdmaError> {
        config.check()?;
        dev.write32(bar, engine.channel_reg(reg::CONTROL), 0)?;
        dev.read32(bar, engine.channel_reg(reg::STATUS_RC))?;
        let id = dev.read32(bar, engine.channel_reg(reg::IDENTIFIER))?;
        let expected = engine.identifier(0);
        if id >> 20 != IDENTIFIER_SUBSYSTEM || (id >> 16) & 0xF != (expected >> 16) & 0xF {
            return Err(XdmaError::NotAnEngine {
                engine,
                bar,
                found: id,
            });
        }
        if id & IDENTIFIER_STREAM == 0 {
            return Err(XdmaError::NotStreaming { engine, found: id });
        }
        let alignments = Alignments::decode(dev.read32(bar, engine.channel_reg(reg::ALIGNMENTS))?);
        let stride = match alignments.buffer_stride(config.buffer_size) {
            Some(stride) if alignments.fit(engine.direction, config.buffer_size) => stride,
            _ => {
                return Err(XdmaError::Alignment {
                    engine,
                    found: alignments,
                });
            }
        };
        Ok(Ring {
            engine,
            bar,
            config,
            stride,
            descriptors: dev.dma_map(config.descriptors * DESCRIPTOR_LEN)?,
            buffers: dev.dma_map(config.descriptors * stride)?,
            completion: dev.dma_map(4)?,
            completed: 0,
            last_count: 0,
        })
    }

    fn len(&self) -> usize {
        self.config.descriptors
    }

    fn buffer_offset(&self, index: usize) -> usize {
        index * self.stride
    }

    /// The descriptor at `index` with its link to the next one, `following`
    /// descriptors of the chain after that next one.
    fn linked(
        &self,
        index: usize,
        following: usize,
        control: u8,
        len: usize,
        src: u64,
        dst: u64,
    ) -> Descriptor {
        let next = (index + 1) % self.len();
        Descriptor {
            control,
            next_adjacent: adjacent_after(next, self.len(), following),
            len: len as u32,
            src,
            dst,
            next: self.descriptors.iova_at(next * DESCRIPTOR_LEN),
        }
    }

    fn write_descriptor<D: PcieDevice>(
        &self,
        dev: &mut D,
        index: usize,
        descriptor: &Descriptor,
    ) -> Result<(), XdmaError> {
        dev.dma_write(
            &self.descriptors,
            index * DESCRIPTOR_LEN,
            &descriptor.encode(),
        )?;
        Ok(())
    }

    /// Points the engine at descriptor `first`, whose block is `adjacent`
    /// more descriptors long.
    fn point_at<D: PcieDevice>(
        &self,
        dev: &mut D,
        first: usize,
        adjacent: u8,
    ) -> Result<(), XdmaError> {
        let (e, bar) = (self.engine, self.bar);
        let address = self.descriptors.iova_at(first * DESCRIPTOR_LEN);
        dev.write32(bar, e.sgdma_reg(reg::DESC_LO), address as u32)?;
        dev.write32(bar, e.sgdma_reg(reg::DESC_HI), (address >> 32) as u32)?;
        dev.write32(bar, e.sgdma_reg(reg::DESC_ADJACENT), adjacent.into())?;
        Ok(())
    }

    /// Where the engine writes its completed count, and which status bits
    /// interrupt.
    fn program_completion<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        let (e, bar) = (self.engine, self.bar);
        let wb = self.completion.iova();
        dev.write32(bar, e.channel_reg(reg::POLL_WB_LO), wb as u32)?;
        dev.write32(bar, e.channel_reg(reg::POLL_WB_HI), (wb >> 32) as u32)?;
        dev.write32(
            bar,
            e.channel_reg(reg::INTERRUPT_ENABLE),
            status::DESC_COMPLETED | status::ERRORS,
        )?;
        Ok(())
    }

    /// Sets Run: the engine fetches from the programmed descriptor and its
    /// completed count restarts from zero, so the host's copy does too.
    fn run<D: PcieDevice>(&mut self, dev: &mut D) -> Result<(), XdmaError> {
        dev.dma_write(&self.completion, 0, &[0u8; 4])?;
        self.last_count = 0;
        dev.write32(
            self.bar,
            self.engine.channel_reg(reg::CONTROL),
            self.engine.running_control(),
        )?;
        Ok(())
    }

    /// The doorbell of a credit-mode engine: lets it fetch `count` more
    /// descriptors.
    fn grant<D: PcieDevice>(&self, dev: &mut D, count: usize) -> Result<(), XdmaError> {
        dev.write32(
            self.bar,
            self.engine.sgdma_reg(reg::DESC_CREDITS),
            count as u32,
        )?;
        Ok(())
    }

    /// Reads the completion word; returns how many descriptors completed since
    /// the last call.
    fn refresh<D: PcieDevice>(&mut self, dev: &mut D) -> Result<u64, XdmaError> {
        let mut word = [0u8; 4];
        dev.dma_read(&self.completion, 0, &mut word)?;
        let word = u32::from_le_bytes(word);
        if word & POLL_WB_ERROR != 0 {
            return Err(self.engine_error(dev)?);
        }
        let count = word & POLL_WB_COUNT_MASK;
        let delta = count.wrapping_sub(self.last_count) & POLL_WB_COUNT_MASK;
        self.last_count = count;
        self.completed += u64::from(delta);
        Ok(delta.into())
    }

    /// The typed error for the engine's current status.
    fn engine_error<D: PcieDevice>(&self, dev: &mut D) -> Result<XdmaError, XdmaError> {
        let value = dev.read32(self.bar, self.engine.channel_reg(reg::STATUS))?;
        Ok(XdmaError::Engine {
            engine: self.engine,
            status: EngineStatus(value),
        })
    }

    /// Reads the status register: an error if the engine stopped on a fault.
    fn check<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        let value = dev.read32(self.bar, self.engine.channel_reg(reg::STATUS))?;
        let status = EngineStatus(value);
        if status.errors() != 0 {
            return Err(XdmaError::Engine {
                engine: self.engine,
                status,
            });
        }
        Ok(())
    }

    /// Stops the engine and masks its interrupts.
    fn stop<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        let e = self.engine;
        dev.write32(self.bar, e.channel_reg(reg::CONTROL), 0)?;
        dev.write32(self.bar, e.channel_reg(reg::INTERRUPT_ENABLE), 0)?;
        Ok(())
    }
}

/// One descriptor's worth of a queued packet.
#[derive(Debug, Clone, Copy, Default)]
struct Chunk {
    len: usize,
    eop: bool,
}

/// The host-to-card stream: packets (h2c records) copied into ring buffers,
/// one descriptor per buffer-sized chunk, end of packet on the last, run by
/// the engine in Stop-terminated chains.
#[derive(Debug)]
pub struct H2cChannel {
    ring: Ring,
    /// What each ring slot holds, written into its descriptor when a run
    /// starts.
    chunks: Vec<Chunk>,
    /// Descriptors filled since the channel started.
    posted: u64,
    /// Descriptors handed to the engine in runs; the run in flight is
    /// `completed..started`.
    started: u64,
}

impl H2cChannel {
    pub fn start<D: PcieDevice>(
        dev: &mut D,
        bar: Bar,
        channel: u8,
        config: RingConfig,
    ) -> Result<H2cChannel, XdmaError> {
        let ring = Ring::open(dev, Engine::new(Direction::H2c, channel), bar, config)?;
        // Every descriptor is rewritten before a run uses it; until then each
        // is a Stop descriptor linked around the circle, so that a stray
        // fetch neither leaves the ring nor runs on.
        for index in 0..ring.len() {
            let src = ring.buffers.iova_at(ring.buffer_offset(index));
            let descriptor = ring.linked(index, 0, DESC_STOP | DESC_COMPLETED, 0, src, 0);
            ring.write_descriptor(dev, index, &descriptor)?;
        }
        ring.program_completion(dev)?;
        Ok(H2cChannel {
            chunks: vec![Chunk::default(); ring.len()],
            ring,
            posted: 0,
            started: 0,
        })
    }

    pub fn engine(&self) -> Engine {
        self.ring.engine
    }

    /// Bus address of descriptor 0.
    pub fn ring_iova(&self) -> u64 {
        self.ring.descriptors.iova()
    }

    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// Descriptors posted and not yet reported complete.
    pub fn in_flight(&self) -> u64 {
        self.posted - self.ring.completed
    }

    /// Queues one packet: copies it into free buffers and, if the engine is
    /// idle, starts a run with everything queued.
    pub fn send<D: PcieDevice>(&mut self, dev: &mut D, packet: &[u8]) -> Result<(), XdmaError> {
        if packet.is_empty() {
            return Err(XdmaError::EmptyPacket);
        }
        let size = self.ring.config.buffer_size;
        let needed = packet.len().div_ceil(size);
        if needed > self.capacity() {
            return Err(XdmaError::TooLarge {
                len: packet.len(),
                needed,
                capacity: self.capacity(),
            });
        }
        if self.free() < needed {
            self.reap(dev)?;
        }
        if self.free() < needed {
            if self.in_flight() > 0 {
                self.ring.check(dev)?;
            }
            return Err(XdmaError::RingFull {
                in_flight: self.in_flight(),
                capacity: self.capacity(),
            });
        }
        for (k, chunk) in packet.chunks(size).enumerate() {
            let index = self.slot(self.posted);
            dev.dma_write(&self.ring.buffers, self.ring.buffer_offset(index), chunk)?;
            self.chunks[index] = Chunk {
                len: chunk.len(),
                eop: k + 1 == needed,
            };
            self.posted += 1;
        }
        self.reap(dev)?;
        Ok(())
    }

    /// Takes in the engine's completion count, stops the engine after a
    /// finished run and starts the next one; returns descriptors newly done.
    pub fn reap<D: PcieDevice>(&mut self, dev: &mut D) -> Result<u64, XdmaError> {
        let mut done = 0;
        if self.ring.completed < self.started {
            done = self.ring.refresh(dev)?;
            if self.ring.completed > self.started {
                return Err(XdmaError::CountOverrun {
                    engine: self.ring.engine,
                    completed: self.ring.completed,
                    posted: self.started,
                });
            }
            if self.ring.completed < self.started {
                if done == 0 {
                    // No progress with work outstanding: a fault stops the
                    // engine without any writeback, so only the status
                    // register tells.
                    self.ring.check(dev)?;
                }
                return Ok(done);
            }
            // The run reached its Stop descriptor: clear Run, as the
            // reference driver does before it starts the engine again.
            dev.write32(
                self.ring.bar,
                self.ring.engine.channel_reg(reg::CONTROL_W1C),
                control::RUN,
            )?;
        }
        if self.started < self.posted {
            self.start_run(dev)?;
        }
        Ok(done)
    }

    /// Writes the descriptors of everything queued as one chain ending in a
    /// Stop descriptor, then starts the engine on it. The engine is idle.
    fn start_run<D: PcieDevice>(&mut self, dev: &mut D) -> Result<(), XdmaError> {
        let count = (self.posted - self.started) as usize;
        let first = self.slot(self.started);
        for k in 0..count {
            let index = self.slot(self.started + k as u64);
            let chunk = self.chunks[index];
            let last = k + 1 == count;
            let mut flags = DESC_COMPLETED;
            if chunk.eop {
                flags |= DESC_EOP;
            }
            if last {
                flags |= DESC_STOP;
            }
            let following = (count - k).saturating_sub(2);
            let src = self.ring.buffers.iova_at(self.ring.buffer_offset(index));
            let mut descriptor = self.ring.linked(index, following, flags, chunk.len, src, 0);
            if last {
                descriptor.next_adjacent = 0;
            }
            self.ring.write_descriptor(dev, index, &descriptor)?;
        }
        let adjacent = adjacent_after(first, self.capacity(), count - 1);
        self.ring.point_at(dev, first, adjacent)?;
        self.started = self.posted;
        self.ring.run(dev)
    }

    fn slot(&self, count: u64) -> usize {
        (count % self.capacity() as u64) as usize
    }

    fn free(&self) -> usize {
        self.capacity() - self.in_flight() as usize
    }

    pub fn check<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        self.ring.check(dev)
    }

    pub fn stop<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        self.ring.stop(dev)
    }
}

/// The card-to-host stream: every descriptor owns a buffer and a writeback
/// slot; the host consumes descriptors in ring order and returns each as a
/// credit once its bytes are copied out.
#[derive(Debug)]
pub struct C2hChannel {
    ring: Ring,
    writebacks: DmaBuffer,
    /// Descriptors the host has taken the data of.
    consumed: u64,
    /// Bytes of a packet whose end has not arrived yet.
    partial: Vec<u8>,
}

impl C2hChannel {
    pub fn start<D: PcieDevice>(
        dev: &mut D,
        bar: Bar,
        channel: u8,
        config: RingConfig,
    ) -> Result<C2hChannel, XdmaError> {
        let mut ring = Ring::open(dev, Engine::new(Direction::C2h, channel), bar, config)?;
        let writebacks = dev.dma_map(ring.len() * C2H_WB_STRIDE)?;
        // C2H descriptors never change: each points at its own buffer and its
        // own writeback slot, so returning a credit is all a refill takes.
        for index in 0..ring.len() {
            let wb = writebacks.iova_at(index * C2H_WB_STRIDE);
            let buffer = ring.buffers.iova_at(ring.buffer_offset(index));
            let following = ring.len() - 1;
            let descriptor = ring.linked(
                index,
                following,
                DESC_COMPLETED,
                config.buffer_size,
                wb,
                buffer,
            );
            ring.write_descriptor(dev, index, &descriptor)?;
        }
        ring.point_at(dev, 0, adjacent_after(0, ring.len(), ring.len() - 1))?;
        ring.program_completion(dev)?;
        dev.write32(
            bar,
            reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE_W1S,
            ring.engine.credit_bit(),
        )?;
        ring.run(dev)?;
        ring.grant(dev, ring.len())?;
        Ok(C2hChannel {
            ring,
            writebacks,
            consumed: 0,
            partial: Vec::new(),
        })
    }

    pub fn engine(&self) -> Engine {
        self.ring.engine
    }

    /// Bus address of descriptor 0.
    pub fn ring_iova(&self) -> u64 {
        self.ring.descriptors.iova()
    }

    /// The next whole packet the card sent, if one has fully arrived.
    pub fn poll<D: PcieDevice>(&mut self, dev: &mut D) -> Result<Option<Vec<u8>>, XdmaError> {
        loop {
            if self.consumed == self.ring.completed {
                self.ring.refresh(dev)?;
                if self.consumed == self.ring.completed {
                    return Ok(None);
                }
            }
            if let Some(packet) = self.take_descriptor(dev)? {
                return Ok(Some(packet));
            }
        }
    }

    /// Consumes the oldest filled descriptor; returns a packet if it ended one.
    /// The descriptor is given back to the engine even when its writeback is
    /// bad, so one corrupt entry never wedges the ring.
    fn take_descriptor<D: PcieDevice>(
        &mut self,
        dev: &mut D,
    ) -> Result<Option<Vec<u8>>, XdmaError> {
        let index = (self.consumed % self.ring.len() as u64) as usize;
        let mut raw = [0u8; C2H_WB_LEN];
        dev.dma_read(&self.writebacks, index * C2H_WB_STRIDE, &mut raw)?;
        let writeback = C2hWriteback::decode(&raw);
        if let Ok(wb) = writeback
            && (wb.len as usize) <= self.ring.config.buffer_size
        {
            let start = self.partial.len();
            self.partial.resize(start + wb.len as usize, 0);
            let offset = self.ring.buffer_offset(index);
            dev.dma_read(&self.ring.buffers, offset, &mut self.partial[start..])?;
        }
        // Cleared so that a stale writeback can never pass for a fresh one.
        dev.dma_write(&self.writebacks, index * C2H_WB_STRIDE, &[0u8; C2H_WB_LEN])?;
        self.consumed += 1;
        self.ring.grant(dev, 1)?;
        let wb = match writeback {
            Ok(wb) => wb,
            Err(found) => {
                self.partial.clear();
                return Err(XdmaError::BadWriteback { index, found });
            }
        };
        if wb.len as usize > self.ring.config.buffer_size {
            self.partial.clear();
            return Err(XdmaError::WritebackTooLong {
                index,
                len: wb.len as usize,
                size: self.ring.config.buffer_size,
            });
        }
        if self.partial.len() > MAX_PACKET {
            self.partial.clear();
            return Err(XdmaError::PacketTooLong { max: MAX_PACKET });
        }
        Ok(wb.eop.then(|| std::mem::take(&mut self.partial)))
    }

    pub fn check<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        self.ring.check(dev)
    }

    /// Clears the engine's logged status after an interrupt (the read clears
    /// it), so the next completion raises a new one; errors are returned.
    pub fn acknowledge<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        let value = dev.read32(self.ring.bar, self.ring.engine.channel_reg(reg::STATUS_RC))?;
        let status = EngineStatus(value);
        if status.errors() != 0 {
            return Err(XdmaError::Engine {
                engine: self.ring.engine,
                status,
            });
        }
        Ok(())
    }

    /// Stops the engine and takes it out of credit mode.
    pub fn stop<D: PcieDevice>(&self, dev: &mut D) -> Result<(), XdmaError> {
        self.ring.stop(dev)?;
        dev.write32(
            self.ring.bar,
            reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE_W1C,
            self.ring.engine.credit_bit(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alignments_decode_as_the_reference_driver_and_are_checked_against_the_rings() {
        use super::{Alignments, Direction};
        let unspecified = Alignments::decode(0);
        assert_eq!(
            (
                unspecified.address,
                unspecified.granularity,
                unspecified.address_bits
            ),
            (1, 1, 64)
        );
        assert!(unspecified.fit(Direction::H2c, 4096) && unspecified.fit(Direction::C2h, 4096));
        let wide = Alignments::decode(0x0040_4040);
        assert_eq!(
            (wide.address, wide.granularity, wide.address_bits),
            (64, 64, 64)
        );
        assert!(wide.fit(Direction::C2h, 4096));
        assert!(
            !wide.fit(Direction::H2c, 4096),
            "H2C records have any length"
        );
        let coarse = Alignments::decode(0x0080_0140);
        assert!(
            coarse.fit(Direction::C2h, 4096),
            "128-byte addresses: buffers are spaced to meet them"
        );
        assert_eq!(coarse.buffer_stride(64), Some(128));
        assert_eq!(coarse.buffer_stride(4096), Some(4096));
        assert!(
            !Alignments::decode(0x0060_0140).fit(Direction::C2h, 4096),
            "96-byte alignment is not a power of two"
        );
        assert!(
            !Alignments::decode(0x0001_0120).fit(Direction::C2h, 4096),
            "32 address bits"
        );
    }

    use super::*;

    #[test]
    fn descriptor_round_trips_and_pins_its_layout() {
        let d = Descriptor {
            control: DESC_COMPLETED | DESC_EOP,
            next_adjacent: 5,
            len: 4096,
            src: 0x1_2345_6780,
            dst: 0,
            next: 0xABCD_0020,
        };
        let bytes = d.encode();
        assert_eq!(&bytes[0..4], &[0x12, 0x05, 0x4B, 0xAD]);
        assert_eq!(&bytes[4..8], &4096u32.to_le_bytes());
        assert_eq!(&bytes[8..16], &0x1_2345_6780u64.to_le_bytes());
        assert_eq!(Descriptor::decode(&bytes), Ok(d));
        let mut bad = bytes;
        bad[3] = 0;
        assert_eq!(Descriptor::decode(&bad), Err(BadMagic { found: 0x004B }));
    }

    #[test]
    fn writeback_round_trips_and_checks_magic() {
        let wb = C2hWriteback { eop: true, len: 77 };
        let bytes = wb.encode();
        assert_eq!(&bytes[0..4], &[0x01, 0x00, 0xB4, 0x52]);
        assert_eq!(C2hWriteback::decode(&bytes), Ok(wb));
        assert_eq!(C2hWriteback::decode(&[0u8; 8]), Err(0));
    }

    #[test]
    fn adjacency_stops_at_chain_end_ring_end_and_64_descriptor_block_end() {
        assert_eq!(adjacent_after(0, 4, 3), 3);
        assert_eq!(adjacent_after(3, 4, 9), 0, "ring end");
        assert_eq!(adjacent_after(0, 1000, 5), 5, "chain end");
        assert_eq!(adjacent_after(0, 1000, 999), 63);
        // The reference driver's blocks are 64 descriptors (2 KiB): a block
        // from descriptor 10 ends at 63, not at the 4 KiB page end (127).
        assert_eq!(adjacent_after(10, 1000, 999), 53);
        assert_eq!(adjacent_after(64, 1000, 999), 63);
        assert_eq!(adjacent_after(100, 1000, 999), 27);
        assert_eq!(adjacent_after(127, 1000, 999), 0);
        for next in 0..1000 {
            let adjacent = adjacent_after(next, 1000, 999) as u64;
            let start = (next * DESCRIPTOR_LEN) as u64;
            let end = start + (adjacent + 1) * DESCRIPTOR_LEN as u64 - 1;
            assert_eq!(
                start / DESCRIPTOR_FETCH_BOUNDARY,
                end / DESCRIPTOR_FETCH_BOUNDARY,
                "block at {next} crosses 4 KiB"
            );
        }
    }

    #[test]
    fn offsets_decode_back_to_their_engine() {
        let c2h = Engine::new(Direction::C2h, 2);
        assert_eq!(c2h.channel_reg(reg::STATUS), 0x1240);
        assert_eq!(c2h.sgdma_reg(reg::DESC_CREDITS), 0x528C);
        assert_eq!(
            Engine::decode_offset(0x528C),
            Some((c2h, true, reg::DESC_CREDITS))
        );
        assert_eq!(Engine::decode_offset(reg::IRQ_BLOCK), None);
        assert_eq!(c2h.credit_bit(), 1 << 18);
        assert_eq!(c2h.irq_bit(1), 1 << 3);
        assert_eq!(Engine::new(Direction::H2c, 0).identifier(6), 0x1FC0_8006);
    }

    #[test]
    fn the_24_bit_completion_count_is_extended_past_its_wrap() {
        use crate::model::{ModelBugs, ModelNic};
        use crate::pcie::fake::FakeDevice;
        let mut dev = FakeDevice::new(ModelNic::new(0, 3, 1, ModelBugs::default()));
        let config = RingConfig {
            descriptors: 4,
            buffer_size: 64,
        };
        let mut ring = Ring::open(&mut dev, Engine::new(Direction::H2c, 0), 1, config).unwrap();
        fn set(dev: &mut FakeDevice<ModelNic>, ring: &Ring, word: u32) {
            dev.dma_write(&ring.completion, 0, &word.to_le_bytes())
                .unwrap();
        }
        set(&mut dev, &ring, 0x00FF_FFFE);
        assert_eq!(ring.refresh(&mut dev).unwrap(), 0x00FF_FFFE);
        set(&mut dev, &ring, 0x0000_0001);
        assert_eq!(ring.refresh(&mut dev).unwrap(), 3);
        assert_eq!(ring.completed, 0x0100_0001);
        set(&mut dev, &ring, POLL_WB_ERROR | 2);
        assert!(matches!(
            ring.refresh(&mut dev),
            Err(XdmaError::Engine { .. })
        ));
    }

    #[test]
    fn status_text_names_every_error() {
        let s = EngineStatus(status::MAGIC_STOPPED | 1 << status::DESC_ERROR_SHIFT);
        let text = s.to_string();
        assert!(text.contains("0xAD4B"), "{text}");
        assert!(
            text.contains("descriptor fetch failed: unsupported request"),
            "{text}"
        );
        assert_eq!(s.errors(), s.0);
        assert!(
            EngineStatus(status::BUSY)
                .to_string()
                .contains("no error bits")
        );
    }
}
