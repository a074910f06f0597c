//! A fake riptide board for tests: an XDMA engine pair (H2C 0, C2H 0) working
//! on "DMA memory" plus riptide's register file, with a card model behind them.
//!
//! Everything happens synchronously and deterministically: after every register
//! access the fake runs its engines until nothing moves. An engine prefetches
//! descriptors as soon as it may (at Run, or when credits arrive in credit
//! mode), block by block as the adjacent counts say, and works from its copies;
//! the H2C engine hands whole packets to the card, the card's output records go
//! out through credited C2H descriptors with writebacks. What a real engine
//! would do differently from what the driver meant (a descriptor or buffer
//! rewritten while the engine owns it, an adjacent block crossing 4 KiB, past a
//! Stop or off the chain) is recorded as a [`Violation`]. Faults can be
//! injected, and every register write is logged for sequence tests.
//!
//! The card logic is any [`CardLogic`]: the behavioural model
//! ([`ModelNic`]) today, the RTL simulation later.

use super::board::{DEFAULT_DMA_BAR, DEFAULT_USER_BAR, RIPTIDE_IDS};
use super::device::{Bar, DeviceError, DmaBuffer, PciIds, PcieDevice, Wake, check_dma_range};
use super::xdma::{
    C2H_WB_LEN, C2hWriteback, DESC_COMPLETED, DESC_EOP, DESC_STOP, DESCRIPTOR_FETCH_BOUNDARY,
    DESCRIPTOR_LEN, Descriptor, Direction, Engine, MAX_CREDITS, POLL_WB_COUNT_MASK, POLL_WB_ERROR,
    STREAM_LEN_MULTIPLE, control, reg, status,
};
use crate::NicWire;
use crate::model::ModelNic;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::message::Ballot;
use riptide_wire::records::{RecordError, decode_h2c, encode_c2h};
use riptide_wire::{layout, regs};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use thiserror::Error;

/// Size of each fake BAR.
pub const BAR_SIZE: u64 = 0x1_0000;
/// Version byte the fake engines report in their identifier.
pub const ENGINE_VERSION: u8 = 6;
/// Where the fake starts handing out bus addresses.
const IOVA_BASE: u64 = 0x1000_0000;
const PAGE: u64 = 4096;
/// Descriptors an engine may process per register access: bounds the work of
/// an engine left running without credits around a circle.
const STEP_BUDGET: usize = 4 * MAX_CREDITS;

/// A fault to inject into the next matching engine action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next descriptor fetched in this direction has its magic corrupted.
    BadMagic(Direction),
    /// The next descriptor fetch in this direction fails (Unsupported Request).
    DescriptorFetchError(Direction),
    /// The next H2C data read fails (Unsupported Request).
    H2cReadError,
    /// The next C2H writeback is written with a wrong magic.
    BadWriteback,
    /// The next c2h record leaves with an unknown record kind (a card bug
    /// the host must survive).
    CorruptRecord,
}

/// Something the host did that a real XDMA engine would not do as the host
/// meant: each is a driver bug, silent on hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Violation {
    #[error(
        "{direction}: the host rewrote descriptor {iova:#x} while the engine owned it \
         (fetched, not completed); the engine goes on with the copy it fetched"
    )]
    DescriptorRewritten { direction: Direction, iova: u64 },
    #[error(
        "{direction}: the host wrote buffer {iova:#x} of a descriptor the engine owns; \
         the data the engine moves is whichever it reads first"
    )]
    BufferRewritten { direction: Direction, iova: u64 },
    #[error(
        "{direction}: a block of {adjacent} adjacent descriptors from {iova:#x} crosses a \
         4 KiB boundary (PG195: it must not)"
    )]
    BlockCrossesPage {
        direction: Direction,
        iova: u64,
        adjacent: u32,
    },
    #[error(
        "{direction}: the adjacent count reaches past the Stop descriptor at {iova:#x}: \
         the engine fetches descriptors that are not part of the chain"
    )]
    BlockPastStop { direction: Direction, iova: u64 },
    #[error(
        "{direction}: descriptor {iova:#x} links elsewhere but the adjacent count says \
         the next descriptor follows it in memory; the engine uses the one in memory"
    )]
    BlockOffChain { direction: Direction, iova: u64 },
}

/// One register write, in the order the host made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioWrite {
    pub bar: Bar,
    pub offset: u64,
    pub value: u32,
}

/// Bus-addressed memory, one allocation per mapped buffer, with a guard page
/// between buffers so that overruns fault instead of landing in a neighbour.
#[derive(Debug, Default)]
struct Memory {
    buffers: BTreeMap<u64, Vec<u8>>,
    next_iova: u64,
}

