//! riptide_core seen from its ports only, as plain values: what [`RtlNic`]
//! drives, whichever simulator runs the core. [`HdlCore`] is the RustHDL
//! model; the `riptide-verilated` crate implements [`CorePorts`] over the
//! Verilated `riptide_core.v`, so the same transaction-level harness (and
//! with it the differential test and the simulated board) runs the Verilog
//! that ships.
//!
//! [`RtlNic`]: crate::sim::RtlNic

use crate::beat::Beat;
use crate::core::RiptideCore;
use crate::testbench::{Bench, Clocked};
use rust_hdl::prelude::*;

/// Every input port. They keep their value until changed, as wires do.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub rst: bool,
    /// `net_rx_tvalid` with the beat it offers.
    pub net_rx: Option<Beat>,
    /// Bad FCS (the CMAC's `tuser`), meaningful with a last beat.
    pub net_rx_tuser: bool,
    pub net_tx_tready: bool,
    /// `h2c_tvalid` with the beat it offers.
    pub h2c: Option<Beat>,
    pub c2h_tready: bool,
    pub axil: AxilInputs,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AxilInputs {
    pub awaddr: u32,
    pub awvalid: bool,
    pub wdata: u32,
    pub wstrb: u8,
    pub wvalid: bool,
    pub bready: bool,
    pub araddr: u32,
    pub arvalid: bool,
    pub rready: bool,
}

/// Every output port, as the logic drives them before the next rising edge.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub net_rx_tready: bool,
    /// `net_tx_tvalid` with the beat it offers.
    pub net_tx: Option<Beat>,
    pub h2c_tready: bool,
    /// `c2h_tvalid` with the beat it offers.
    pub c2h: Option<Beat>,
    pub axil: AxilOutputs,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AxilOutputs {
    pub awready: bool,
    pub wready: bool,
    pub bvalid: bool,
    pub bresp: u8,
    pub arready: bool,
    pub rvalid: bool,
    pub rdata: u32,
    pub rresp: u8,
}

/// A simulated riptide_core: set inputs, let the logic settle, read the
/// outputs, clock a rising edge.
pub trait CorePorts {
    fn inputs(&mut self) -> &mut Inputs;
    /// The outputs for the current inputs and state.
    fn outputs(&mut self) -> &Outputs;
    /// One clock cycle: the current inputs are sampled at the rising edge.
    fn tick(&mut self);
    /// Rising edges so far.
    fn cycles(&self) -> u64;
    /// Whether further idle cycles could still produce output (or change
    /// anything but timers): a harness steps until this is false.
    fn in_flight(&self) -> bool;
}

impl Clocked for RiptideCore {
    fn clock(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clk
    }
}

/// riptide_core in the RustHDL simulator.
pub struct HdlCore {
    /// Boxed: the design is large, and a core passed by value through the
    /// card and board constructors would otherwise overflow a test
    /// thread's stack.
    bench: Box<Bench<RiptideCore>>,
    inputs: Inputs,
    outputs: Outputs,
}

impl HdlCore {
    /// `name` names its VCD trace, if traced (`RIPTIDE_VCD`).
    pub fn new(name: &str) -> HdlCore {
        HdlCore {
            bench: Box::new(Bench::new(name, RiptideCore::default())),
            inputs: Inputs::default(),
            outputs: Outputs::default(),
        }
    }

    fn drive(&mut self) {
        let i = &self.inputs;
        let u = &mut self.bench.uut;
        u.rst.next = i.rst;
        match &i.net_rx {
            Some(beat) => {
                u.net_rx_tdata.next = beat.tdata();
                u.net_rx_tkeep.next = beat.keep.into();
                u.net_rx_tlast.next = beat.last;
                u.net_rx_tvalid.next = true;
            }
            None => u.net_rx_tvalid.next = false,
        }
        u.net_rx_tuser.next = i.net_rx_tuser;
        u.net_tx_tready.next = i.net_tx_tready;
        match &i.h2c {
            Some(beat) => {
                u.h2c_tdata.next = beat.tdata();
                u.h2c_tkeep.next = beat.keep.into();
                u.h2c_tlast.next = beat.last;
                u.h2c_tvalid.next = true;
            }
            None => u.h2c_tvalid.next = false,
        }
        u.c2h_tready.next = i.c2h_tready;
        let a = &i.axil;
        u.s_axil_awaddr.next = u64::from(a.awaddr).into();
        u.s_axil_awvalid.next = a.awvalid;
        u.s_axil_wdata.next = u64::from(a.wdata).into();
        u.s_axil_wstrb.next = u64::from(a.wstrb).into();
        u.s_axil_wvalid.next = a.wvalid;
        u.s_axil_bready.next = a.bready;
        u.s_axil_araddr.next = u64::from(a.araddr).into();
        u.s_axil_arvalid.next = a.arvalid;
        u.s_axil_rready.next = a.rready;
    }
}

impl CorePorts for HdlCore {
    fn inputs(&mut self) -> &mut Inputs {
        &mut self.inputs
    }

    fn outputs(&mut self) -> &Outputs {
        self.drive();
        self.bench.settle();
        let u = &self.bench.uut;
        let stream = |valid: bool, data: Bits<512>, keep: Bits<64>, last: bool| {
            valid.then(|| Beat::from_tdata(data, keep, last))
        };
        self.outputs = Outputs {
            net_rx_tready: u.net_rx_tready.val(),
            net_tx: stream(
                u.net_tx_tvalid.val(),
                u.net_tx_tdata.val(),
                u.net_tx_tkeep.val(),
                u.net_tx_tlast.val(),
            ),
            h2c_tready: u.h2c_tready.val(),
            c2h: stream(
                u.c2h_tvalid.val(),
                u.c2h_tdata.val(),
                u.c2h_tkeep.val(),
                u.c2h_tlast.val(),
            ),
            axil: AxilOutputs {
                awready: u.s_axil_awready.val(),
                wready: u.s_axil_wready.val(),
                bvalid: u.s_axil_bvalid.val(),
                bresp: u.s_axil_bresp.val().to_u64() as u8,
                arready: u.s_axil_arready.val(),
                rvalid: u.s_axil_rvalid.val(),
                rdata: u.s_axil_rdata.val().to_u64() as u32,
                rresp: u.s_axil_rresp.val().to_u64() as u8,
            },
        };
        &self.outputs
    }

    fn tick(&mut self) {
        self.drive();
        self.bench.step();
    }

    fn cycles(&self) -> u64 {
        self.bench.cycle
    }

    /// The core's own view of its queues, pipelines and strobes.
    fn in_flight(&self) -> bool {
        self.bench.uut.in_flight()
    }
}
