//! `RtlNic`: the RTL core in the RustHDL simulator behind the same
//! transaction-level interface as the behavioural model (`command`,
//! `receive`, `poll_transmit`, `poll_host`), so tests can diff the two and
//! the driver can run host software against the RTL.
//!
//! Frames received are queued as beats and flow back to back (with a small
//! gap so card-to-host records keep up); commands are register writes or
//! host-to-card records and are carried out to completion, as are polls
//! (the core is run until it has been quiet for a while).
//!
//! The harness sees only the core's ports ([`CorePorts`]): the RustHDL model
//! by default ([`HdlCore`]), or the Verilated Verilog (`riptide-verilated`).

use crate::beat::{Beat, beats};
use crate::ports::{CorePorts, HdlCore};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicRole};
use riptide_wire::records::{self, RecordError};
use riptide_wire::regs::{self, Counter};
use std::collections::VecDeque;

/// Idle cycles after each received frame, so that the card-to-host stream
/// (up to three beats per two-beat frame) never falls behind, and a commit
/// advance an ACCEPTED completes (ack write, quorum count, `chosen` set,
/// rotate, advance: pipelined for timing) leaves its Committed record before
/// the next frame's records, as the model, which handles one frame at a
/// time, orders them.
pub const RX_GAP: usize = 5;
/// Give up on a core that never goes quiet (a wedged or looping design).
const MAX_DRAIN: u64 = 200_000;

/// A deterministic ready pattern for the output streams (SplitMix64).
#[derive(Debug, Clone)]
struct ReadyPattern {
    state: u64,
    percent: u64,
}

impl ReadyPattern {
    fn next(&mut self) -> bool {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 100 < self.percent
    }
}

pub struct RtlNic<C: CorePorts = HdlCore> {
    core: C,
    peers: Vec<Endpoint>,
    /// Receive beats, each with its `tuser` (bad FCS, on a last beat).
    rx: VecDeque<Option<(Beat, bool)>>,
    h2c: VecDeque<Beat>,
    tx_partial: Vec<u8>,
    c2h_partial: Vec<u8>,
    transmit: VecDeque<(u8, Vec<u8>)>,
    host: VecDeque<Result<CardToHost, RecordError>>,
    ready: Option<ReadyPattern>,
    timing: Timing,
}

/// When each packet crossed each stream: (cycle of its first beat, cycle of
/// its last beat), in order. For latency and throughput measurements.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub rx: Vec<(u64, u64)>,
    pub tx: Vec<(u64, u64)>,
    pub c2h: Vec<(u64, u64)>,
    rx_first: Option<u64>,
    tx_first: Option<u64>,
    c2h_first: Option<u64>,
}

fn track(first: &mut Option<u64>, log: &mut Vec<(u64, u64)>, cycle: u64, last: bool) {
    let start = *first.get_or_insert(cycle);
    if last {
        log.push((start, cycle));
        *first = None;
    }
}

