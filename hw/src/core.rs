//! `riptide_core`: the whole fast path with flat, Vivado-inferable AXI port
//! names (the struct's field names are the Verilog port names).
//!
//! ```text
//! net_rx ─► RxParser ─► FrameStore ───────────────┐
//!              │ verdict                          ▼
//!              └──────► FastPath ─► c2h queue ─► C2hWriter ─► c2h
//!                        ▲   │ ▲                  ▲
//! h2c ─► LeaderUnit ─────┘   │ └ Quorum           │ (own Accepted records)
//!          │ store ──────────┼────────────────────┘
//!          └ ACCEPT/COMMIT/raw ─► tx queue ─► TxBuilder ─► net_tx
//!                            └ ACCEPTED/NACK ┘
//! s_axil ─► RegFile (config, peer table, counters)
//! ```
//!
//! One clock domain (the MAC's); see `docs/hw.md` for the clocking plan.

use crate::beat::{Data, Keep, counter_code};
use crate::c2h::C2hWriter;
use crate::fastpath::FastPath;
use crate::leader::LeaderUnit;
use crate::parser::{Reason, RxParser};
use crate::regfile::{AxilAddr, RegFile};
use crate::reset::ResetCopy;
use crate::store::FrameStore;
use crate::tx::TxBuilder;
use riptide_wire::message::MsgType;
use riptide_wire::regs::{self, Counter};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct RiptideCore {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub net_rx_tdata: Signal<In, Data>,
    pub net_rx_tkeep: Signal<In, Keep>,
    pub net_rx_tvalid: Signal<In, Bit>,
    pub net_rx_tready: Signal<Out, Bit>,
    pub net_rx_tlast: Signal<In, Bit>,
    /// Bad FCS, with `tlast` (the CMAC's `rx_axis_tuser`).
    pub net_rx_tuser: Signal<In, Bit>,
    pub net_tx_tdata: Signal<Out, Data>,
    pub net_tx_tkeep: Signal<Out, Keep>,
    pub net_tx_tvalid: Signal<Out, Bit>,
    pub net_tx_tready: Signal<In, Bit>,
    pub net_tx_tlast: Signal<Out, Bit>,
    pub h2c_tdata: Signal<In, Data>,
    pub h2c_tkeep: Signal<In, Keep>,
    pub h2c_tvalid: Signal<In, Bit>,
    pub h2c_tready: Signal<Out, Bit>,
    pub h2c_tlast: Signal<In, Bit>,
    pub c2h_tdata: Signal<Out, Data>,
    pub c2h_tkeep: Signal<Out, Keep>,
    pub c2h_tvalid: Signal<Out, Bit>,
    pub c2h_tready: Signal<In, Bit>,
    pub c2h_tlast: Signal<Out, Bit>,
    pub s_axil_awaddr: Signal<In, AxilAddr>,
    pub s_axil_awvalid: Signal<In, Bit>,
    pub s_axil_awready: Signal<Out, Bit>,
    pub s_axil_wdata: Signal<In, Bits<32>>,
    pub s_axil_wstrb: Signal<In, Bits<4>>,
    pub s_axil_wvalid: Signal<In, Bit>,
    pub s_axil_wready: Signal<Out, Bit>,
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    pub s_axil_bvalid: Signal<Out, Bit>,
    pub s_axil_bready: Signal<In, Bit>,
    pub s_axil_araddr: Signal<In, AxilAddr>,
    pub s_axil_arvalid: Signal<In, Bit>,
    pub s_axil_arready: Signal<Out, Bit>,
    pub s_axil_rdata: Signal<Out, Bits<32>>,
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    pub s_axil_rvalid: Signal<Out, Bit>,
    pub s_axil_rready: Signal<In, Bit>,

    parser: RxParser,
    store: FrameStore,
    fast: FastPath,
    writer: C2hWriter,
    builder: TxBuilder,
    leader: LeaderUnit,
    regs: RegFile,
    /// Each unit's registered copy of `rst` (`reset.rs`).
    rst_parser: ResetCopy,
    rst_store: ResetCopy,
    rst_fast: ResetCopy,
    rst_writer: ResetCopy,
    rst_builder: ResetCopy,
    rst_leader: ResetCopy,

    role_leader: Constant<Bits<2>>,
    none: Constant<Reason>,
    one: Constant<Bits<64>>,
    c_rx: Constant<Reason>,
    c_records: Constant<Reason>,
    c_committed: Constant<Reason>,
    c_fence_done: Constant<Reason>,
    c_submitted: Constant<Reason>,
    c_tx_accepted: Constant<Reason>,
    c_tx_nack: Constant<Reason>,
    c_tx_accept: Constant<Reason>,
    c_tx_commit: Constant<Reason>,
    c_tx_raw: Constant<Reason>,
    t_accepted: Constant<Bits<8>>,
    t_nack: Constant<Bits<8>>,
    t_accept: Constant<Bits<8>>,
    t_commit: Constant<Bits<8>>,

    leader_grant: Signal<Local, Bit>,
    tx_counter: Signal<Local, Reason>,
    count_rx: Signal<Local, Bits<64>>,
    count_fate: Signal<Local, Bits<64>>,
    count_records: Signal<Local, Bits<64>>,
    count_committed: Signal<Local, Bits<64>>,
    count_fence: Signal<Local, Bits<64>>,
    count_submitted: Signal<Local, Bits<64>>,
    count_tx: Signal<Local, Bits<64>>,
}

