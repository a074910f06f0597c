//! riptide's deterministic cluster simulator and its correctness checkers.

pub mod check;
pub mod faults;
pub mod history;
pub mod latency;
pub mod linearizability;
pub mod network;
pub mod rng;