impl Memory {
    fn map(&mut self, len: usize) -> DmaBuffer {
        let pages = (len as u64).div_ceil(PAGE).max(1);
        let iova = self.next_iova.max(IOVA_BASE);
        self.next_iova = iova + (pages + 1) * PAGE;
        self.buffers.insert(iova, vec![0; (pages * PAGE) as usize]);
        DmaBuffer::new(iova, len)
    }

    /// The buffer holding `[iova, iova + len)` and the offset of `iova` in it.
    fn locate(&self, iova: u64, len: usize) -> Option<(u64, usize)> {
        let (&start, bytes) = self.buffers.range(..=iova).next_back()?;
        let offset = (iova - start) as usize;
        check_dma_range(offset, len, bytes.len()).ok()?;
        Some((start, offset))
    }

    fn read(&self, iova: u64, len: usize) -> Option<&[u8]> {
        let (start, offset) = self.locate(iova, len)?;
        Some(&self.buffers[&start][offset..offset + len])
    }

    fn write(&mut self, iova: u64, bytes: &[u8]) -> bool {
        match self.locate(iova, bytes.len()) {
            Some((start, offset)) => {
                let buffer = self.buffers.get_mut(&start).expect("located above");
                buffer[offset..offset + bytes.len()].copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

/// The state of one XDMA engine, as its registers expose it.
#[derive(Debug)]
struct EngineModel {
    engine: Engine,
    control: u32,
    status: u32,
    completed: u32,
    poll_wb: u64,
    interrupt_enable: u32,
    desc_addr: u64,
    adjacent: u32,
    credits: u32,
    /// Where the next descriptor is fetched; `None` while stopped or after a
    /// Stop descriptor was fetched.
    next: Option<u64>,
    /// End (exclusive) of the block of adjacent descriptors being fetched.
    block_end: u64,
    /// Descriptors fetched and not yet completed, with their addresses: the
    /// engine works from these copies.
    owned: VecDeque<(u64, Descriptor)>,
    /// A packet spanning several H2C descriptors, gathered so far.
    packet: Vec<u8>,
    violations: Vec<Violation>,
}

impl EngineModel {
    fn new(engine: Engine) -> EngineModel {
        EngineModel {
            engine,
            control: 0,
            status: 0,
            completed: 0,
            poll_wb: 0,
            interrupt_enable: 0,
            desc_addr: 0,
            adjacent: 0,
            credits: 0,
            next: None,
            block_end: 0,
            owned: VecDeque::new(),
            packet: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// The next fetch starts a block of `1 + adjacent` descriptors at `at`.
    fn begin_block(&mut self, at: u64, adjacent: u32) {
        self.next = Some(at);
        self.block_end = at + u64::from(adjacent + 1) * DESCRIPTOR_LEN as u64;
        if at / DESCRIPTOR_FETCH_BOUNDARY != (self.block_end - 1) / DESCRIPTOR_FETCH_BOUNDARY {
            self.violations.push(Violation::BlockCrossesPage {
                direction: self.engine.direction,
                iova: at,
                adjacent,
            });
        }
    }

    /// Takes a fetched descriptor and moves on: within a block to the next
    /// descriptor in memory, at a block's end to where its link points.
    fn fetched(&mut self, at: u64, descriptor: Descriptor) {
        let direction = self.engine.direction;
        let following = at + DESCRIPTOR_LEN as u64;
        let stop = descriptor.control & DESC_STOP != 0;
        if following < self.block_end {
            if stop {
                self.violations.push(Violation::BlockPastStop {
                    direction,
                    iova: at,
                });
            } else if descriptor.next != following {
                self.violations.push(Violation::BlockOffChain {
                    direction,
                    iova: at,
                });
            }
            self.next = Some(following);
        } else {
            self.begin_block(descriptor.next, descriptor.next_adjacent.into());
        }
        if stop {
            self.next = None;
        }
        self.owned.push_back((at, descriptor));
    }

    fn set_control(&mut self, value: u32) {
        let was_running = self.control & control::RUN != 0;
        let running = value & control::RUN != 0;
        self.control = value;
        if running && !was_running {
            self.status = status::BUSY;
            self.completed = 0;
            self.owned.clear();
            self.begin_block(self.desc_addr, self.adjacent);
            self.packet.clear();
        } else if !running && was_running {
            self.credits = 0;
            self.next = None;
            self.owned.clear();
            self.status &= !status::BUSY;
        }
    }

    /// Whether the engine may fetch another descriptor now: in credit mode
    /// only against a credit not yet spoken for.
    fn can_fetch(&self, credit_mode: bool) -> bool {
        self.next.is_some()
            && self.owned.len() < MAX_CREDITS
            && (!credit_mode || self.credits as usize > self.owned.len())
    }

    /// Whether a host write to `[start, end)` touches what the engine owns.
    fn check_host_write(&mut self, start: u64, end: u64) {
        let direction = self.engine.direction;
        let overlaps = |at: u64, len: u64| start < at + len && at < end;
        let mut found = Vec::new();
        for (at, d) in &self.owned {
            if overlaps(*at, DESCRIPTOR_LEN as u64) {
                found.push(Violation::DescriptorRewritten {
                    direction,
                    iova: *at,
                });
            }
            let buffers: &[(u64, u64)] = match direction {
                Direction::H2c => &[(d.src, u64::from(d.len))],
                Direction::C2h => &[(d.dst, u64::from(d.len)), (d.src, C2H_WB_LEN as u64)],
            };
            for &(buffer, len) in buffers {
                if overlaps(buffer, len) {
                    found.push(Violation::BufferRewritten {
                        direction,
                        iova: buffer,
                    });
                }
            }
        }
        self.violations.extend(found);
    }

    /// Stops on a fault; logs it if the control register asks for it (the
    /// `IE_*` bits sit at the same positions as the status bits).
    fn fault(&mut self, bits: u32) {
        self.status = (self.status | (bits & self.control)) & !status::BUSY;
        self.next = None;
        self.owned.clear();
    }

    fn read(&mut self, sgdma: bool, register: u64) -> u32 {
        match (sgdma, register) {
            (false, reg::IDENTIFIER) => self.engine.identifier(ENGINE_VERSION),
            (false, reg::CONTROL) => self.control,
            (false, reg::STATUS) => self.status,
            (false, reg::STATUS_RC) => {
                let value = self.status;
                self.status &= status::BUSY;
                value
            }
            (false, reg::COMPLETED_COUNT) => self.completed,
            (false, reg::POLL_WB_LO) => self.poll_wb as u32,
            (false, reg::POLL_WB_HI) => (self.poll_wb >> 32) as u32,
            (false, reg::INTERRUPT_ENABLE) => self.interrupt_enable,
            (true, reg::DESC_LO) => self.desc_addr as u32,
            (true, reg::DESC_HI) => (self.desc_addr >> 32) as u32,
            (true, reg::DESC_ADJACENT) => self.adjacent,
            (true, reg::DESC_CREDITS) => self.credits,
            _ => 0,
        }
    }

    fn write(&mut self, sgdma: bool, register: u64, value: u32) {
        match (sgdma, register) {
            (false, reg::CONTROL) => self.set_control(value),
            (false, reg::CONTROL_W1S) => self.set_control(self.control | value),
            (false, reg::CONTROL_W1C) => self.set_control(self.control & !value),
            (false, reg::STATUS) => self.status &= !value | status::BUSY,
            (false, reg::POLL_WB_LO) => self.poll_wb = (self.poll_wb & !0xFFFF_FFFF) | value as u64,
            (false, reg::POLL_WB_HI) => {
                self.poll_wb = (self.poll_wb & 0xFFFF_FFFF) | (value as u64) << 32
            }
            (false, reg::INTERRUPT_ENABLE) => self.interrupt_enable = value,
            (true, reg::DESC_LO) => self.desc_addr = (self.desc_addr & !0xFFFF_FFFF) | value as u64,
            (true, reg::DESC_HI) => {
                self.desc_addr = (self.desc_addr & 0xFFFF_FFFF) | (value as u64) << 32
            }
            (true, reg::DESC_ADJACENT) => self.adjacent = value & 0x3F,
            // Credits only count while running; the register is 10 bits.
            (true, reg::DESC_CREDITS) if self.control & control::RUN != 0 => {
                self.credits = (self.credits + (value & 0x3FF)).min(MAX_CREDITS as u32);
            }
            _ => {}
        }
    }
}

/// A c2h record waiting for descriptors, and where the engine is in it.
#[derive(Debug)]
struct Outgoing {
    bytes: Vec<u8>,
    sent: usize,
    record: CardToHost,
}

/// riptide's register file as the fake implements it.
#[derive(Debug)]
struct Registers {
    /// Read-write registers (configuration, fence ballot, peer table), as
    /// written by the host.
    values: BTreeMap<u32, u32>,
    fence_done: bool,
    next_slot_latch: u32,
    commit_latch: u32,
    /// Counts the board adds on top of the card's own (frames it punts
    /// itself while the fast path is disabled, records it cannot encode).
    board_counts: [u32; regs::Counter::COUNT],
    /// Replaces `ID`/`VERSION`, to fake a wrong bitstream.
    identity: Option<(u32, u32)>,
}

impl Default for Registers {
    fn default() -> Registers {
        Registers {
            values: BTreeMap::new(),
            fence_done: false,
            next_slot_latch: 0,
            commit_latch: 0,
            board_counts: [0; regs::Counter::COUNT],
            identity: None,
        }
    }
}

impl Registers {
    fn value(&self, register: regs::Register) -> u32 {
        self.values.get(&register.offset).copied().unwrap_or(0)
    }

    fn pair(&self, lo: regs::Register, hi: regs::Register) -> u64 {
        u64::from(self.value(lo)) | u64::from(self.value(hi)) << 32
    }

    fn count(&mut self, counter: regs::Counter) {
        let c = &mut self.board_counts[counter.index()];
        *c = c.wrapping_add(1);
    }

    /// The staged `CFG_*` registers as a configuration. An undefined role
    /// value reads as idle, the safe state.
    fn staged_config(&self) -> NicConfig {
        let role = match self.value(regs::CFG_ROLE) & 0x3 {
            regs::ROLE_FOLLOWER => NicRole::Follower,
            regs::ROLE_LEADER => NicRole::Leader,
            _ => NicRole::Idle,
        };
        NicConfig {
            role,
            ballot: Ballot(self.pair(regs::CFG_BALLOT_LO, regs::CFG_BALLOT_HI)),
            next_slot: self.pair(regs::CFG_NEXT_SLOT_LO, regs::CFG_NEXT_SLOT_HI),
            commit: self.pair(regs::CFG_COMMIT_LO, regs::CFG_COMMIT_HI),
            replicas: (self.value(regs::CFG_REPLICAS) & 0xF) as u8,
            window: u64::from(self.value(regs::CFG_WINDOW) & 0xFFFF),
            lives: self
                .pair(regs::CFG_LIVES_LO, regs::CFG_LIVES_HI)
                .to_le_bytes(),
        }
    }
}

/// The card's logic behind the fake engines: its network side, the commands
/// its h2c stream parser hands it, the records it emits, and the values its
/// read-only registers show.
///
/// Reads take `&mut self`: on an RTL card a register read is an AXI4-Lite
/// transaction that clocks the simulated core.
pub trait CardLogic: NicWire {
    /// A command decoded from the h2c stream.
    fn take_command(&mut self, command: NicCommand);
    /// The next record the card emits; an error is a c2h packet that is not
    /// a record (a bug in the card, which the fake board reports).
    fn next_record(&mut self) -> Option<Result<CardToHost, RecordError>>;
    /// Live next slot and commit index (`NEXT_SLOT_*`, `COMMIT_*`).
    fn live(&mut self) -> (u64, u64);
    /// A counter register: 32 bits, wrapping.
    fn counter(&mut self, counter: regs::Counter) -> u32;
}

impl CardLogic for ModelNic {
    fn take_command(&mut self, command: NicCommand) {
        self.command(command);
    }

    fn next_record(&mut self) -> Option<Result<CardToHost, RecordError>> {
        self.poll_host().map(Ok)
    }

    fn live(&mut self) -> (u64, u64) {
        (self.config().next_slot, self.config().commit)
    }

    fn counter(&mut self, counter: regs::Counter) -> u32 {
        self.counters().get(counter) as u32
    }
}

/// The fake board. `C` is the card's logic.
#[derive(Debug)]
pub struct FakeDevice<C: CardLogic> {
    ids: PciIds,
    memory: Memory,
    h2c: EngineModel,
    c2h: EngineModel,
    credit_mode: u32,
    channel_int_enable: u32,
    interrupt_pending: bool,
    regs: Registers,
    card: C,
    outgoing: VecDeque<Outgoing>,
    faults: Vec<Fault>,
    writes: Vec<MmioWrite>,
    rejected: Vec<RecordError>,
    card_faults: VecDeque<RecordError>,
    /// The card's h2c stream is not ready (`tready` low): the H2C engine
    /// fetches descriptors but moves no data.
    h2c_held: bool,
}

impl<C: CardLogic> FakeDevice<C> {
    pub fn new(card: C) -> FakeDevice<C> {
        FakeDevice {
            ids: RIPTIDE_IDS,
            memory: Memory::default(),
            h2c: EngineModel::new(Engine::new(Direction::H2c, 0)),
            c2h: EngineModel::new(Engine::new(Direction::C2h, 0)),
            credit_mode: 0,
            channel_int_enable: 0,
            interrupt_pending: false,
            regs: Registers::default(),
            card,
            outgoing: VecDeque::new(),
            faults: Vec::new(),
            writes: Vec::new(),
            rejected: Vec::new(),
            card_faults: VecDeque::new(),
            h2c_held: false,
        }
    }

    /// Reports other PCI ids (a board that is not riptide's).
    pub fn with_ids(mut self, ids: PciIds) -> FakeDevice<C> {
        self.ids = ids;
        self
    }

    /// Reports other `ID` and `VERSION` register values.
    pub fn with_identity(mut self, id: u32, version: u32) -> FakeDevice<C> {
        self.regs.identity = Some((id, version));
        self
    }

    pub fn card(&self) -> &C {
        &self.card
    }

    /// The card's logic, for a test to act on its network side. Records it
    /// produces are picked up at the next register access.
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    pub fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Every register write so far, in order.
    pub fn writes(&self) -> &[MmioWrite] {
        &self.writes
    }

    /// Holds (or releases) the card's h2c stream: while held, the H2C engine
    /// owns the descriptors it fetched and completes none.
    pub fn hold_h2c(&mut self, held: bool) {
        self.h2c_held = held;
        self.run();
    }

    /// Everything the host did that a real engine would not do as meant.
    pub fn violations(&self) -> Vec<Violation> {
        [&self.h2c.violations, &self.c2h.violations]
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    /// H2C packets the card could not parse as records.
    pub fn rejected(&self) -> &[RecordError] {
        &self.rejected
    }

    /// The oldest c2h packet the card emitted that is not a record, not yet
    /// reported.
    pub fn take_card_fault(&mut self) -> Option<RecordError> {
        self.card_faults.pop_front()
    }

    /// A read-write riptide register as the host last wrote it.
    pub fn register(&self, offset: u32) -> u32 {
        self.regs.values.get(&offset).copied().unwrap_or(0)
    }

    /// Raw bytes of DMA memory at a bus address (for checking descriptors).
    pub fn peek(&self, iova: u64, len: usize) -> Option<Vec<u8>> {
        self.memory.read(iova, len).map(<[u8]>::to_vec)
    }

    /// A frame arrives from the network. With the fast path disabled
    /// (`ENABLE` bit 0 clear) the board punts it without asking the card.
    pub fn receive_frame(&mut self, frame: &[u8]) {
        if self.regs.value(regs::ENABLE) & 1 == 0 {
            self.regs.count(regs::Counter::RxFrames);
            self.regs.count(regs::Counter::PuntIdle);
            self.queue_record(CardToHost::Punted(frame.to_vec()));
        } else {
            self.card.receive(frame);
        }
        self.run();
    }

    fn take_fault(&mut self, fault: Fault) -> bool {
        match self.faults.iter().position(|f| *f == fault) {
            Some(i) => {
                self.faults.remove(i);
                true
            }
            None => false,
        }
    }

    fn engine(&mut self, direction: Direction) -> &mut EngineModel {
        match direction {
            Direction::H2c => &mut self.h2c,
            Direction::C2h => &mut self.c2h,
        }
    }

    /// Runs the engines and the card until nothing moves.
    fn run(&mut self) {
        for _ in 0..STEP_BUDGET {
            self.pump_card();
            self.prefetch(Direction::H2c);
            self.prefetch(Direction::C2h);
            let moved = self.step_h2c() | self.step_c2h();
            if !moved {
                break;
            }
        }
        self.pump_card();
    }

    fn credit_mode(&self, engine: Engine) -> bool {
        self.credit_mode & engine.credit_bit() != 0
    }

    /// Fetches every descriptor the engine may fetch now; a failed fetch or a
    /// descriptor without magic stops the engine.
    fn prefetch(&mut self, direction: Direction) {
        let credit_mode = self.credit_mode(Engine::new(direction, 0));
        while self.engine(direction).can_fetch(credit_mode) {
            let Some(addr) = self.engine(direction).next else {
                return;
            };
            let raw = self.memory.read(addr, DESCRIPTOR_LEN).map(<[u8]>::to_vec);
            let fetch_fault = self.take_fault(Fault::DescriptorFetchError(direction));
            let Some(mut raw) = raw.filter(|_| !fetch_fault) else {
                let bits = status::UNSUPPORTED_REQUEST << status::DESC_ERROR_SHIFT;
                self.halt(direction, bits);
                return;
            };
            if self.take_fault(Fault::BadMagic(direction)) {
                raw[3] ^= 0xFF;
            }
            let bytes: [u8; DESCRIPTOR_LEN] = raw.try_into().expect("read DESCRIPTOR_LEN bytes");
            match Descriptor::decode(&bytes) {
                Ok(d) => self.engine(direction).fetched(addr, d),
                Err(_) => {
                    self.halt(direction, status::MAGIC_STOPPED);
                    return;
                }
            }
        }
    }

    /// Stops an engine on a fault and raises its interrupt if enabled.
    fn halt(&mut self, direction: Direction, bits: u32) {
        let e = self.engine(direction);
        e.fault(bits);
        let raised = e.status & e.interrupt_enable != 0;
        let irq_bit = e.engine.irq_bit(1);
        self.raise(raised, irq_bit);
    }

    fn raise(&mut self, raised: bool, irq_bit: u32) {
        if raised && self.channel_int_enable & irq_bit != 0 {
            self.interrupt_pending = true;
        }
    }

    /// Bookkeeping after a descriptor is done: count, credit, poll-mode
    /// writeback, interrupt, Stop bit, link.
    fn complete(&mut self, direction: Direction, descriptor: &Descriptor) {
        let credit_mode = self.credit_mode(Engine::new(direction, 0));
        let e = self.engine(direction);
        e.completed = e.completed.wrapping_add(1);
        if credit_mode {
            e.credits = e.credits.saturating_sub(1);
        }
        if descriptor.control & DESC_COMPLETED != 0 {
            e.status |= status::DESC_COMPLETED & e.control;
        }
        if descriptor.control & DESC_STOP != 0 {
            e.status = (e.status | (status::DESC_STOPPED & e.control)) & !status::BUSY;
        }
        let writeback = (e.control & control::POLLMODE_WB_ENABLE != 0
            && descriptor.control & DESC_COMPLETED != 0)
            .then(|| {
                let error = if e.status & status::ERRORS != 0 {
                    POLL_WB_ERROR
                } else {
                    0
                };
                (e.poll_wb, error | (e.completed & POLL_WB_COUNT_MASK))
            });
        let raised = e.status & e.interrupt_enable != 0;
        let irq_bit = e.engine.irq_bit(1);
        if let Some((addr, word)) = writeback {
            self.memory.write(addr, &word.to_le_bytes());
        }
        self.raise(raised, irq_bit);
    }

    /// One H2C descriptor: read its data, pass a finished packet to the card.
    fn step_h2c(&mut self) -> bool {
        if self.h2c_held {
            return false;
        }
        let Some((_, d)) = self.h2c.owned.pop_front() else {
            return false;
        };
        let data = self.memory.read(d.src, d.len as usize).map(<[u8]>::to_vec);
        let read_fault = self.take_fault(Fault::H2cReadError);
        let Some(data) = data.filter(|_| !read_fault) else {
            let bits = status::UNSUPPORTED_REQUEST << status::READ_ERROR_SHIFT;
            self.halt(Direction::H2c, bits);
            return true;
        };
        self.h2c.packet.extend_from_slice(&data);
        if d.control & DESC_EOP != 0 {
            let packet = std::mem::take(&mut self.h2c.packet);
            self.deliver(&packet);
        }
        self.complete(Direction::H2c, &d);
        true
    }

    /// An h2c record reaches the card (what the NIC's stream parser does).
    fn deliver(&mut self, packet: &[u8]) {
        match decode_h2c(packet) {
            Ok(command) => self.card.take_command(command),
            Err(e) => self.rejected.push(e),
        }
    }

    /// Moves the card's host records into the outgoing stream.
    fn pump_card(&mut self) {
        while let Some(record) = self.card.next_record() {
            match record {
                Ok(record) => self.queue_record(record),
                Err(fault) => self.card_faults.push_back(fault),
            }
        }
    }

    fn queue_record(&mut self, record: CardToHost) {
        match encode_c2h(&record) {
            Ok(bytes) => self.outgoing.push_back(Outgoing {
                bytes,
                sent: 0,
                record,
            }),
            Err(_) => self.regs.count(regs::Counter::DropOverflow),
        }
    }

    /// One C2H descriptor: fill it with the next bytes of the oldest record.
    fn step_c2h(&mut self) -> bool {
        if self.outgoing.is_empty() {
            return false;
        }
        let Some((_, d)) = self.c2h.owned.pop_front() else {
            return false;
        };
        let len = d.len as usize;
        if len == 0 || !len.is_multiple_of(STREAM_LEN_MULTIPLE) {
            self.halt(Direction::C2h, status::INVALID_LENGTH);
            return true;
        }
        if self.outgoing[0].sent == 0 && self.take_fault(Fault::CorruptRecord) {
            self.outgoing[0].bytes[0] = 0xEE;
        }
        let out = self.outgoing.front_mut().expect("checked non-empty");
        let chunk = &out.bytes[out.sent..out.bytes.len().min(out.sent + len)];
        let chunk_len = chunk.len();
        let eop = out.sent + chunk_len == out.bytes.len();
        if !self.memory.write(d.dst, chunk) {
            let bits = status::UNSUPPORTED_REQUEST << status::DESC_ERROR_SHIFT;
            self.halt(Direction::C2h, bits);
            return true;
        }
        if self.c2h.control & control::STREAM_WB_DISABLE == 0 {
            let mut wb = C2hWriteback {
                eop,
                len: chunk_len as u32,
            }
            .encode();
            if self.take_fault(Fault::BadWriteback) {
                wb[3] = 0;
            }
            self.memory.write(d.src, &wb);
        }
        let out = self.outgoing.front_mut().expect("checked non-empty");
        out.sent += chunk_len;
        if eop {
            let done = self.outgoing.pop_front().expect("checked non-empty");
            self.sent_to_host(&done.record);
        }
        self.complete(Direction::C2h, &d);
        true
    }

    /// Register side effects of a record having reached host memory.
    fn sent_to_host(&mut self, record: &CardToHost) {
        if let CardToHost::Event(NicEvent::FenceDone { .. }) = record {
            self.regs.fence_done = true;
        }
    }

    fn check_access(&self, bar: Bar, offset: u64) -> Result<(), DeviceError> {
        if bar != DEFAULT_USER_BAR && bar != DEFAULT_DMA_BAR {
            return Err(DeviceError::NoBar { bar });
        }
        if !offset.is_multiple_of(4) || offset + 4 > BAR_SIZE {
            return Err(DeviceError::Mmio {
                bar,
                offset,
                reason: format!("not an aligned 32-bit register inside the {BAR_SIZE:#x}-byte BAR"),
            });
        }
        Ok(())
    }

    fn read_user(&mut self, offset: u32) -> u32 {
        let (id, version) = self.regs.identity.unwrap_or((
            regs::ID_VALUE,
            u32::from(layout::VERSION) << 16 | regs::REGMAP_REVISION,
        ));
        let (next_slot, commit) = self.card.live();
        let r = &mut self.regs;
        match offset {
            o if o == regs::ID.offset => id,
            o if o == regs::VERSION.offset => version,
            o if o == regs::NEXT_SLOT_LO.offset => {
                r.next_slot_latch = (next_slot >> 32) as u32;
                next_slot as u32
            }
            o if o == regs::NEXT_SLOT_HI.offset => r.next_slot_latch,
            o if o == regs::COMMIT_LO.offset => {
                r.commit_latch = (commit >> 32) as u32;
                commit as u32
            }
            o if o == regs::COMMIT_HI.offset => r.commit_latch,
            o if o == regs::FENCE_STATUS.offset => r.fence_done.into(),
            o if o == regs::MAX_WINDOW.offset => regs::MAX_WINDOW_SLOTS,
            // The card logic has no clock and sends no heartbeat by itself
            // (`HEARTBEAT_INTERVAL` is stored, not run): there is nothing for
            // the watchdog to stop. `HOST_WATCHDOG` itself reads back.
            o if o == regs::HOST_WATCHDOG_STATUS.offset => 0,
            o => match regs::Counter::ALL.iter().find(|c| c.offset() == o) {
                Some(&c) => self.card.counter(c).wrapping_add(r.board_counts[c.index()]),
                None => r.values.get(&o).copied().unwrap_or(0),
            },
        }
    }

    fn write_user(&mut self, offset: u32, value: u32) {
        match offset {
            o if o == regs::CONFIG_APPLY.offset && value & 1 == 1 => {
                let config = self.regs.staged_config();
                self.card.take_command(NicCommand::Configure(config));
            }
            o if o == regs::FENCE_REQUEST.offset && value & 1 == 1 => {
                self.regs.fence_done = false;
                let ballot = Ballot(self.regs.pair(regs::FENCE_BALLOT_LO, regs::FENCE_BALLOT_HI));
                self.card.take_command(NicCommand::Fence { ballot });
            }
            o if o == regs::HEARTBEAT.offset && value & 1 == 1 => {
                self.card.take_command(NicCommand::Heartbeat);
            }
            o if is_host_writable(o) => {
                self.regs.values.insert(o, value);
            }
            _ => {}
        }
    }

    fn read_dma(&mut self, offset: u64) -> u32 {
        if let Some((engine, sgdma, register)) = Engine::decode_offset(offset) {
            return match (engine.channel, engine.direction) {
                (0, direction) => self.engine(direction).read(sgdma, register),
                _ => 0,
            };
        }
        match offset {
            o if o == reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE => self.credit_mode,
            o if o == reg::IRQ_BLOCK + reg::CHANNEL_INT_ENABLE => self.channel_int_enable,
            _ => 0,
        }
    }

    fn write_dma(&mut self, offset: u64, value: u32) {
        if let Some((engine, sgdma, register)) = Engine::decode_offset(offset) {
            if engine.channel == 0 {
                self.engine(engine.direction).write(sgdma, register, value);
            }
            return;
        }
        const COMMON: u64 = reg::SGDMA_COMMON_BLOCK;
        const IRQ: u64 = reg::IRQ_BLOCK;
        match offset {
            o if o == COMMON + reg::CREDIT_MODE_ENABLE => self.credit_mode = value,
            o if o == COMMON + reg::CREDIT_MODE_ENABLE_W1S => self.credit_mode |= value,
            o if o == COMMON + reg::CREDIT_MODE_ENABLE_W1C => self.credit_mode &= !value,
            o if o == IRQ + reg::CHANNEL_INT_ENABLE => self.channel_int_enable = value,
            o if o == IRQ + reg::CHANNEL_INT_ENABLE_W1S => self.channel_int_enable |= value,
            o if o == IRQ + reg::CHANNEL_INT_ENABLE_W1C => self.channel_int_enable &= !value,
            _ => {}
        }
        // Leaving credit mode drops the credits, as the hardware does.
        for e in [Direction::H2c, Direction::C2h] {
            let bit = Engine::new(e, 0).credit_bit();
            if self.credit_mode & bit == 0 {
                self.engine(e).credits = 0;
            }
        }
    }
}

/// The read-write registers: control registers marked RW and the peer table.
fn is_host_writable(offset: u32) -> bool {
    let peer_end = regs::PEER_BASE + regs::PEER_STRIDE * regs::MAX_REPLICAS as u32;
    regs::CONTROL
        .iter()
        .any(|r| r.offset == offset && r.access == regs::Access::Rw)
        || (regs::PEER_BASE..peer_end).contains(&offset)
}

impl<C: CardLogic> PcieDevice for FakeDevice<C> {
    fn ids(&self) -> PciIds {
        self.ids
    }

    fn read32(&mut self, bar: Bar, offset: u64) -> Result<u32, DeviceError> {
        self.check_access(bar, offset)?;
        self.run();
        Ok(if bar == DEFAULT_USER_BAR {
            self.read_user(offset as u32)
        } else {
            self.read_dma(offset)
        })
    }

    fn write32(&mut self, bar: Bar, offset: u64, value: u32) -> Result<(), DeviceError> {
        self.check_access(bar, offset)?;
        self.writes.push(MmioWrite { bar, offset, value });
        if bar == DEFAULT_USER_BAR {
            self.write_user(offset as u32, value);
        } else {
            self.write_dma(offset, value);
        }
        self.run();
        Ok(())
    }

    fn dma_map(&mut self, len: usize) -> Result<DmaBuffer, DeviceError> {
        Ok(self.memory.map(len))
    }

    fn dma_unmap(&mut self, buffer: DmaBuffer) -> Result<(), DeviceError> {
        self.memory
            .buffers
            .remove(&buffer.iova())
            .map(|_| ())
            .ok_or(DeviceError::UnknownBuffer {
                iova: buffer.iova(),
            })
    }

    fn dma_write(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), DeviceError> {
        check_dma_range(offset, bytes.len(), buffer.len())?;
        let start = buffer.iova_at(offset);
        let end = start + bytes.len() as u64;
        self.h2c.check_host_write(start, end);
        self.c2h.check_host_write(start, end);
        if self.memory.write(start, bytes) {
            Ok(())
        } else {
            Err(DeviceError::UnknownBuffer {
                iova: buffer.iova(),
            })
        }
    }

    fn dma_read(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        out: &mut [u8],
    ) -> Result<(), DeviceError> {
        check_dma_range(offset, out.len(), buffer.len())?;
        // The engines run alongside the host: a poll of memory may see them move.
        self.run();
        let bytes = self.memory.read(buffer.iova_at(offset), out.len()).ok_or(
            DeviceError::UnknownBuffer {
                iova: buffer.iova(),
            },
        )?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    /// Never sleeps: the fake is synchronous, so an interrupt is either
    /// pending now or will not come without another register access.
    fn wait_interrupt(&mut self, _timeout: Duration) -> Result<Wake, DeviceError> {
        self.run();
        Ok(if std::mem::take(&mut self.interrupt_pending) {
            Wake::Interrupt
        } else {
            Wake::Timeout
        })
    }
}
