//! riptide's benchmarks: latency distributions with HdrHistogram.
//!
//! [`simulated`] measures commit latency in the deterministic cluster simulator,
//! in virtual time under a stated latency model, so its figures are exactly
//! reproducible from the seed. [`udp`] measures real replica processes over
//! UDP on loopback; [`peer`] measures openraft with the same load.

pub mod baseline;
pub mod latency;
pub mod peer;
pub mod processes;
pub mod report;
pub mod simulated;
pub mod udp;
