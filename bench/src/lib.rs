//! riptide's benchmarks: latency distributions with HdrHistogram.
//!
//! [`simulated`] measures commit latency in the deterministic cluster simulator,
//! in virtual time under a stated latency model, so its figures are exactly
//! reproducible from the seed. [`udp`] measures real replica processes over
//! UDP, on loopback or a running group; [`peer`] measures openraft with the
//! same load; [`line_rate`] injects entries straight into a leader NIC's
//! host-to-card stream.

pub mod baseline;
pub mod latency;
pub mod line_rate;
pub mod peer;
pub mod processes;
pub mod report;
pub mod request;
pub mod simulated;
pub mod udp;
