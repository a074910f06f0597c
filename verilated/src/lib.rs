//! riptide_core.v, the Verilog `riptide-hw` emits, compiled with Verilator
//! (by this crate's build script) and driven through riptide-hw's port-level
//! harness: [`VerilatedCore`] implements [`CorePorts`], so
//! `RtlNic<VerilatedCore>` and `RtlCard<VerilatedCore>` run the shipped
//! Verilog, every hand-written leaf included, where `RtlNic` runs the
//! RustHDL model. See `docs/hw.md` (Verilator).

#[cfg(verilated)]
mod ffi;

use riptide_driver::pcie::{BoardError, SimulatedBoard};
use riptide_hw::card::{RtlCard, board_on};
use riptide_hw::ports::{CorePorts, Inputs, Outputs};
use riptide_hw::sim::RtlNic;
use riptide_wire::frame::Endpoint;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VerilatedError {
    #[error(
        "riptide-verilated was built without verilator, so there is no Verilated core: \
         install it (scripts/install-hdl-tools.sh) and rebuild"
    )]
    NotBuilt,
    #[error("cannot allocate the Verilated model")]
    OutOfMemory,
    #[error("cannot open the simulated board: {0}")]
    Board(#[from] BoardError),
}

/// Whether this build has the Verilated core.
pub const AVAILABLE: bool = cfg!(verilated);

/// The Verilated riptide_core.
///
/// It knows when it is quiet without asking the units (it has only its
/// ports and the model's bytes): after an edge with no beat offered or
/// leaving and no register write, when two edges in a row left the model's
/// state unchanged, so further idle edges are a fixed point
/// (`csrc/shim.cpp`). Those edges are then skipped, not evaluated: idle
/// cycles cost nothing, which is most of what makes this the fast RTL
/// backend (`docs/simulator.md`).
pub struct VerilatedCore {
    #[cfg(verilated)]
    raw: std::ptr::NonNull<std::ffi::c_void>,
    inputs: Inputs,
    /// `inputs` as the shim takes them, converted when they may have changed.
    #[cfg(verilated)]
    driven: ffi::RawInputs,
    /// `inputs` was handed out mutably since `driven` was converted.
    #[cfg(verilated)]
    stale: bool,
    outputs: Outputs,
    cycles: u64,
    quiet: bool,
}

// The model is owned by this value alone and has no thread affinity.
#[cfg(verilated)]
unsafe impl Send for VerilatedCore {}

impl VerilatedCore {
    pub fn new() -> Result<VerilatedCore, VerilatedError> {
        VerilatedCore::build(false)
    }

    /// A core evaluated as Verilator is plainly used: the whole `eval` with
    /// the clock low, then high, on every edge, the fixed points a settled
    /// core skips included. The reference that the shortcuts change nothing.
    pub fn evaluating_every_edge() -> Result<VerilatedCore, VerilatedError> {
        VerilatedCore::build(true)
    }

    fn build(every_edge: bool) -> Result<VerilatedCore, VerilatedError> {
        #[cfg(verilated)]
        {
            // SAFETY: rc_new has no preconditions; null means no memory.
            let raw = std::ptr::NonNull::new(unsafe { ffi::rc_new(every_edge.into()) })
                .ok_or(VerilatedError::OutOfMemory)?;
            Ok(VerilatedCore {
                raw,
                inputs: Inputs::default(),
                driven: ffi::RawInputs::default(),
                stale: true,
                outputs: Outputs::default(),
                cycles: 0,
                quiet: false,
            })
        }
        #[cfg(not(verilated))]
        {
            let _ = every_edge;
            Err(VerilatedError::NotBuilt)
        }
    }

    /// The inputs in the shim's form.
    #[cfg(verilated)]
    fn driven(&mut self) -> &ffi::RawInputs {
        if std::mem::take(&mut self.stale) {
            self.driven = convert::raw(&self.inputs);
        }
        &self.driven
    }
}

#[cfg(verilated)]
impl Drop for VerilatedCore {
    fn drop(&mut self) {
        // SAFETY: `raw` came from rc_new and is freed once, here.
        unsafe { ffi::rc_free(self.raw.as_ptr()) }
    }
}

#[cfg(verilated)]
mod convert {
    use super::ffi::{RawInputs, RawOutputs, WORDS};
    use riptide_hw::beat::{BEAT_BYTES, Beat};
    use riptide_hw::ports::{AxilOutputs, Inputs, Outputs};

