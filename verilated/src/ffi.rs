//! The C ABI of `csrc/shim.cpp`: these structs mirror its `rc_inputs` and
//! `rc_outputs` field for field.

use std::ffi::c_void;

pub const WORDS: usize = 16;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RawInputs {
    pub net_rx_tdata: [u32; WORDS],
    pub net_rx_tkeep: u64,
    pub h2c_tdata: [u32; WORDS],
    pub h2c_tkeep: u64,
    pub awaddr: u32,
    pub wdata: u32,
    pub araddr: u32,
    pub rst: u8,
    pub net_rx_tvalid: u8,
    pub net_rx_tlast: u8,
    pub net_rx_tuser: u8,
    pub net_tx_tready: u8,
    pub h2c_tvalid: u8,
    pub h2c_tlast: u8,
    pub c2h_tready: u8,
    pub awvalid: u8,
    pub wstrb: u8,
    pub wvalid: u8,
    pub bready: u8,
    pub arvalid: u8,
    pub rready: u8,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RawOutputs {
    pub net_tx_tdata: [u32; WORDS],
    pub net_tx_tkeep: u64,
    pub c2h_tdata: [u32; WORDS],
    pub c2h_tkeep: u64,
    pub rdata: u32,
    pub net_rx_tready: u8,
    pub net_tx_tvalid: u8,
    pub net_tx_tlast: u8,
    pub h2c_tready: u8,
    pub c2h_tvalid: u8,
    pub c2h_tlast: u8,
    pub awready: u8,
    pub wready: u8,
    pub bvalid: u8,
    pub bresp: u8,
    pub arready: u8,
    pub rvalid: u8,
    pub rresp: u8,
}

unsafe extern "C" {
    /// A new model (its own `VerilatedContext`), or null if out of memory;
    /// `every_edge` nonzero: evaluate every edge in full, with none of the
    /// shim's shortcuts.
    pub fn rc_new(every_edge: u8) -> *mut c_void;
    pub fn rc_free(core: *mut c_void);
    pub fn rc_eval(core: *mut c_void, inputs: *const RawInputs, outputs: *mut RawOutputs);
    /// Nonzero when the core is quiet after this edge.
    pub fn rc_tick(core: *mut c_void, inputs: *const RawInputs, before: *mut RawOutputs) -> u8;
}
