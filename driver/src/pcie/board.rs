//! `AlveoNic`: the host side of a riptide NIC on an Alveo board, over any
//! [`PcieDevice`] (VFIO for the real board, the fake in tests).
//!
//! - Registers (AXI4-Lite, user BAR): identity check, the double-buffered
//!   configuration (`CFG_*` then `CONFIG_APPLY`), the fence handshake
//!   (`FENCE_BALLOT_*` then `FENCE_REQUEST`), the peer table, counters, the
//!   host watchdog (armed at open).
//! - Streams (XDMA, DMA BAR): `Submit`/`Transmit` commands as h2c records,
//!   card-to-host records polled from the C2H ring.
//!
//! Offsets and record layouts come from `riptide_wire::regs` and
//! `riptide_wire::records` only.

use super::device::{Bar, DeviceError, PciIds, PcieDevice, Wake};
use super::vfio::{SysPaths, VfioDevice, VfioError, VfioOptions, parse_nic_spec};
use super::xdma::{C2hChannel, H2cChannel, RingConfig, XdmaError, reg};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicRole};
use riptide_wire::layout;
use riptide_wire::message::Ballot;
use riptide_wire::records::{RecordError, decode_c2h, encode_h2c};
use riptide_wire::regs::{self, Counter, Register};
use std::time::Duration;

use crate::{NicError, NicHost};
use thiserror::Error;

/// PCI vendor id of Xilinx (AMD) devices.
pub const XILINX_VENDOR_ID: u16 = 0x10EE;
/// The ids a riptide bitstream presents: the XDMA IP's default device id for a
/// Gen3 x16 endpoint. The Vivado project must keep this value.
pub const RIPTIDE_IDS: PciIds = PciIds {
    vendor: XILINX_VENDOR_ID,
    device: 0x903F,
};
/// riptide's registers sit behind the XDMA AXI-Lite master, BAR 0 ...
pub const DEFAULT_USER_BAR: Bar = 0;
/// ... which moves the XDMA's own registers to BAR 1.
pub const DEFAULT_DMA_BAR: Bar = 1;
/// The core's clock (the 100G CMAC's, `docs/hw.md`): `HOST_WATCHDOG` counts
/// its cycles.
pub const CORE_CLOCK_HZ: u64 = 322_265_625;
/// How long the host may give no sign (a register write, a host-to-card
/// record) before the board stops sending heartbeats by itself. Longer than
/// a leading host's own heartbeat period (the control plane's default is
/// 50 ms, and every heartbeat is a register write), shorter than the
/// followers' shortest election timeout (300 ms by default), so that when
/// the host dies the followers elect about as soon as if the board had died
/// with it. Too short only costs the board's extra heartbeats, never the
/// host's own.
pub const DEFAULT_HOST_WATCHDOG: Duration = Duration::from_millis(100);

/// How to find and drive the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlveoOptions {
    /// `None` accepts any ids (a board with a customised XDMA device id).
    pub expected_ids: Option<PciIds>,
    pub user_bar: Bar,
    pub dma_bar: Bar,
    /// H2C channels the XDMA IP was built with (locates C2H interrupt bits).
    pub h2c_channels: u8,
    pub h2c: RingConfig,
    pub c2h: RingConfig,
    /// `HOST_WATCHDOG`, programmed at open ([`Duration::ZERO`]: off).
    pub host_watchdog: Duration,
}

impl Default for AlveoOptions {
    fn default() -> AlveoOptions {
        AlveoOptions {
            expected_ids: Some(RIPTIDE_IDS),
            user_bar: DEFAULT_USER_BAR,
            dma_bar: DEFAULT_DMA_BAR,
            h2c_channels: 1,
            h2c: RingConfig {
                descriptors: 256,
                buffer_size: 4096,
            },
            c2h: RingConfig {
                descriptors: 256,
                buffer_size: 4096,
            },
            host_watchdog: DEFAULT_HOST_WATCHDOG,
        }
    }
}

