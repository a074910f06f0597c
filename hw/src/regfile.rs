//! AXI4-Lite register file: the map of `riptide_wire::regs` (offsets come
//! from there), staged configuration with an apply strobe, the fence and
//! heartbeat strobes, the peer table and the counters.
//!
//! One outstanding transaction per direction; writes take `awvalid` and
//! `wvalid` together (as AXI4-Lite masters from Xilinx IP present them) and
//! write whole words (`wstrb` is ignored: every register is written 32 bits
//! at a time by the driver). Unmapped addresses read 0 and ignore writes;
//! responses are always OKAY.

use crate::reset::ResetCopy;
use riptide_wire::layout;
use riptide_wire::regs::{self, Counter, MAX_REPLICAS, PEER_BASE, PEER_STRIDE, Register};
use rust_hdl::prelude::*;

pub const AXIL_ADDR_BITS: usize = 12;
pub type AxilAddr = Bits<AXIL_ADDR_BITS>;
pub const COUNTERS: usize = Counter::COUNT;

const _: () = assert!(regs::COUNTER_BASE as usize + 4 * COUNTERS <= 1 << AXIL_ADDR_BITS);
const _: () = assert!(MAX_REPLICAS == 8 && PEER_STRIDE == 16);

#[derive(LogicBlock)]
pub struct RegFile {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
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
    // Live configuration.
    pub enable: Signal<Out, Bit>,
    pub role: Signal<Out, Bits<2>>,
    pub replica_id: Signal<Out, Bits<8>>,
    pub group: Signal<Out, Bits<16>>,
    pub replicas: Signal<Out, Bits<4>>,
    pub window: Signal<Out, Bits<16>>,
    pub ballot: Signal<Out, Bits<64>>,
    pub configure: Signal<Out, Bit>,
    pub cfg_next_slot: Signal<Out, Bits<64>>,
    pub cfg_commit: Signal<Out, Bits<64>>,
    pub fence_request: Signal<Out, Bit>,
    pub fence_ballot: Signal<Out, Bits<64>>,
    pub heartbeat: Signal<Out, Bit>,
    pub heartbeat_interval: Signal<Out, Bits<32>>,
    /// The lives table (byte `i`: replica `i`'s LIFE) as the fast path will
    /// see it next cycle: a filter that registers its comparison one cycle
    /// before the decision sees the table the decision's configuration has.
    pub lives_next: Signal<Out, Bits<64>>,
    /// The live table's own entry: the LIFE of frames this NIC builds.
    pub own_life: Signal<Out, Bits<8>>,
    /// `HOST_WATCHDOG`: the limit, and a pulse the cycle after every register
    /// write (a sign of the host; the new limit is live by then).
    pub host_watchdog: Signal<Out, Bits<32>>,
    pub host_kick: Signal<Out, Bit>,
    /// The watchdog expired (`HOST_WATCHDOG_STATUS` bit 0).
    pub host_lost: Signal<In, Bit>,
    /// Fast-path state to read back.
    pub next_slot: Signal<In, Bits<64>>,
    pub commit_index: Signal<In, Bits<64>>,
    /// A FenceDone record left on the card-to-host stream.
    pub fence_done: Signal<In, Bit>,
    // Peer table lookups.
    pub peer_sel: Signal<In, Bits<3>>,
    pub peer_mac: Signal<Out, Bits<48>>,
    pub peer_ip: Signal<Out, Bits<32>>,
    pub peer_port: Signal<Out, Bits<16>>,
    pub own_mac: Signal<Out, Bits<48>>,
    pub own_ip: Signal<Out, Bits<32>>,
    pub own_port: Signal<Out, Bits<16>>,
    /// Bit `i` counts one for counter `i` this cycle.
    pub count: Signal<In, Bits<64>>,