impl Default for RiptideCore {
    fn default() -> Self {
        let code = |c: Counter| Constant::new(counter_code(c));
        let t = |m: MsgType| Constant::new(u64::from(m.code()).into());
        Self {
            clk: Default::default(),
            rst: Default::default(),
            net_rx_tdata: Default::default(),
            net_rx_tkeep: Default::default(),
            net_rx_tvalid: Default::default(),
            net_rx_tready: Default::default(),
            net_rx_tlast: Default::default(),
            net_rx_tuser: Default::default(),
            net_tx_tdata: Default::default(),
            net_tx_tkeep: Default::default(),
            net_tx_tvalid: Default::default(),
            net_tx_tready: Default::default(),
            net_tx_tlast: Default::default(),
            h2c_tdata: Default::default(),
            h2c_tkeep: Default::default(),
            h2c_tvalid: Default::default(),
            h2c_tready: Default::default(),
            h2c_tlast: Default::default(),
            c2h_tdata: Default::default(),
            c2h_tkeep: Default::default(),
            c2h_tvalid: Default::default(),
            c2h_tready: Default::default(),
            c2h_tlast: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            parser: Default::default(),
            store: Default::default(),
            fast: Default::default(),
            writer: Default::default(),
            builder: Default::default(),
            leader: Default::default(),
            regs: Default::default(),
            rst_parser: Default::default(),
            rst_store: Default::default(),
            rst_fast: Default::default(),
            rst_writer: Default::default(),
            rst_builder: Default::default(),
            rst_leader: Default::default(),
            role_leader: Constant::new(u64::from(regs::ROLE_LEADER).into()),
            none: code(Counter::RxFrames),
            one: Constant::new(1u64.into()),
            c_rx: code(Counter::RxFrames),
            c_records: code(Counter::HostRecords),
            c_committed: code(Counter::Committed),
            c_fence_done: code(Counter::FenceDone),
            c_submitted: code(Counter::Submitted),
            c_tx_accepted: code(Counter::TxAccepted),
            c_tx_nack: code(Counter::TxNack),
            c_tx_accept: code(Counter::TxAccept),
            c_tx_commit: code(Counter::TxCommit),
            c_tx_raw: code(Counter::TxRaw),
            t_accepted: t(MsgType::Accepted),
            t_nack: t(MsgType::Nack),
            t_accept: t(MsgType::Accept),
            t_commit: t(MsgType::Commit),
            leader_grant: Default::default(),
            tx_counter: Default::default(),
            count_rx: Default::default(),
            count_fate: Default::default(),
            count_records: Default::default(),
            count_committed: Default::default(),
            count_fence: Default::default(),
            count_submitted: Default::default(),
            count_tx: Default::default(),
        }
    }
}

impl RiptideCore {
    /// Simulation view: anything the core would still do with its inputs
    /// idle (a frame being decided, a queued command, a beat on its way out,
    /// a pending strobe). Lets a testbench stop stepping an idle core. An
    /// entry waiting for a slot while the window is full waits for input.
    pub fn in_flight(&self) -> bool {
        let held = self.leader.submit.val() && !self.fast.window_open.val();
        self.net_tx_tvalid.val()
            || self.c2h_tvalid.val()
            || self.parser.in_flight()
            || self.fast.in_flight()
            || self.writer.in_flight()
            || self.builder.in_flight()
            || (self.leader.in_flight() && !held)
            || self.regs.in_flight()
    }
}