impl RtlNic {
    /// The RustHDL core of replica `id` in group `group`, with every
    /// replica's address (indexed by id; the core listens on the port of its
    /// own). `name` names its VCD trace, if traced.
    pub fn new(name: &str, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlNic {
        RtlNic::on(HdlCore::new(name), id, group, peers)
    }
}

impl<C: CorePorts> RtlNic<C> {
    /// `core` as the NIC of replica `id` in group `group` (see [`RtlNic::new`]).
    pub fn on(core: C, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlNic<C> {
        let mut nic = RtlNic {
            core,
            peers,
            rx: VecDeque::new(),
            h2c: VecDeque::new(),
            tx_partial: vec![],
            c2h_partial: vec![],
            transmit: VecDeque::new(),
            host: VecDeque::new(),
            ready: None,
            timing: Timing::default(),
        };
        nic.reset();
        let peers = nic.peers.clone();
        for (i, peer) in peers.iter().enumerate().take(regs::MAX_REPLICAS) {
            let field = |n: usize| regs::peer_register(i, &regs::PEER_FIELDS[n]).expect("in table");
            let mac = peer.mac;
            nic.write(
                field(0),
                u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
            );
            nic.write(field(1), u32::from(u16::from_be_bytes([mac[0], mac[1]])));
            nic.write(field(2), u32::from_be_bytes(peer.ip));
            nic.write(field(3), u32::from(peer.port));
        }
        nic.identify(id, group);
        nic
    }

    /// Reset: every counter, queue and piece of fast-path state cleared;
    /// the peer table and staged configuration registers are kept.
    pub fn reset(&mut self) {
        self.rx.clear();
        self.h2c.clear();
        self.tx_partial.clear();
        self.c2h_partial.clear();
        self.transmit.clear();
        self.host.clear();
        self.timing = Timing::default();
        self.core.inputs().rst = true;
        self.core.tick();
        self.core.tick();
        self.core.inputs().rst = false;
        // The units take `rst` through registered copies (`reset.rs`): one
        // more edge for them to leave reset.
        self.core.tick();
    }

    /// Programs replica id and group and turns the fast path on (idle role).
    pub fn identify(&mut self, id: u8, group: u16) {
        self.write(regs::CFG_REPLICA_ID.offset, id.into());
        self.write(regs::CFG_GROUP_ID.offset, group.into());
        self.write(regs::CFG_REPLICAS.offset, self.peers.len() as u32);
        self.write(regs::CFG_ROLE.offset, regs::ROLE_IDLE);
        self.write(regs::CONFIG_APPLY.offset, 1);
        self.write(regs::ENABLE.offset, 1);
    }

    /// From now on the network and host streams accept a beat only `percent`
    /// of the cycles, in a pattern drawn from `seed`.
    pub fn backpressure(&mut self, seed: u64, percent: u64) {
        self.ready = Some(ReadyPattern {
            state: seed,
            percent,
        });
    }

    pub fn cycles(&self) -> u64 {
        self.core.cycles()
    }

    /// One clock cycle: stream inputs offered, outputs collected.
    fn step(&mut self) {
        let (tx_ready, c2h_ready) = match &mut self.ready {
            Some(pattern) => (pattern.next(), pattern.next()),
            None => (true, true),
        };
        let i = self.core.inputs();
        match self.rx.front() {
            Some(Some((beat, user))) => {
                i.net_rx = Some(beat.clone());
                i.net_rx_tuser = *user;
            }
            _ => {
                i.net_rx = None;
                i.net_rx_tuser = false;
            }
        }
        i.h2c = self.h2c.front().cloned();
        let h2c_offered = i.h2c.is_some();
        i.net_tx_tready = tx_ready;
        i.c2h_tready = c2h_ready;
        // Handshakes happen at the rising edge: sample before it.
        let cycle = self.core.cycles();
        let out = self.core.outputs();
        let h2c_taken = h2c_offered && out.h2c_tready;
        let tx = out.net_tx.clone().filter(|_| tx_ready);
        let c2h = out.c2h.clone().filter(|_| c2h_ready);
        if let Some(Some((beat, _))) = self.rx.pop_front() {
            track(
                &mut self.timing.rx_first,
                &mut self.timing.rx,
                cycle,
                beat.last,
            );
        }
        if h2c_taken {
            self.h2c.pop_front();
        }
        if let Some(beat) = tx {
            self.tx_partial.extend_from_slice(beat.bytes());
            track(
                &mut self.timing.tx_first,
                &mut self.timing.tx,
                cycle,
                beat.last,
            );
            if beat.last {
                let frame = std::mem::take(&mut self.tx_partial);
                let to = self.addressee(&frame);
                self.transmit.push_back((to, frame));
            }
        }
        if let Some(beat) = c2h {
            self.c2h_partial.extend_from_slice(beat.bytes());
            track(
                &mut self.timing.c2h_first,
                &mut self.timing.c2h,
                cycle,
                beat.last,
            );
            if beat.last {
                let record = std::mem::take(&mut self.c2h_partial);
                self.host.push_back(records::decode_c2h(&record));
            }
        }
        self.core.tick();
    }

    /// The replica whose MAC a frame is addressed to (`u8::MAX` if none).
    fn addressee(&self, frame: &[u8]) -> u8 {
        self.peers
            .iter()
            .position(|p| frame.len() >= 6 && p.mac[..] == frame[..6])
            .map_or(u8::MAX, |i| i as u8)
    }

    /// Runs until every queued input is in and nothing is left in flight
    /// (the core's own view of its queues, pipelines and strobes): further
    /// idle cycles would change nothing but a heartbeat timer.
    pub fn drain(&mut self) {
        let start = self.core.cycles();
        while !self.rx.is_empty() || !self.h2c.is_empty() || self.core.in_flight() {
            self.step();
            assert!(
                self.core.cycles() - start < MAX_DRAIN,
                "core did not go quiet in {MAX_DRAIN} cycles"
            );
        }
    }

    /// AXI4-Lite write of one register.
    pub fn write(&mut self, offset: u32, value: u32) {
        let a = &mut self.core.inputs().axil;
        a.awaddr = offset;
        a.wdata = value;
        a.wstrb = 0xF;
        a.awvalid = true;
        a.wvalid = true;
        a.bready = true;
        for _ in 0..16 {
            let taken = self.core.outputs().axil.awready;
            self.core.tick();
            if taken {
                break;
            }
        }
        let a = &mut self.core.inputs().axil;
        a.awvalid = false;
        a.wvalid = false;
        for _ in 0..16 {
            let done = self.core.outputs().axil.bvalid;
            self.core.tick();
            if done {
                break;
            }
        }
        self.core.inputs().axil.bready = false;
    }

    /// AXI4-Lite read of one register.
    pub fn read(&mut self, offset: u32) -> u32 {
        self.read_many(&[offset])[0]
    }

    /// AXI4-Lite reads of several registers, issued back to back (the
    /// register file takes a read in the cycle the previous answer leaves).
    pub fn read_many(&mut self, offsets: &[u32]) -> Vec<u32> {
        let mut values = Vec::with_capacity(offsets.len());
        let mut issued = 0;
        let mut waited = 0;
        self.core.inputs().axil.rready = true;
        while values.len() < offsets.len() {
            let offered = issued < offsets.len();
            let a = &mut self.core.inputs().axil;
            a.arvalid = offered;
            if let Some(&offset) = offsets.get(issued) {
                a.araddr = offset;
            }
            let out = self.core.outputs().axil;
            if offered && out.arready {
                issued += 1;
            }
            if out.rvalid {
                values.push(out.rdata);
            }
            self.core.tick();
            waited += 1;
            assert!(
                waited < 16 * (offsets.len() + 1),
                "AXI4-Lite reads not answered"
            );
        }
        let a = &mut self.core.inputs().axil;
        a.arvalid = false;
        a.rready = false;
        values
    }

    pub fn counter(&mut self, counter: Counter) -> u32 {
        self.read(counter.offset())
    }

    /// Every counter, in register order.
    pub fn counters(&mut self) -> Vec<(Counter, u32)> {
        let offsets: Vec<u32> = Counter::ALL.iter().map(|c| c.offset()).collect();
        let values = self.read_many(&offsets);
        Counter::ALL.iter().copied().zip(values).collect()
    }

    fn write64(&mut self, lo: regs::Register, hi: regs::Register, value: u64) {
        self.write(lo.offset, value as u32);
        self.write(hi.offset, (value >> 32) as u32);
    }

    fn configure(&mut self, config: &NicConfig) {
        let role = match config.role {
            NicRole::Idle => regs::ROLE_IDLE,
            NicRole::Follower => regs::ROLE_FOLLOWER,
            NicRole::Leader => regs::ROLE_LEADER,
        };
        self.write(regs::CFG_ROLE.offset, role);
        self.write(regs::CFG_REPLICAS.offset, config.replicas.into());
        self.write(regs::CFG_WINDOW.offset, config.window.min(0xFFFF) as u32);
        self.write64(regs::CFG_BALLOT_LO, regs::CFG_BALLOT_HI, config.ballot.0);
        self.write64(
            regs::CFG_NEXT_SLOT_LO,
            regs::CFG_NEXT_SLOT_HI,
            config.next_slot,
        );
        self.write64(regs::CFG_COMMIT_LO, regs::CFG_COMMIT_HI, config.commit);
        self.write64(
            regs::CFG_LIVES_LO,
            regs::CFG_LIVES_HI,
            u64::from_le_bytes(config.lives),
        );
        self.write(regs::CONFIG_APPLY.offset, 1);
    }

    /// A host-to-card command, carried out to completion. `Submit` waits
    /// while the window is full (the core back-pressures the stream).
    pub fn command(&mut self, command: NicCommand) {
        self.drain();
        match &command {
            NicCommand::Configure(config) => self.configure(config),
            NicCommand::Fence { ballot } => {
                self.write64(regs::FENCE_BALLOT_LO, regs::FENCE_BALLOT_HI, ballot.0);
                self.write(regs::FENCE_REQUEST.offset, 1);
            }
            NicCommand::Heartbeat => self.write(regs::HEARTBEAT.offset, 1),
            NicCommand::Submit { .. } | NicCommand::Transmit { .. } => {
                if let Ok(record) = records::encode_h2c(&command) {
                    self.h2c.extend(beats(&record));
                }
            }
        }
        self.drain();
    }

    /// A frame from the network, queued behind the frames before it.
    pub fn receive(&mut self, frame: &[u8]) {
        self.receive_beats(beats(frame));
    }

    /// A frame the MAC delivers with a bad FCS: `tuser` raised with `tlast`,
    /// as the Xilinx CMAC does (`ModelNic::receive_bad_fcs`).
    pub fn receive_bad_fcs(&mut self, frame: &[u8]) {
        self.rx.extend(
            beats(frame)
                .into_iter()
                .map(|beat| Some((beat.clone(), beat.last))),
        );
        self.rx.extend(std::iter::repeat_n(None, RX_GAP));
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// A frame right behind the one before it, with no idle cycle between.
    pub fn receive_back_to_back(&mut self, frame: &[u8]) {
        self.rx
            .extend(beats(frame).into_iter().map(|beat| Some((beat, false))));
    }

    /// Beats as given (any `tkeep`, any framing), then the usual gap.
    pub fn receive_beats(&mut self, beats: Vec<Beat>) {
        self.rx
            .extend(beats.into_iter().map(|beat| Some((beat, false))));
        self.rx.extend(std::iter::repeat_n(None, RX_GAP));
    }

    /// `cycles` idle cycles on the receive stream after what is queued.
    pub fn idle(&mut self, cycles: usize) {
        self.rx.extend(std::iter::repeat_n(None, cycles));
    }

    pub fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.transmit.is_empty() {
            self.drain();
        }
        self.transmit.pop_front()
    }

    /// The next card-to-host record, or why its bytes are not one.
    pub fn poll_record(&mut self) -> Option<Result<CardToHost, RecordError>> {
        if self.host.is_empty() {
            self.drain();
        }
        self.host.pop_front()
    }
}