    a_id: Constant<AxilAddr>,
    a_version: Constant<AxilAddr>,
    a_enable: Constant<AxilAddr>,
    a_apply: Constant<AxilAddr>,
    a_role: Constant<AxilAddr>,
    a_replica_id: Constant<AxilAddr>,
    a_group: Constant<AxilAddr>,
    a_replicas: Constant<AxilAddr>,
    a_window: Constant<AxilAddr>,
    a_ballot_lo: Constant<AxilAddr>,
    a_ballot_hi: Constant<AxilAddr>,
    a_cfg_next_lo: Constant<AxilAddr>,
    a_cfg_next_hi: Constant<AxilAddr>,
    a_cfg_commit_lo: Constant<AxilAddr>,
    a_cfg_commit_hi: Constant<AxilAddr>,
    a_next_lo: Constant<AxilAddr>,
    a_next_hi: Constant<AxilAddr>,
    a_commit_lo: Constant<AxilAddr>,
    a_commit_hi: Constant<AxilAddr>,
    a_fence_lo: Constant<AxilAddr>,
    a_fence_hi: Constant<AxilAddr>,
    a_fence_request: Constant<AxilAddr>,
    a_fence_status: Constant<AxilAddr>,
    a_heartbeat: Constant<AxilAddr>,
    a_heartbeat_interval: Constant<AxilAddr>,
    a_max_window: Constant<AxilAddr>,
    a_lives_lo: Constant<AxilAddr>,
    a_lives_hi: Constant<AxilAddr>,
    a_watchdog: Constant<AxilAddr>,
    a_watchdog_status: Constant<AxilAddr>,
    max_window_value: Constant<Bits<32>>,
    a_peer_base: Constant<AxilAddr>,
    a_peer_end: Constant<AxilAddr>,
    a_counter_base: Constant<AxilAddr>,
    a_counter_end: Constant<AxilAddr>,
    id_value: Constant<Bits<32>>,
    version_value: Constant<Bits<32>>,
    peer_index: [Constant<Bits<3>>; MAX_REPLICAS],
    counter_index: [Constant<Bits<10>>; COUNTERS],

    enable_reg: DFF<Bit>,
    cfg_role: DFF<Bits<32>>,
    cfg_replica_id: DFF<Bits<32>>,
    cfg_group: DFF<Bits<32>>,
    cfg_replicas: DFF<Bits<32>>,
    cfg_window: DFF<Bits<32>>,
    cfg_ballot_lo: DFF<Bits<32>>,
    cfg_ballot_hi: DFF<Bits<32>>,
    cfg_next_lo: DFF<Bits<32>>,
    cfg_next_hi: DFF<Bits<32>>,
    cfg_commit_lo: DFF<Bits<32>>,
    cfg_commit_hi: DFF<Bits<32>>,
    cfg_lives_lo: DFF<Bits<32>>,
    cfg_lives_hi: DFF<Bits<32>>,
    fence_lo: DFF<Bits<32>>,
    fence_hi: DFF<Bits<32>>,
    fence_status: DFF<Bit>,
    live_role: DFF<Bits<2>>,
    live_replica_id: DFF<Bits<8>>,
    live_group: DFF<Bits<16>>,
    live_replicas: DFF<Bits<4>>,
    live_window: DFF<Bits<16>>,
    live_ballot: DFF<Bits<64>>,
    live_lives: DFF<Bits<64>>,
    apply: DFF<Bit>,
    fence_go: DFF<Bit>,
    heartbeat_go: DFF<Bit>,
    interval: DFF<Bits<32>>,
    watchdog: DFF<Bits<32>>,
    kick: DFF<Bit>,
    latched_next_hi: DFF<Bits<32>>,
    latched_commit_hi: DFF<Bits<32>>,
    peer_mac_lo: [DFF<Bits<32>>; MAX_REPLICAS],
    peer_mac_hi: [DFF<Bits<32>>; MAX_REPLICAS],
    peer_ip_reg: [DFF<Bits<32>>; MAX_REPLICAS],
    peer_port_reg: [DFF<Bits<32>>; MAX_REPLICAS],
    counters: [DFF<Bits<32>>; COUNTERS],
    /// Registered copies of `rst` (`reset.rs`): one for the file's own
    /// state, one per counter (the counters are most of the core's reset
    /// loads).
    rst_own: ResetCopy,
    counter_rst: [ResetCopy; COUNTERS],
    b_valid: DFF<Bit>,
    r_valid: DFF<Bit>,
    r_data: DFF<Bits<32>>,
    // A read is answered two cycles after it is taken (for timing: the
    // address registered, then each group's value registered, then the
    // answer): `ar_*` holds the address, `v_*` the groups' values.
    ar_valid: DFF<Bit>,
    ar_addr: DFF<AxilAddr>,
    v_valid: DFF<Bit>,
    v_named: DFF<Bits<32>>,
    v_peer: DFF<Bits<32>>,
    v_counter: DFF<Bits<32>>,
    v_is_peer: DFF<Bit>,
    v_is_counter: DFF<Bit>,
    rvalue_peer: Signal<Local, Bits<32>>,
    rvalue_counter: Signal<Local, Bits<32>>,

