//! Stepping a design by hand in one thread (set inputs, toggle the clock,
//! let the logic settle): far faster than rust-hdl's threaded `Simulation`.
//! With `RIPTIDE_VCD=dir` set, every bench writes `dir/<name>.vcd`.

use rust_hdl::core::vcd_probe::{VCDProbe, write_vcd_change, write_vcd_dump, write_vcd_header};
use rust_hdl::prelude::*;
use std::fs::File;
use std::io::BufWriter;

/// A design with one clock input.
pub trait Clocked: Block {
    fn clock(&mut self) -> &mut Signal<In, Clock>;
}

/// Settle passes allowed before a design counts as oscillating.
const SETTLE_PASSES: usize = 500;
/// VCD time units per clock period (1 ps each: a 322.27 MHz clock is 3103 ps).
const PERIOD_PS: u64 = 3103;

pub struct Bench<B: Clocked> {
    pub uut: B,
    pub cycle: u64,
    vcd: Option<VCDProbe<BufWriter<File>>>,
}

impl<B: Clocked> Bench<B> {
    /// Connects `uut` and, if `RIPTIDE_VCD` names a directory, starts its trace.
    pub fn new(name: &str, mut uut: B) -> Bench<B> {
        uut.connect_all();
        let vcd = std::env::var_os("RIPTIDE_VCD").map(|dir| {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("create RIPTIDE_VCD directory");
            let file = File::create(dir.join(format!("{name}.vcd"))).expect("create VCD file");
            let probe = write_vcd_header(BufWriter::new(file), &uut);
            write_vcd_dump(probe, &uut)
        });
        let mut bench = Bench { uut, cycle: 0, vcd };
        bench.settle();
        bench
    }

    /// Propagates input changes through the combinational logic.
    pub fn settle(&mut self) {
        assert!(
            simulate(&mut self.uut, SETTLE_PASSES),
            "logic did not settle at cycle {}",
            self.cycle
        );
    }

    /// One clock period: inputs already set are sampled at the rising edge.
    /// The falling edge changes no state, so it is left to the next settle,
    /// together with the next inputs (a settle costs several passes over
    /// the whole design; one with nothing new costs one pass).
    pub fn step(&mut self) {
        self.settle();
        self.uut.clock().next = true.into();
        self.settle();
        self.cycle += 1;
        self.trace(self.cycle * PERIOD_PS);
        self.uut.clock().next = false.into();
    }

    fn trace(&mut self, time: u64) {
        if let Some(mut probe) = self.vcd.take() {
            probe.timestamp(time).expect("write VCD");
            self.vcd = Some(write_vcd_change(probe, &self.uut));
        }
    }
}

/// Implements [`Clocked`] for designs whose clock input is named `clock`.
#[macro_export]
macro_rules! clocked {
    ($($t:ty),*) => {
        $(impl $crate::testbench::Clocked for $t {
            fn clock(&mut self) -> &mut rust_hdl::prelude::Signal<rust_hdl::prelude::In, rust_hdl::prelude::Clock> {
                &mut self.clock
            }
        })*
    };
}
