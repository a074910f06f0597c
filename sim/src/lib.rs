//! riptide's deterministic cluster simulator and its correctness checkers.

pub mod history;
pub mod linearizability;