    write: Signal<Local, Bit>,
    read: Signal<Local, Bit>,
    read_go: Signal<Local, Bit>,
    waddr: Signal<Local, AxilAddr>,
    raddr: Signal<Local, AxilAddr>,
    wpeer_offset: Signal<Local, AxilAddr>,
    rpeer_offset: Signal<Local, AxilAddr>,
    wpeer: Signal<Local, Bits<3>>,
    rpeer: Signal<Local, Bits<3>>,
    rcounter: Signal<Local, Bits<10>>,
    rvalue: Signal<Local, Bits<32>>,
    sel_mac_lo: Signal<Local, Bits<32>>,
    sel_mac_hi: Signal<Local, Bits<32>>,
    sel_ip: Signal<Local, Bits<32>>,
    sel_port: Signal<Local, Bits<32>>,
    own_mac_lo: Signal<Local, Bits<32>>,
    own_mac_hi: Signal<Local, Bits<32>>,
    own_ip_sel: Signal<Local, Bits<32>>,
    own_port_sel: Signal<Local, Bits<32>>,
    lives_now: Signal<Local, Bits<64>>,
    own_life_sel: Signal<Local, Bits<8>>,
}

fn at(r: Register) -> Constant<AxilAddr> {
    Constant::new(u64::from(r.offset).into())
}