/// Why the board cannot be used, or a command cannot be carried out.
#[derive(Debug, Error)]
pub enum BoardError {
    #[error(transparent)]
    Vfio(#[from] VfioError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Xdma(#[from] XdmaError),
    #[error(
        "PCI device {found} is not a riptide board (expected {expected}): check the \
         address (`lspci -D -d 10ee:`) and that the riptide bitstream is loaded"
    )]
    WrongDevice { found: PciIds, expected: PciIds },
    #[error(
        "register ID in BAR {bar} reads {found:#010x}, not riptide's {expected:#010x} \
         (\"RPTD\"): the riptide bitstream is not loaded, or its registers are on \
         another BAR"
    )]
    NotRiptide { bar: Bar, found: u32, expected: u32 },
    #[error(
        "the board speaks wire version {wire} with register map revision {revision}; \
         this driver needs wire version {want_wire}, revision {want_revision}: load a \
         matching bitstream or driver"
    )]
    VersionMismatch {
        wire: u32,
        revision: u32,
        want_wire: u32,
        want_revision: u32,
    },
    #[error("window {window} is larger than the board's MAX_WINDOW ({max} slots in flight)")]
    WindowTooLarge { window: u64, max: u32 },
    #[error("the board reports MAX_WINDOW 0: no slot could ever be in flight")]
    NoWindow,
    #[error("{0} replicas: the NIC supports 1 to {max}", max = regs::MAX_REPLICAS)]
    BadReplicaCount(u8),
    #[error("replica {0} is past the peer table ({max} entries)", max = regs::MAX_REPLICAS)]
    NoSuchPeer(usize),
    #[error("h2c record")]
    Record(#[from] RecordError),
}

/// What the host side dropped from the card-to-host stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostStats {
    /// Records that did not decode (counted and dropped, never passed on).
    pub malformed_records: u64,
    pub last_malformed: Option<RecordError>,
    /// C2H descriptors with a bad writeback, dropped with their packet.
    pub bad_descriptors: u64,
}

/// A riptide NIC on a board: the host side of the NIC interface.
#[derive(Debug)]
pub struct AlveoNic<D: PcieDevice> {
    dev: D,
    user_bar: Bar,
    h2c: H2cChannel,
    c2h: C2hChannel,
    stats: HostStats,
    /// The board's `MAX_WINDOW`: a larger configured window would act as
    /// this one, so host and card would disagree on what is in flight.
    max_window: u32,
}

impl AlveoNic<VfioDevice> {
    /// Opens the board named by `vfio:DDDD:BB:DD.F` (or a bare PCI address).
    pub fn open_vfio(spec: &str, options: AlveoOptions) -> Result<Self, BoardError> {
        let address = parse_nic_spec(spec)?;
        let vfio = VfioOptions {
            bars: vec![options.user_bar, options.dma_bar],
            interrupts: true,
        };
        let dev = VfioDevice::open(&SysPaths::system(), address, &vfio)?;
        AlveoNic::open(dev, options)
    }
}

