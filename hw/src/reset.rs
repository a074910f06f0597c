//! Reset distribution. One reset net drove every synchronous reset of the
//! core (about 2,000 flip-flop reset pins): at 322 MHz that net is too slow
//! to route. Each unit (and each group of counters) takes its own registered
//! copy of `rst` instead, so the core leaves reset one cycle after `rst`
//! falls.
//!
//! yosys' `opt_merge` merges registers that have the same input, so plain
//! copies would fold back into one; the copy is a leaf whose `always` block
//! carries a `keep` attribute, which yosys (and Vivado) leave alone.
//! RustHDL cannot put an attribute on a block it writes itself.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct ResetCopy {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub rst_q: Signal<Out, Bit>,
}

impl Logic for ResetCopy {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.rst_q.next = self.rst.val();
        }
    }

    fn connect(&mut self) {
        self.rst_q.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "\
initial begin
   rst_q = 1'b0;
end

(* keep *) always @(posedge clock) begin
   rst_q <= rst;
end
"
            .into(),
        )
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "reset_copy".into(),
            clock: "clock".into(),
            inputs: vec!["rst".into()],
            outputs: vec!["rst_q".into()],
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_changes_only_at_a_rising_edge_and_is_kept_in_verilog() {
        let mut uut = ResetCopy::default();
        uut.connect_all();
        let mut before = false;
        for rst in [true, true, false, true, false] {
            uut.rst.next = rst;
            simulate(&mut uut, 10);
            assert_eq!(uut.rst_q.val(), before, "no change before the edge");
            uut.clock.next = true.into();
            simulate(&mut uut, 10);
            assert_eq!(uut.rst_q.val(), rst, "taken at the edge");
            uut.clock.next = false.into();
            simulate(&mut uut, 10);
            before = rst;
        }
        assert!(generate_verilog(&uut).contains("(* keep *) always @(posedge clock)"));
    }
}