impl Logic for RiptideCore {
    #[hdl_gen]
    fn update(&mut self) {
        self.parser.clock.next = self.clk.val();
        self.store.clock.next = self.clk.val();
        self.fast.clock.next = self.clk.val();
        self.writer.clock.next = self.clk.val();
        self.builder.clock.next = self.clk.val();
        self.leader.clock.next = self.clk.val();
        self.regs.clock.next = self.clk.val();
        self.rst_parser.clock.next = self.clk.val();
        self.rst_parser.rst.next = self.rst.val();
        self.parser.rst.next = self.rst_parser.rst_q.val();
        self.rst_store.clock.next = self.clk.val();
        self.rst_store.rst.next = self.rst.val();
        self.store.rst.next = self.rst_store.rst_q.val();
        self.rst_fast.clock.next = self.clk.val();
        self.rst_fast.rst.next = self.rst.val();
        self.fast.rst.next = self.rst_fast.rst_q.val();
        self.rst_writer.clock.next = self.clk.val();
        self.rst_writer.rst.next = self.rst.val();
        self.writer.rst.next = self.rst_writer.rst_q.val();
        self.rst_builder.clock.next = self.clk.val();
        self.rst_builder.rst.next = self.rst.val();
        self.builder.rst.next = self.rst_builder.rst_q.val();
        self.rst_leader.clock.next = self.clk.val();
        self.rst_leader.rst.next = self.rst.val();
        self.leader.rst.next = self.rst_leader.rst_q.val();
        // The register file copies `rst` itself (its counters are most of
        // the reset loads).
        self.regs.rst.next = self.rst.val();

        // Register file.
        self.regs.s_axil_awaddr.next = self.s_axil_awaddr.val();
        self.regs.s_axil_awvalid.next = self.s_axil_awvalid.val();
        self.s_axil_awready.next = self.regs.s_axil_awready.val();
        self.regs.s_axil_wdata.next = self.s_axil_wdata.val();
        self.regs.s_axil_wstrb.next = self.s_axil_wstrb.val();
        self.regs.s_axil_wvalid.next = self.s_axil_wvalid.val();
        self.s_axil_wready.next = self.regs.s_axil_wready.val();
        self.s_axil_bresp.next = self.regs.s_axil_bresp.val();
        self.s_axil_bvalid.next = self.regs.s_axil_bvalid.val();
        self.regs.s_axil_bready.next = self.s_axil_bready.val();
        self.regs.s_axil_araddr.next = self.s_axil_araddr.val();
        self.regs.s_axil_arvalid.next = self.s_axil_arvalid.val();
        self.s_axil_arready.next = self.regs.s_axil_arready.val();
        self.s_axil_rdata.next = self.regs.s_axil_rdata.val();
        self.s_axil_rresp.next = self.regs.s_axil_rresp.val();
        self.s_axil_rvalid.next = self.regs.s_axil_rvalid.val();
        self.regs.s_axil_rready.next = self.s_axil_rready.val();
        self.regs.next_slot.next = self.fast.next_slot.val();
        self.regs.commit_index.next = self.fast.commit_index.val();
        self.regs.fence_done.next = self.writer.fence_done_out.val();
        self.regs.peer_sel.next = self.builder.peer_sel.val();

        // Receive: parser, store, decision.
        self.net_rx_tready.next = true;
        self.parser.rx_tdata.next = self.net_rx_tdata.val();
        self.parser.rx_tkeep.next = self.net_rx_tkeep.val();
        self.parser.rx_tvalid.next = self.net_rx_tvalid.val();
        self.parser.rx_tlast.next = self.net_rx_tlast.val();
        self.parser.rx_tuser.next = self.net_rx_tuser.val();
        self.parser.group.next = self.regs.group.val();
        self.parser.port.next = self.regs.own_port.val();
        self.parser.lives.next = self.regs.lives_next.val();
        self.store.wr_valid.next = self.parser.wr_valid.val();
        self.store.wr_data.next = self.parser.wr_data.val();
        self.store.wr_last.next = self.parser.done.val();
        self.store.keep.next = self.fast.keep.val();
        self.store.rd_addr.next = self.writer.rd_addr.val();
        self.store.rd_free.next = self.writer.rx_free.val();

        self.fast.done.next = self.parser.done.val();
        self.fast.reason.next = self.parser.reason.val();
        self.fast.msg_type.next = self.parser.msg_type.val();
        self.fast.sender.next = self.parser.sender.val();
        self.fast.old_life.next = self.parser.old_life.val();
        self.fast.ballot.next = self.parser.ballot.val();
        self.fast.slot.next = self.parser.slot.val();
        self.fast.commit.next = self.parser.commit.val();
        self.fast.payload_len.next = self.parser.payload_len.val();
        self.fast.frame_len.next = self.parser.frame_len.val();
        self.fast.overflow.next = self.store.overflow.val();
        self.fast.frame_start.next = self.store.frame_start.val();
        self.fast.enable.next = self.regs.enable.val();
        self.fast.role.next = self.regs.role.val();
        self.fast.replica_id.next = self.regs.replica_id.val();
        self.fast.replicas.next = self.regs.replicas.val();
        self.fast.window.next = self.regs.window.val();
        self.fast.cfg_ballot.next = self.regs.ballot.val();
        self.fast.configure.next = self.regs.configure.val();
        self.fast.cfg_next_slot.next = self.regs.cfg_next_slot.val();
        self.fast.cfg_commit.next = self.regs.cfg_commit.val();
        self.fast.fence_request.next = self.regs.fence_request.val();
        self.fast.fence_ballot.next = self.regs.fence_ballot.val();
        self.fast.submit.next = self.leader.submit.val();
        self.fast.submit_len.next = self.leader.submit_len.val();
        self.fast.c2h_room.next = self.writer.room.val();
        self.fast.tx_room.next = self.builder.room.val();

        // Card-to-host records.
        self.writer.push.next = self.fast.c2h_push.val();
        self.writer.kind.next = self.fast.c2h_kind.val();
        self.writer.from_h2c.next = self.fast.c2h_from_h2c.val();
        self.writer.ballot.next = self.fast.c2h_ballot.val();
        self.writer.slot.next = self.fast.c2h_slot.val();
        self.writer.commit.next = self.fast.c2h_commit.val();
        self.writer.then_commit.next = self.fast.c2h_then_commit.val();
        self.writer.len.next = self.fast.c2h_len.val();
        self.writer.start.next = self.fast.c2h_start.val();
        self.writer.rx_data.next = self.store.rd_data.val();
        self.writer.h2c_data.next = self.leader.c2h_data.val();
        self.writer.c2h_tready.next = self.c2h_tready.val();
        self.c2h_tdata.next = self.writer.c2h_tdata.val();
        self.c2h_tkeep.next = self.writer.c2h_tkeep.val();
        self.c2h_tvalid.next = self.writer.c2h_tvalid.val();
        self.c2h_tlast.next = self.writer.c2h_tlast.val();

        // Leader unit.
        self.leader.h2c_tdata.next = self.h2c_tdata.val();
        self.leader.h2c_tkeep.next = self.h2c_tkeep.val();
        self.leader.h2c_tvalid.next = self.h2c_tvalid.val();
        self.leader.h2c_tlast.next = self.h2c_tlast.val();
        self.h2c_tready.next = self.leader.h2c_tready.val();
        self.leader.is_leader.next =
            self.regs.enable.val() && (self.regs.role.val() == self.role_leader.val());
        self.leader.replicas.next = self.regs.replicas.val();
        self.leader.replica_id.next = self.regs.replica_id.val();
        self.leader.ballot.next = self.regs.ballot.val();
        self.leader.next_slot.next = self.fast.next_slot.val();
        self.leader.commit_index.next = self.fast.commit_index.val();
        self.leader.heartbeat.next = self.regs.heartbeat.val();
        self.leader.heartbeat_interval.next = self.regs.heartbeat_interval.val();
        self.leader.host_watchdog.next = self.regs.host_watchdog.val();
        self.leader.host_kick.next = self.regs.host_kick.val();
        self.regs.host_lost.next = self.leader.host_lost.val();
        self.leader.submit_grant.next = self.fast.submit_grant.val();
        self.leader.c2h_addr.next = self.writer.rd_addr.val();
        self.leader.c2h_done.next = self.writer.h2c_done.val();
        self.leader.tx_addr.next = self.builder.rd_addr.val();
        self.leader.tx_done.next = self.builder.h2c_done.val();

        // Frames out: the fast path's answers first, then the leader's.
        self.leader_grant.next =
            self.leader.tx_req.val() && !self.fast.tx_push.val() && self.builder.room.val();
        self.leader.tx_grant.next = self.leader_grant.val();
        self.builder.push.next = self.fast.tx_push.val() || self.leader_grant.val();
        self.builder.kind.next = self.fast.tx_kind.val();
        self.builder.to.next = self.fast.tx_to.val();
        self.builder.ballot.next = self.fast.tx_ballot.val();
        self.builder.slot.next = self.fast.tx_slot.val();
        self.builder.commit.next = 0.into();
        self.builder.len.next = 0.into();
        if !self.fast.tx_push.val() {
            self.builder.kind.next = self.leader.tx_kind.val();
            self.builder.to.next = self.leader.tx_to.val();
            self.builder.ballot.next = self.leader.tx_ballot.val();
            self.builder.slot.next = self.leader.tx_slot.val();
            self.builder.commit.next = self.leader.tx_commit.val();
            self.builder.len.next = self.leader.tx_len.val();
        }
        self.builder.peer_mac.next = self.regs.peer_mac.val();
        self.builder.peer_ip.next = self.regs.peer_ip.val();
        self.builder.peer_port.next = self.regs.peer_port.val();
        self.builder.own_mac.next = self.regs.own_mac.val();
        self.builder.own_ip.next = self.regs.own_ip.val();
        self.builder.own_port.next = self.regs.own_port.val();
        self.builder.group.next = self.regs.group.val();
        self.builder.replica_id.next = self.regs.replica_id.val();
        self.builder.life.next = self.regs.own_life.val();
        self.builder.h2c_data.next = self.leader.tx_data.val();
        self.builder.tx_tready.next = self.net_tx_tready.val();
        self.net_tx_tdata.next = self.builder.tx_tdata.val();
        self.net_tx_tkeep.next = self.builder.tx_tkeep.val();
        self.net_tx_tvalid.next = self.builder.tx_tvalid.val();
        self.net_tx_tlast.next = self.builder.tx_tlast.val();

        // Counters: one bit per counter that counts this cycle.
        self.count_rx.next = 0.into();
        if self.parser.done.val() {
            self.count_rx.next = self.one.val() << self.c_rx.val();
        }
        self.count_fate.next = 0.into();
        if self.fast.fate.val() != self.none.val() {
            self.count_fate.next = self.one.val() << self.fast.fate.val();
        }
        self.count_records.next = 0.into();
        if self.writer.record_out.val() {
            self.count_records.next = self.one.val() << self.c_records.val();
        }
        self.count_committed.next = 0.into();
        if self.writer.committed_out.val() {
            self.count_committed.next = self.one.val() << self.c_committed.val();
        }
        self.count_fence.next = 0.into();
        if self.writer.fence_done_out.val() {
            self.count_fence.next = self.one.val() << self.c_fence_done.val();
        }
        self.count_submitted.next = 0.into();
        if self.fast.submit_grant.val() {
            self.count_submitted.next = self.one.val() << self.c_submitted.val();
        }
        self.tx_counter.next = self.c_tx_raw.val();
        if self.builder.sent_kind.val() == self.t_accepted.val() {
            self.tx_counter.next = self.c_tx_accepted.val();
        }
        if self.builder.sent_kind.val() == self.t_nack.val() {
            self.tx_counter.next = self.c_tx_nack.val();
        }
        if self.builder.sent_kind.val() == self.t_accept.val() {
            self.tx_counter.next = self.c_tx_accept.val();
        }
        if self.builder.sent_kind.val() == self.t_commit.val() {
            self.tx_counter.next = self.c_tx_commit.val();
        }
        self.count_tx.next = 0.into();
        if self.builder.sent.val() {
            self.count_tx.next = self.one.val() << self.tx_counter.val();
        }
        self.regs.count.next = self.count_rx.val()
            | self.count_fate.val()
            | self.count_records.val()
            | self.count_committed.val()
            | self.count_fence.val()
            | self.count_submitted.val()
            | self.count_tx.val();
    }
}