impl Default for RegFile {
    fn default() -> Self {
        let peer_end = PEER_BASE + PEER_STRIDE * MAX_REPLICAS as u32;
        let counter_end = regs::COUNTER_BASE + 4 * COUNTERS as u32;
        let version = (u32::from(layout::VERSION) << 16) | regs::REGMAP_REVISION;
        Self {
            clock: Default::default(),
            rst: Default::default(),
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
            enable: Default::default(),
            role: Default::default(),
            replica_id: Default::default(),
            group: Default::default(),
            replicas: Default::default(),
            window: Default::default(),
            ballot: Default::default(),
            configure: Default::default(),
            cfg_next_slot: Default::default(),
            cfg_commit: Default::default(),
            fence_request: Default::default(),
            fence_ballot: Default::default(),
            heartbeat: Default::default(),
            heartbeat_interval: Default::default(),
            lives_next: Default::default(),
            own_life: Default::default(),
            host_watchdog: Default::default(),
            host_kick: Default::default(),
            host_lost: Default::default(),
            next_slot: Default::default(),
            commit_index: Default::default(),
            fence_done: Default::default(),
            peer_sel: Default::default(),
            peer_mac: Default::default(),
            peer_ip: Default::default(),
            peer_port: Default::default(),
            own_mac: Default::default(),
            own_ip: Default::default(),
            own_port: Default::default(),
            count: Default::default(),
            a_id: at(regs::ID),
            a_version: at(regs::VERSION),
            a_enable: at(regs::ENABLE),
            a_apply: at(regs::CONFIG_APPLY),
            a_role: at(regs::CFG_ROLE),
            a_replica_id: at(regs::CFG_REPLICA_ID),
            a_group: at(regs::CFG_GROUP_ID),
            a_replicas: at(regs::CFG_REPLICAS),
            a_window: at(regs::CFG_WINDOW),
            a_ballot_lo: at(regs::CFG_BALLOT_LO),
            a_ballot_hi: at(regs::CFG_BALLOT_HI),
            a_cfg_next_lo: at(regs::CFG_NEXT_SLOT_LO),
            a_cfg_next_hi: at(regs::CFG_NEXT_SLOT_HI),
            a_cfg_commit_lo: at(regs::CFG_COMMIT_LO),
            a_cfg_commit_hi: at(regs::CFG_COMMIT_HI),
            a_next_lo: at(regs::NEXT_SLOT_LO),
            a_next_hi: at(regs::NEXT_SLOT_HI),
            a_commit_lo: at(regs::COMMIT_LO),
            a_commit_hi: at(regs::COMMIT_HI),
            a_fence_lo: at(regs::FENCE_BALLOT_LO),
            a_fence_hi: at(regs::FENCE_BALLOT_HI),
            a_fence_request: at(regs::FENCE_REQUEST),
            a_fence_status: at(regs::FENCE_STATUS),
            a_heartbeat: at(regs::HEARTBEAT),
            a_heartbeat_interval: at(regs::HEARTBEAT_INTERVAL),
            a_max_window: at(regs::MAX_WINDOW),
            a_lives_lo: at(regs::CFG_LIVES_LO),
            a_lives_hi: at(regs::CFG_LIVES_HI),
            a_watchdog: at(regs::HOST_WATCHDOG),
            a_watchdog_status: at(regs::HOST_WATCHDOG_STATUS),
            max_window_value: Constant::new(u64::from(regs::MAX_WINDOW_SLOTS).into()),
            a_peer_base: Constant::new(u64::from(PEER_BASE).into()),
            a_peer_end: Constant::new(u64::from(peer_end).into()),
            a_counter_base: Constant::new(u64::from(regs::COUNTER_BASE).into()),
            a_counter_end: Constant::new(u64::from(counter_end).into()),
            id_value: Constant::new(u64::from(regs::ID_VALUE).into()),
            version_value: Constant::new(u64::from(version).into()),
            peer_index: std::array::from_fn(|i| Constant::new((i as u64).into())),
            counter_index: std::array::from_fn(|i| Constant::new((i as u64).into())),
            enable_reg: Default::default(),
            cfg_role: Default::default(),
            cfg_replica_id: Default::default(),
            cfg_group: Default::default(),
            cfg_replicas: Default::default(),
            cfg_window: Default::default(),
            cfg_ballot_lo: Default::default(),
            cfg_ballot_hi: Default::default(),
            cfg_next_lo: Default::default(),
            cfg_next_hi: Default::default(),
            cfg_commit_lo: Default::default(),
            cfg_commit_hi: Default::default(),
            cfg_lives_lo: Default::default(),
            cfg_lives_hi: Default::default(),
            fence_lo: Default::default(),
            fence_hi: Default::default(),
            fence_status: Default::default(),
            live_role: Default::default(),
            live_replica_id: Default::default(),
            live_group: Default::default(),
            live_replicas: Default::default(),
            live_window: Default::default(),
            live_ballot: Default::default(),
            live_lives: Default::default(),
            apply: Default::default(),
            fence_go: Default::default(),
            heartbeat_go: Default::default(),
            interval: Default::default(),
            watchdog: Default::default(),
            kick: Default::default(),
            latched_next_hi: Default::default(),
            latched_commit_hi: Default::default(),
            peer_mac_lo: Default::default(),
            peer_mac_hi: Default::default(),
            peer_ip_reg: Default::default(),
            peer_port_reg: Default::default(),
            counters: std::array::from_fn(|_| DFF::default()),
            rst_own: Default::default(),
            counter_rst: std::array::from_fn(|_| ResetCopy::default()),
            b_valid: Default::default(),
            r_valid: Default::default(),
            r_data: Default::default(),
            ar_valid: Default::default(),
            ar_addr: Default::default(),
            v_valid: Default::default(),
            v_named: Default::default(),
            v_peer: Default::default(),
            v_counter: Default::default(),
            v_is_peer: Default::default(),
            v_is_counter: Default::default(),
            rvalue_peer: Default::default(),
            rvalue_counter: Default::default(),
            write: Default::default(),
            read: Default::default(),
            read_go: Default::default(),
            waddr: Default::default(),
            raddr: Default::default(),
            wpeer_offset: Default::default(),
            rpeer_offset: Default::default(),
            wpeer: Default::default(),
            rpeer: Default::default(),
            rcounter: Default::default(),
            rvalue: Default::default(),
            sel_mac_lo: Default::default(),
            sel_mac_hi: Default::default(),
            sel_ip: Default::default(),
            sel_port: Default::default(),
            own_mac_lo: Default::default(),
            own_mac_hi: Default::default(),
            own_ip_sel: Default::default(),
            own_port_sel: Default::default(),
            lives_now: Default::default(),
            own_life_sel: Default::default(),
        }
    }
}

impl RegFile {
    /// Simulation view: a configuration, fence or heartbeat strobe not yet taken.
    pub fn in_flight(&self) -> bool {
        self.apply.q.val()
            || self.fence_go.q.val()
            || self.heartbeat_go.q.val()
            || self.kick.q.val()
            || self.ar_valid.q.val()
            || self.v_valid.q.val()
    }
}