impl<D: PcieDevice> AlveoNic<D> {
    /// Checks that `dev` is a riptide board of this driver's revision and
    /// starts both stream channels.
    pub fn open(mut dev: D, options: AlveoOptions) -> Result<AlveoNic<D>, BoardError> {
        if let Some(expected) = options.expected_ids
            && dev.ids() != expected
        {
            return Err(BoardError::WrongDevice {
                found: dev.ids(),
                expected,
            });
        }
        let bar = options.user_bar;
        let id = dev.read32(bar, regs::ID.offset.into())?;
        if id != regs::ID_VALUE {
            return Err(BoardError::NotRiptide {
                bar,
                found: id,
                expected: regs::ID_VALUE,
            });
        }
        let version = dev.read32(bar, regs::VERSION.offset.into())?;
        let (wire, revision) = (version >> 16, version & 0xFFFF);
        let want_wire = u32::from(layout::VERSION);
        if wire != want_wire || revision != regs::REGMAP_REVISION {
            return Err(BoardError::VersionMismatch {
                wire,
                revision,
                want_wire,
                want_revision: regs::REGMAP_REVISION,
            });
        }
        let max_window = dev.read32(bar, regs::MAX_WINDOW.offset.into())?;
        if max_window == 0 {
            return Err(BoardError::NoWindow);
        }
        dev.write32(
            bar,
            regs::HOST_WATCHDOG.offset.into(),
            watchdog_cycles(options.host_watchdog),
        )?;
        let h2c = H2cChannel::start(&mut dev, options.dma_bar, 0, options.h2c)?;
        let c2h = C2hChannel::start(&mut dev, options.dma_bar, 0, options.c2h)?;
        let irq = options.dma_bar;
        let bits =
            h2c.engine().irq_bit(options.h2c_channels) | c2h.engine().irq_bit(options.h2c_channels);
        dev.write32(irq, reg::IRQ_BLOCK + reg::CHANNEL_INT_ENABLE_W1S, bits)?;
        Ok(AlveoNic {
            dev,
            user_bar: bar,
            h2c,
            c2h,
            stats: HostStats::default(),
            max_window,
        })
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, for tests that act on the fake card behind it.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The most slots the board keeps in flight (`MAX_WINDOW`).
    pub fn max_window(&self) -> u32 {
        self.max_window
    }

    pub fn stats(&self) -> &HostStats {
        &self.stats
    }

    fn write(&mut self, register: Register, value: u32) -> Result<(), BoardError> {
        self.dev
            .write32(self.user_bar, register.offset.into(), value)?;
        Ok(())
    }

    fn read(&mut self, register: Register) -> Result<u32, BoardError> {
        Ok(self.dev.read32(self.user_bar, register.offset.into())?)
    }

    fn write_pair(&mut self, lo: Register, hi: Register, value: u64) -> Result<(), BoardError> {
        self.write(lo, value as u32)?;
        self.write(hi, (value >> 32) as u32)
    }

    /// Reads a live 64-bit register: the low half latches the high half.
    fn read_pair(&mut self, lo: Register, hi: Register) -> Result<u64, BoardError> {
        let low = self.read(lo)?;
        let high = self.read(hi)?;
        Ok(u64::from(low) | u64::from(high) << 32)
    }

    /// Carries out a host-to-card command: `Configure`, `Fence` and
    /// `Heartbeat` by registers, `Submit` and `Transmit` as h2c records.
    pub fn command(&mut self, command: NicCommand) -> Result<(), BoardError> {
        match command {
            NicCommand::Configure(config) => self.configure(&config),
            NicCommand::Fence { ballot } => self.fence(ballot),
            NicCommand::Heartbeat => self.heartbeat(),
            streamed @ (NicCommand::Submit { .. } | NicCommand::Transmit { .. }) => {
                let record = encode_h2c(&streamed)?;
                self.h2c.send(&mut self.dev, &record)?;
                Ok(())
            }
        }
    }

    /// Stages every `CFG_*` register of the configuration, then applies them
    /// together: the fast path never runs on a half-written ballot.
    pub fn configure(&mut self, config: &NicConfig) -> Result<(), BoardError> {
        let window = u32::try_from(config.window)
            .ok()
            .filter(|w| *w <= self.max_window)
            .ok_or(BoardError::WindowTooLarge {
                window: config.window,
                max: self.max_window,
            })?;
        if config.replicas == 0 || usize::from(config.replicas) > regs::MAX_REPLICAS {
            return Err(BoardError::BadReplicaCount(config.replicas));
        }
        let role = match config.role {
            NicRole::Idle => regs::ROLE_IDLE,
            NicRole::Follower => regs::ROLE_FOLLOWER,
            NicRole::Leader => regs::ROLE_LEADER,
        };
        self.write(regs::CFG_ROLE, role)?;
        self.write(regs::CFG_REPLICAS, config.replicas.into())?;
        self.write(regs::CFG_WINDOW, window)?;
        self.write_pair(regs::CFG_BALLOT_LO, regs::CFG_BALLOT_HI, config.ballot.0)?;
        self.write_pair(
            regs::CFG_NEXT_SLOT_LO,
            regs::CFG_NEXT_SLOT_HI,
            config.next_slot,
        )?;
        self.write_pair(regs::CFG_COMMIT_LO, regs::CFG_COMMIT_HI, config.commit)?;
        self.write_pair(
            regs::CFG_LIVES_LO,
            regs::CFG_LIVES_HI,
            u64::from_le_bytes(config.lives),
        )?;
        self.write(regs::CONFIG_APPLY, 1)
    }

    /// Stages this replica's id and group id; they take effect with the next
    /// configuration.
    pub fn set_identity(&mut self, replica_id: u8, group_id: u16) -> Result<(), BoardError> {
        self.write(regs::CFG_REPLICA_ID, replica_id.into())?;
        self.write(regs::CFG_GROUP_ID, group_id.into())
    }

    /// Programs peer table entry `replica` (this NIC's own entry is its source
    /// address).
    pub fn set_peer(&mut self, replica: usize, endpoint: &Endpoint) -> Result<(), BoardError> {
        let m = endpoint.mac;
        // In the order of `regs::PEER_FIELDS`: MAC low, MAC high, IP, port.
        let values = [
            u32::from_be_bytes([m[2], m[3], m[4], m[5]]),
            u32::from(u16::from_be_bytes([m[0], m[1]])),
            u32::from_be_bytes(endpoint.ip),
            u32::from(endpoint.port),
        ];
        for (field, value) in regs::PEER_FIELDS.iter().zip(values) {
            let offset =
                regs::peer_register(replica, field).ok_or(BoardError::NoSuchPeer(replica))?;
            self.dev.write32(self.user_bar, offset.into(), value)?;
        }
        Ok(())
    }

    /// Turns the fast path on or off (`ENABLE` bit 0).
    pub fn enable(&mut self, on: bool) -> Result<(), BoardError> {
        self.write(regs::ENABLE, on.into())
    }

    /// Starts the fence at `ballot`: the ballot first, then the request strobe.
    /// Completion is the `FenceDone` record on the card-to-host stream (and
    /// [`AlveoNic::fence_done`]).
    pub fn fence(&mut self, ballot: Ballot) -> Result<(), BoardError> {
        self.write_pair(regs::FENCE_BALLOT_LO, regs::FENCE_BALLOT_HI, ballot.0)?;
        self.write(regs::FENCE_REQUEST, 1)
    }

    /// Strobes `HEARTBEAT`: a leader's card sends COMMIT(ballot, commit) to
    /// every follower (a follower's card ignores it).
    pub fn heartbeat(&mut self) -> Result<(), BoardError> {
        self.write(regs::HEARTBEAT, 1)
    }

    /// Sets `HOST_WATCHDOG` (the write is itself a sign of the host).
    pub fn set_host_watchdog(&mut self, after: Duration) -> Result<(), BoardError> {
        self.write(regs::HOST_WATCHDOG, watchdog_cycles(after))
    }

    /// `HOST_WATCHDOG_STATUS` bit 0: the board stopped its own heartbeats
    /// because the host gave no sign for the watchdog's time. Reading it is
    /// no sign.
    pub fn host_watchdog_expired(&mut self) -> Result<bool, BoardError> {
        Ok(self.read(regs::HOST_WATCHDOG_STATUS)? & 1 == 1)
    }

    /// `FENCE_STATUS` bit 0: the last requested fence's `FenceDone` was sent.
    pub fn fence_done(&mut self) -> Result<bool, BoardError> {
        Ok(self.read(regs::FENCE_STATUS)? & 1 == 1)
    }

    /// The next card-to-host record, if one has arrived. Records that do not
    /// decode are counted in [`AlveoNic::stats`] and dropped.
    pub fn poll_host(&mut self) -> Result<Option<CardToHost>, BoardError> {
        loop {
            let packet = match self.c2h.poll(&mut self.dev) {
                Ok(Some(packet)) => packet,
                Ok(None) => {
                    // A cheap moment to learn which submissions are done.
                    self.h2c.reap(&mut self.dev)?;
                    return Ok(None);
                }
                Err(
                    XdmaError::BadWriteback { .. }
                    | XdmaError::WritebackTooLong { .. }
                    | XdmaError::PacketTooLong { .. },
                ) => {
                    self.stats.bad_descriptors += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match decode_c2h(&packet) {
                Ok(record) => return Ok(Some(record)),
                Err(e) => {
                    self.stats.malformed_records += 1;
                    self.stats.last_malformed = Some(e);
                }
            }
        }
    }

    /// Waits for the card (interrupt, else `timeout`) and checks both engines:
    /// an engine stopped on a fault is an error here.
    pub fn wait(&mut self, timeout: Duration) -> Result<Wake, BoardError> {
        let wake = self.dev.wait_interrupt(timeout)?;
        if wake == Wake::Interrupt {
            self.c2h.acknowledge(&mut self.dev)?;
        }
        self.check_engines()?;
        Ok(wake)
    }

    /// Reads both engines' status registers: a typed error if either stopped.
    pub fn check_engines(&mut self) -> Result<(), BoardError> {
        self.h2c.check(&mut self.dev)?;
        self.c2h.check(&mut self.dev)?;
        Ok(())
    }

    pub fn counter(&mut self, counter: Counter) -> Result<u32, BoardError> {
        Ok(self.dev.read32(self.user_bar, counter.offset().into())?)
    }

    /// Every counter, in register order.
    pub fn counters(&mut self) -> Result<Vec<(Counter, u32)>, BoardError> {
        Counter::ALL
            .iter()
            .map(|c| Ok((*c, self.counter(*c)?)))
            .collect()
    }

    /// The fast path's live next slot.
    pub fn next_slot(&mut self) -> Result<u64, BoardError> {
        self.read_pair(regs::NEXT_SLOT_LO, regs::NEXT_SLOT_HI)
    }

    /// The fast path's live commit index.
    pub fn commit(&mut self) -> Result<u64, BoardError> {
        self.read_pair(regs::COMMIT_LO, regs::COMMIT_HI)
    }

    /// H2C descriptors not yet reported done.
    pub fn h2c_in_flight(&self) -> u64 {
        self.h2c.in_flight()
    }
}

/// `after` in core clock cycles, saturated to the register (13 s), at least
/// one cycle unless zero (which turns the watchdog off).
fn watchdog_cycles(after: Duration) -> u32 {
    let cycles = after.as_nanos() * u128::from(CORE_CLOCK_HZ) / 1_000_000_000;
    match u32::try_from(cycles) {
        Ok(0) if !after.is_zero() => 1,
        Ok(c) => c,
        Err(_) => u32::MAX,
    }
}

/// A real board drops what its card sends that it cannot use and counts it
/// ([`AlveoNic::stats`]): the card is hardware, and a host that stopped on
/// its first bad record would stop the replica.
impl<D: PcieDevice> NicHost for AlveoNic<D> {
    fn command(&mut self, command: NicCommand) -> Result<(), NicError> {
        Ok(AlveoNic::command(self, command)?)
    }

    fn poll_host(&mut self) -> Result<Option<CardToHost>, NicError> {
        Ok(AlveoNic::poll_host(self)?)
    }
}

impl<D: PcieDevice> Drop for AlveoNic<D> {
    /// Stops both engines before the DMA memory behind them is released.
    fn drop(&mut self) {
        let _ = self.h2c.stop(&mut self.dev);
        let _ = self.c2h.stop(&mut self.dev);
    }
}
