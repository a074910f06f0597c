//! riptide's fast path in RustHDL: the phase-2 rules of `docs/protocol.md`
//! (the same table as the behavioural model `riptide_driver::model`) as RTL
//! with 512-bit AXI4-Stream network and host streams and an AXI4-Lite
//! register file, simulated cycle by cycle ([`sim::RtlNic`]) and emitted as
//! Verilog for UltraScale+ ([`verilog::write_verilog`]). Module map, pipeline
//! and measured figures: `docs/hw.md`.
pub mod beat;
pub mod bench;
pub mod c2h;
pub mod card;
pub mod core;
pub mod fastpath;
pub mod fifo;
pub mod leader;
pub mod parser;
pub mod paths;
pub mod ports;
pub mod quorum;
pub mod regfile;
pub mod reset;
pub mod sim;
pub mod store;
pub mod swap;
pub mod tap;
pub mod testbench;
pub mod tx;
pub mod verilog;