    fn words(beat: &Beat) -> [u32; WORDS] {
        std::array::from_fn(|i| {
            u32::from_le_bytes(beat.data[4 * i..4 * i + 4].try_into().expect("4 bytes"))
        })
    }

    fn beat(words: &[u32; WORDS], keep: u64, last: u8) -> Beat {
        let mut data = [0u8; BEAT_BYTES];
        for (chunk, word) in data.chunks_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Beat {
            data,
            keep,
            last: last != 0,
        }
    }

    pub fn raw(i: &Inputs) -> RawInputs {
        let mut r = RawInputs {
            rst: i.rst.into(),
            net_rx_tuser: i.net_rx_tuser.into(),
            net_tx_tready: i.net_tx_tready.into(),
            c2h_tready: i.c2h_tready.into(),
            awaddr: i.axil.awaddr,
            awvalid: i.axil.awvalid.into(),
            wdata: i.axil.wdata,
            wstrb: i.axil.wstrb,
            wvalid: i.axil.wvalid.into(),
            bready: i.axil.bready.into(),
            araddr: i.axil.araddr,
            arvalid: i.axil.arvalid.into(),
            rready: i.axil.rready.into(),
            ..RawInputs::default()
        };
        if let Some(b) = &i.net_rx {
            r.net_rx_tdata = words(b);
            r.net_rx_tkeep = b.keep;
            r.net_rx_tlast = b.last.into();
            r.net_rx_tvalid = 1;
        }
        if let Some(b) = &i.h2c {
            r.h2c_tdata = words(b);
            r.h2c_tkeep = b.keep;
            r.h2c_tlast = b.last.into();
            r.h2c_tvalid = 1;
        }
        r
    }

    pub fn outputs(r: &RawOutputs) -> Outputs {
        Outputs {
            net_rx_tready: r.net_rx_tready != 0,
            net_tx: (r.net_tx_tvalid != 0)
                .then(|| beat(&r.net_tx_tdata, r.net_tx_tkeep, r.net_tx_tlast)),
            h2c_tready: r.h2c_tready != 0,
            c2h: (r.c2h_tvalid != 0).then(|| beat(&r.c2h_tdata, r.c2h_tkeep, r.c2h_tlast)),
            axil: AxilOutputs {
                awready: r.awready != 0,
                wready: r.wready != 0,
                bvalid: r.bvalid != 0,
                bresp: r.bresp,
                arready: r.arready != 0,
                rvalid: r.rvalid != 0,
                rdata: r.rdata,
                rresp: r.rresp,
            },
        }
    }
}

impl CorePorts for VerilatedCore {
    fn inputs(&mut self) -> &mut Inputs {
        #[cfg(verilated)]
        {
            self.stale = true;
        }
        &mut self.inputs
    }

    fn outputs(&mut self) -> &Outputs {
        #[cfg(verilated)]
        {
            let raw = self.raw.as_ptr();
            let mut out = ffi::RawOutputs::default();
            // SAFETY: `raw` is live; both structs match the shim's layout.
            unsafe { ffi::rc_eval(raw, self.driven(), &mut out) };
            self.outputs = convert::outputs(&out);
        }
        &self.outputs
    }

    fn tick(&mut self) {
        #[cfg(verilated)]
        {
            let raw = self.raw.as_ptr();
            let mut before = ffi::RawOutputs::default();
            // SAFETY: as in `outputs`.
            self.quiet = unsafe { ffi::rc_tick(raw, self.driven(), &mut before) } != 0;
        }
        self.cycles += 1;
    }

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn in_flight(&self) -> bool {
        !self.quiet
    }
}

/// The Verilated core as the NIC of replica `id` (see `RtlNic::new`).
pub fn verilated_nic(
    id: u8,
    group: u16,
    peers: Vec<Endpoint>,
) -> Result<RtlNic<VerilatedCore>, VerilatedError> {
    Ok(RtlNic::on(VerilatedCore::new()?, id, group, peers))
}

/// The Verilated core as replica `id`'s card on a simulated Alveo board,
/// opened and programmed through the driver (as `riptide_hw::card::rtl_board`).
pub fn verilated_board(
    id: u8,
    group: u16,
    peers: Vec<Endpoint>,
) -> Result<SimulatedBoard<RtlCard<VerilatedCore>>, VerilatedError> {
    Ok(board_on(VerilatedCore::new()?, id, group, peers)?)
}
