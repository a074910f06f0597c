//! riptide's fast path in RustHDL.
pub mod beat;
pub mod fifo;
pub mod parser;
pub mod store;
pub mod swap;
pub mod testbench;