impl Logic for RegFile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            enable_reg,
            cfg_role,
            cfg_replica_id,
            cfg_group,
            cfg_replicas,
            cfg_window,
            cfg_ballot_lo,
            cfg_ballot_hi,
            cfg_next_lo,
            cfg_next_hi,
            cfg_commit_lo,
            cfg_commit_hi,
            cfg_lives_lo,
            cfg_lives_hi,
            fence_lo,
            fence_hi,
            fence_status,
            live_role,
            live_replica_id,
            live_group,
            live_replicas,
            live_window,
            live_ballot,
            live_lives,
            apply,
            fence_go,
            heartbeat_go,
            interval,
            watchdog,
            kick,
            latched_next_hi,
            latched_commit_hi,
            b_valid,
            r_valid,
            r_data,
            ar_valid,
            ar_addr,
            v_valid,
            v_named,
            v_peer,
            v_counter,
            v_is_peer,
            v_is_counter
        );
        self.rst_own.clock.next = self.clock.val();
        self.rst_own.rst.next = self.rst.val();
        for i in 0..8 {
            self.peer_mac_lo[i].clock.next = self.clock.val();
            self.peer_mac_hi[i].clock.next = self.clock.val();
            self.peer_ip_reg[i].clock.next = self.clock.val();
            self.peer_port_reg[i].clock.next = self.clock.val();
            self.peer_mac_lo[i].d.next = self.peer_mac_lo[i].q.val();
            self.peer_mac_hi[i].d.next = self.peer_mac_hi[i].q.val();
            self.peer_ip_reg[i].d.next = self.peer_ip_reg[i].q.val();
            self.peer_port_reg[i].d.next = self.peer_port_reg[i].q.val();
        }
        for i in 0..COUNTERS {
            self.counters[i].clock.next = self.clock.val();
            self.counter_rst[i].clock.next = self.clock.val();
            self.counter_rst[i].rst.next = self.rst.val();
            self.counters[i].d.next = self.counters[i].q.val();
            if self.count.val().get_bit(i) {
                self.counters[i].d.next = self.counters[i].q.val() + 1;
            }
            if self.counter_rst[i].rst_q.val() {
                self.counters[i].d.next = 0.into();
            }
        }

        // Writes.
        self.write.next =
            self.s_axil_awvalid.val() && self.s_axil_wvalid.val() && !self.b_valid.q.val();
        self.s_axil_awready.next = self.write.val();
        self.s_axil_wready.next = self.write.val();
        self.waddr.next = self.s_axil_awaddr.val() & 0xFFC_u64;
        self.wpeer_offset.next = (self.waddr.val() - self.a_peer_base.val()) >> 4;
        self.wpeer.next = bit_cast::<3, 12>(self.wpeer_offset.val());
        self.apply.d.next = false;
        self.fence_go.d.next = false;
        self.heartbeat_go.d.next = false;
        // Any write is the host at work; reads are not (a monitor polling the
        // counters of a board whose host died must not keep it leading).
        self.kick.d.next = self.write.val();
        if self.write.val() {
            self.b_valid.d.next = true;
            if self.waddr.val() == self.a_enable.val() {
                self.enable_reg.d.next = self.s_axil_wdata.val().get_bit(0);
            }
            if self.waddr.val() == self.a_apply.val() {
                self.apply.d.next = self.s_axil_wdata.val().get_bit(0);
            }
            if self.waddr.val() == self.a_role.val() {
                self.cfg_role.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_replica_id.val() {
                self.cfg_replica_id.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_group.val() {
                self.cfg_group.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_replicas.val() {
                self.cfg_replicas.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_window.val() {
                self.cfg_window.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_ballot_lo.val() {
                self.cfg_ballot_lo.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_ballot_hi.val() {
                self.cfg_ballot_hi.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_cfg_next_lo.val() {
                self.cfg_next_lo.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_cfg_next_hi.val() {
                self.cfg_next_hi.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_cfg_commit_lo.val() {
                self.cfg_commit_lo.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_cfg_commit_hi.val() {
                self.cfg_commit_hi.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_fence_lo.val() {
                self.fence_lo.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_fence_hi.val() {
                self.fence_hi.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_fence_request.val() {
                self.fence_go.d.next = self.s_axil_wdata.val().get_bit(0);
            }
            if self.waddr.val() == self.a_heartbeat.val() {
                self.heartbeat_go.d.next = self.s_axil_wdata.val().get_bit(0);
            }
            if self.waddr.val() == self.a_heartbeat_interval.val() {
                self.interval.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_lives_lo.val() {
                self.cfg_lives_lo.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_lives_hi.val() {
                self.cfg_lives_hi.d.next = self.s_axil_wdata.val();
            }
            if self.waddr.val() == self.a_watchdog.val() {
                self.watchdog.d.next = self.s_axil_wdata.val();
            }
            if (self.waddr.val() >= self.a_peer_base.val())
                && (self.waddr.val() < self.a_peer_end.val())
            {
                for i in 0..8 {
                    if self.wpeer.val() == self.peer_index[i].val() {
                        if self.waddr.val().get_bits::<2>(2) == 0_u64 {
                            self.peer_mac_lo[i].d.next = self.s_axil_wdata.val();
                        }
                        if self.waddr.val().get_bits::<2>(2) == 1_u64 {
                            self.peer_mac_hi[i].d.next = self.s_axil_wdata.val() & 0xFFFF_u64;
                        }
                        if self.waddr.val().get_bits::<2>(2) == 2_u64 {
                            self.peer_ip_reg[i].d.next = self.s_axil_wdata.val();
                        }
                        if self.waddr.val().get_bits::<2>(2) == 3_u64 {
                            self.peer_port_reg[i].d.next = self.s_axil_wdata.val() & 0xFFFF_u64;
                        }
                    }
                }
            }
        }
        if self.b_valid.q.val() && self.s_axil_bready.val() {
            self.b_valid.d.next = false;
        }
        self.s_axil_bvalid.next = self.b_valid.q.val();
        self.s_axil_bresp.next = 0.into();

        // Reads.
        // The three stages move together while the answer is free to leave
        // (one read per cycle, answered two cycles after it is taken).
        self.read_go.next = !self.r_valid.q.val() || self.s_axil_rready.val();
        self.read.next = self.s_axil_arvalid.val() && self.read_go.val();
        self.s_axil_arready.next = self.read_go.val();
        if self.read_go.val() {
            self.ar_valid.d.next = self.read.val();
            self.ar_addr.d.next = self.s_axil_araddr.val() & 0xFFC_u64;
        }
        self.raddr.next = self.ar_addr.q.val();
        self.rpeer_offset.next = (self.raddr.val() - self.a_peer_base.val()) >> 4;
        self.rpeer.next = bit_cast::<3, 12>(self.rpeer_offset.val());
        self.rcounter.next =
            bit_cast::<10, 12>((self.raddr.val() - self.a_counter_base.val()) >> 2);
        self.rvalue.next = 0.into();
        if self.raddr.val() == self.a_id.val() {
            self.rvalue.next = self.id_value.val();
        }
        if self.raddr.val() == self.a_version.val() {
            self.rvalue.next = self.version_value.val();
        }
        if self.raddr.val() == self.a_enable.val() {
            self.rvalue.next = bit_cast::<32, 1>(self.enable_reg.q.val().into());
        }
        if self.raddr.val() == self.a_role.val() {
            self.rvalue.next = self.cfg_role.q.val();
        }
        if self.raddr.val() == self.a_replica_id.val() {
            self.rvalue.next = self.cfg_replica_id.q.val();
        }
        if self.raddr.val() == self.a_group.val() {
            self.rvalue.next = self.cfg_group.q.val();
        }
        if self.raddr.val() == self.a_replicas.val() {
            self.rvalue.next = self.cfg_replicas.q.val();
        }
        if self.raddr.val() == self.a_window.val() {
            self.rvalue.next = self.cfg_window.q.val();
        }
        if self.raddr.val() == self.a_ballot_lo.val() {
            self.rvalue.next = self.cfg_ballot_lo.q.val();
        }
        if self.raddr.val() == self.a_ballot_hi.val() {
            self.rvalue.next = self.cfg_ballot_hi.q.val();
        }
        if self.raddr.val() == self.a_cfg_next_lo.val() {
            self.rvalue.next = self.cfg_next_lo.q.val();
        }
        if self.raddr.val() == self.a_cfg_next_hi.val() {
            self.rvalue.next = self.cfg_next_hi.q.val();
        }
        if self.raddr.val() == self.a_cfg_commit_lo.val() {
            self.rvalue.next = self.cfg_commit_lo.q.val();
        }
        if self.raddr.val() == self.a_cfg_commit_hi.val() {
            self.rvalue.next = self.cfg_commit_hi.q.val();
        }
        if self.raddr.val() == self.a_next_lo.val() {
            self.rvalue.next = bit_cast::<32, 64>(self.next_slot.val());
        }
        if self.raddr.val() == self.a_next_hi.val() {
            self.rvalue.next = self.latched_next_hi.q.val();
        }
        if self.raddr.val() == self.a_commit_lo.val() {
            self.rvalue.next = bit_cast::<32, 64>(self.commit_index.val());
        }
        if self.raddr.val() == self.a_commit_hi.val() {
            self.rvalue.next = self.latched_commit_hi.q.val();
        }
        if self.raddr.val() == self.a_fence_lo.val() {
            self.rvalue.next = self.fence_lo.q.val();
        }
        if self.raddr.val() == self.a_fence_hi.val() {
            self.rvalue.next = self.fence_hi.q.val();
        }
        if self.raddr.val() == self.a_heartbeat_interval.val() {
            self.rvalue.next = self.interval.q.val();
        }
        if self.raddr.val() == self.a_max_window.val() {
            self.rvalue.next = self.max_window_value.val();
        }
        if self.raddr.val() == self.a_lives_lo.val() {
            self.rvalue.next = self.cfg_lives_lo.q.val();
        }
        if self.raddr.val() == self.a_lives_hi.val() {
            self.rvalue.next = self.cfg_lives_hi.q.val();
        }
        if self.raddr.val() == self.a_watchdog.val() {
            self.rvalue.next = self.watchdog.q.val();
        }
        if self.raddr.val() == self.a_watchdog_status.val() {
            self.rvalue.next = bit_cast::<32, 1>(self.host_lost.val().into());
        }
        if self.raddr.val() == self.a_fence_status.val() {
            self.rvalue.next = bit_cast::<32, 1>(self.fence_status.q.val().into());
        }
        self.rvalue_peer.next = 0.into();
        self.rvalue_counter.next = 0.into();
        for i in 0..8 {
            if self.rpeer.val() == self.peer_index[i].val() {
                if self.raddr.val().get_bits::<2>(2) == 0_u64 {
                    self.rvalue_peer.next = self.peer_mac_lo[i].q.val();
                }
                if self.raddr.val().get_bits::<2>(2) == 1_u64 {
                    self.rvalue_peer.next = self.peer_mac_hi[i].q.val();
                }
                if self.raddr.val().get_bits::<2>(2) == 2_u64 {
                    self.rvalue_peer.next = self.peer_ip_reg[i].q.val();
                }
                if self.raddr.val().get_bits::<2>(2) == 3_u64 {
                    self.rvalue_peer.next = self.peer_port_reg[i].q.val();
                }
            }
        }
        for i in 0..COUNTERS {
            if self.rcounter.val() == self.counter_index[i].val() {
                self.rvalue_counter.next = self.counters[i].q.val();
            }
        }
        if self.read_go.val() {
            self.v_valid.d.next = self.ar_valid.q.val();
            self.r_valid.d.next = self.v_valid.q.val();
        }
        if self.read_go.val() && self.ar_valid.q.val() {
            self.v_named.d.next = self.rvalue.val();
            self.v_peer.d.next = self.rvalue_peer.val();
            self.v_counter.d.next = self.rvalue_counter.val();
            self.v_is_peer.d.next = (self.raddr.val() >= self.a_peer_base.val())
                && (self.raddr.val() < self.a_peer_end.val());
            self.v_is_counter.d.next = (self.raddr.val() >= self.a_counter_base.val())
                && (self.raddr.val() < self.a_counter_end.val());
            if self.raddr.val() == self.a_next_lo.val() {
                self.latched_next_hi.d.next = self.next_slot.val().get_bits::<32>(32);
            }
            if self.raddr.val() == self.a_commit_lo.val() {
                self.latched_commit_hi.d.next = self.commit_index.val().get_bits::<32>(32);
            }
        }
        if self.read_go.val() && self.v_valid.q.val() {
            self.r_data.d.next = self.v_named.q.val();
            if self.v_is_peer.q.val() {
                self.r_data.d.next = self.v_peer.q.val();
            }
            if self.v_is_counter.q.val() {
                self.r_data.d.next = self.v_counter.q.val();
            }
        }
        self.s_axil_rvalid.next = self.r_valid.q.val();
        self.s_axil_rdata.next = self.r_data.q.val();
        self.s_axil_rresp.next = 0.into();

        // Configuration takes effect together, the cycle after the apply write.
        if self.apply.q.val() {
            self.live_role.d.next = bit_cast::<2, 32>(self.cfg_role.q.val());
            self.live_replica_id.d.next = bit_cast::<8, 32>(self.cfg_replica_id.q.val());
            self.live_group.d.next = bit_cast::<16, 32>(self.cfg_group.q.val());
            self.live_replicas.d.next = bit_cast::<4, 32>(self.cfg_replicas.q.val());
            self.live_window.d.next = bit_cast::<16, 32>(self.cfg_window.q.val());
            self.live_ballot.d.next = (bit_cast::<64, 32>(self.cfg_ballot_hi.q.val()) << 32)
                | bit_cast::<64, 32>(self.cfg_ballot_lo.q.val());
        }
        self.lives_now.next = self.live_lives.q.val();
        if self.apply.q.val() {
            self.lives_now.next = (bit_cast::<64, 32>(self.cfg_lives_hi.q.val()) << 32)
                | bit_cast::<64, 32>(self.cfg_lives_lo.q.val());
        }
        self.live_lives.d.next = self.lives_now.val();
        self.lives_next.next = self.lives_now.val();
        self.configure.next = self.apply.q.val();
        self.cfg_next_slot.next = (bit_cast::<64, 32>(self.cfg_next_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.cfg_next_lo.q.val());
        self.cfg_commit.next = (bit_cast::<64, 32>(self.cfg_commit_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.cfg_commit_lo.q.val());
        self.fence_request.next = self.fence_go.q.val();
        self.fence_ballot.next = (bit_cast::<64, 32>(self.fence_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.fence_lo.q.val());
        if self.fence_go.q.val() {
            self.fence_status.d.next = false;
        }
        if self.fence_done.val() {
            self.fence_status.d.next = true;
        }
        self.heartbeat.next = self.heartbeat_go.q.val();
        self.heartbeat_interval.next = self.interval.q.val();
        self.host_watchdog.next = self.watchdog.q.val();
        self.host_kick.next = self.kick.q.val();
        self.enable.next = self.enable_reg.q.val();
        self.role.next = self.live_role.q.val();
        self.replica_id.next = self.live_replica_id.q.val();
        self.group.next = self.live_group.q.val();
        self.replicas.next = self.live_replicas.q.val();
        self.window.next = self.live_window.q.val();
        self.ballot.next = self.live_ballot.q.val();

        // Peer table lookups.
        self.sel_mac_lo.next = 0.into();
        self.sel_mac_hi.next = 0.into();
        self.sel_ip.next = 0.into();
        self.sel_port.next = 0.into();
        self.own_mac_lo.next = 0.into();
        self.own_mac_hi.next = 0.into();
        self.own_ip_sel.next = 0.into();
        self.own_port_sel.next = 0.into();
        self.own_life_sel.next = 0.into();
        for i in 0..8 {
            if self.peer_sel.val() == self.peer_index[i].val() {
                self.sel_mac_lo.next = self.peer_mac_lo[i].q.val();
                self.sel_mac_hi.next = self.peer_mac_hi[i].q.val();
                self.sel_ip.next = self.peer_ip_reg[i].q.val();
                self.sel_port.next = self.peer_port_reg[i].q.val();
            }
            if bit_cast::<3, 8>(self.live_replica_id.q.val()) == self.peer_index[i].val() {
                self.own_mac_lo.next = self.peer_mac_lo[i].q.val();
                self.own_mac_hi.next = self.peer_mac_hi[i].q.val();
                self.own_ip_sel.next = self.peer_ip_reg[i].q.val();
                self.own_port_sel.next = self.peer_port_reg[i].q.val();
                self.own_life_sel.next = self.live_lives.q.val().get_bits::<8>(8 * i);
            }
        }
        self.peer_mac.next = (bit_cast::<48, 32>(self.sel_mac_hi.val()) << 32)
            | bit_cast::<48, 32>(self.sel_mac_lo.val());
        self.peer_ip.next = self.sel_ip.val();
        self.peer_port.next = bit_cast::<16, 32>(self.sel_port.val());
        self.own_mac.next = (bit_cast::<48, 32>(self.own_mac_hi.val()) << 32)
            | bit_cast::<48, 32>(self.own_mac_lo.val());
        self.own_ip.next = self.own_ip_sel.val();
        self.own_port.next = bit_cast::<16, 32>(self.own_port_sel.val());
        self.own_life.next = self.own_life_sel.val();

        if self.rst_own.rst_q.val() {
            self.enable_reg.d.next = false;
            self.apply.d.next = false;
            self.fence_go.d.next = false;
            self.heartbeat_go.d.next = false;
            self.interval.d.next = 0.into();
            self.watchdog.d.next = 0.into();
            self.kick.d.next = false;
            self.live_lives.d.next = 0.into();
            self.b_valid.d.next = false;
            self.r_valid.d.next = false;
            self.ar_valid.d.next = false;
            self.v_valid.d.next = false;
            self.fence_status.d.next = false;
            self.live_role.d.next = 0.into();
        }
    }
}
