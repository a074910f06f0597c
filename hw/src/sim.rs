//! `RtlNic`: the RTL core in the RustHDL simulator behind the same
//! transaction-level interface as the behavioural model (`command`,
//! `receive`, `poll_transmit`, `poll_host`), so tests can diff the two and
//! the driver can run host software against the RTL.
//!
//! Frames received are queued as beats and flow back to back (with a small
//! gap so card-to-host records keep up); commands are register writes or
//! host-to-card records and are carried out to completion, as are polls
//! (the core is run until it has been quiet for a while).

use crate::beat::{Beat, beats};

use crate::core::RiptideCore;
use crate::testbench::{Bench, Clocked};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicRole};
use riptide_wire::records::{self, RecordError};
use riptide_wire::regs::{self, Counter};
use rust_hdl::prelude::*;
use std::collections::VecDeque;

impl Clocked for RiptideCore {
    fn clock(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clk
    }
}

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

pub struct RtlNic {
    bench: Bench<RiptideCore>,
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
    /// The core of replica `id` in group `group`, with every replica's
    /// address (indexed by id; the core listens on the port of its own).
    pub fn new(name: &str, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlNic {
        let mut nic = RtlNic {
            bench: Bench::new(name, RiptideCore::default()),
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
        self.bench.uut.rst.next = true;
        self.bench.step();
        self.bench.step();
        self.bench.uut.rst.next = false;
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
        self.bench.cycle
    }

    /// One clock cycle: stream inputs offered, outputs collected.
    fn step(&mut self) {
        let u = &mut self.bench.uut;
        match self.rx.front() {
            Some(Some((beat, user))) => {
                u.net_rx_tdata.next = beat.tdata();
                u.net_rx_tkeep.next = beat.keep.into();
                u.net_rx_tlast.next = beat.last;
                u.net_rx_tuser.next = *user;
                u.net_rx_tvalid.next = true;
            }
            _ => {
                u.net_rx_tvalid.next = false;
                u.net_rx_tuser.next = false;
            }
        }
        if let Some(beat) = self.h2c.front() {
            u.h2c_tdata.next = beat.tdata();
            u.h2c_tkeep.next = beat.keep.into();
            u.h2c_tlast.next = beat.last;
            u.h2c_tvalid.next = true;
        } else {
            u.h2c_tvalid.next = false;
        }
        let (tx_ready, c2h_ready) = match &mut self.ready {
            Some(pattern) => (pattern.next(), pattern.next()),
            None => (true, true),
        };
        u.net_tx_tready.next = tx_ready;
        u.c2h_tready.next = c2h_ready;
        self.bench.settle();
        let u = &self.bench.uut;
        // Handshakes happen at the rising edge: sample before it.
        let cycle = self.bench.cycle;
        if let Some(Some((beat, _))) = self.rx.pop_front() {
            track(
                &mut self.timing.rx_first,
                &mut self.timing.rx,
                cycle,
                beat.last,
            );
        }
        if u.h2c_tvalid.val() && u.h2c_tready.val() {
            self.h2c.pop_front();
        }
        if u.net_tx_tvalid.val() && tx_ready {
            let beat = Beat::from_tdata(
                u.net_tx_tdata.val(),
                u.net_tx_tkeep.val(),
                u.net_tx_tlast.val(),
            );
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
        if u.c2h_tvalid.val() && c2h_ready {
            let beat = Beat::from_tdata(u.c2h_tdata.val(), u.c2h_tkeep.val(), u.c2h_tlast.val());
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
        self.bench.step();
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
        let start = self.bench.cycle;
        while !self.rx.is_empty() || !self.h2c.is_empty() || self.bench.uut.in_flight() {
            self.step();
            assert!(
                self.bench.cycle - start < MAX_DRAIN,
                "core did not go quiet in {MAX_DRAIN} cycles"
            );
        }
    }

    /// AXI4-Lite write of one register.
    pub fn write(&mut self, offset: u32, value: u32) {
        let u = &mut self.bench.uut;
        u.s_axil_awaddr.next = u64::from(offset).into();
        u.s_axil_wdata.next = u64::from(value).into();
        u.s_axil_wstrb.next = 0xF.into();
        u.s_axil_awvalid.next = true;
        u.s_axil_wvalid.next = true;
        u.s_axil_bready.next = true;
        for _ in 0..16 {
            self.bench.settle();
            let taken = self.bench.uut.s_axil_awready.val();
            self.bench.step();
            if taken {
                break;
            }
        }
        let u = &mut self.bench.uut;
        u.s_axil_awvalid.next = false;
        u.s_axil_wvalid.next = false;
        for _ in 0..16 {
            self.bench.settle();
            let done = self.bench.uut.s_axil_bvalid.val();
            self.bench.step();
            if done {
                break;
            }
        }
        self.bench.uut.s_axil_bready.next = false;
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
        self.bench.uut.s_axil_rready.next = true;
        while values.len() < offsets.len() {
            let u = &mut self.bench.uut;
            u.s_axil_arvalid.next = issued < offsets.len();
            if let Some(&offset) = offsets.get(issued) {
                u.s_axil_araddr.next = u64::from(offset).into();
            }
            self.bench.settle();
            let u = &self.bench.uut;
            if u.s_axil_arvalid.val() && u.s_axil_arready.val() {
                issued += 1;
            }
            if u.s_axil_rvalid.val() {
                values.push(u.s_axil_rdata.val().to_u64() as u32);
            }
            self.bench.step();
            waited += 1;
            assert!(
                waited < 16 * (offsets.len() + 1),
                "AXI4-Lite reads not answered"
            );
        }
        self.bench.uut.s_axil_arvalid.next = false;
        self.bench.uut.s_axil_rready.next = false;
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
