//! riptide's fast path in RustHDL.
pub mod beat;
pub mod c2h;
pub mod core;
pub mod fastpath;
pub mod fifo;
pub mod leader;
pub mod parser;
pub mod quorum;
pub mod regfile;
pub mod sim;
pub mod store;
pub mod swap;
pub mod tap;
pub mod testbench;
pub mod tx;
pub mod verilog;
