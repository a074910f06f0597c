//! riptide's deterministic cluster simulator and its correctness checkers.
//!
//! TigerBeetle-VOPR / FoundationDB style: single-threaded, discrete-event,
//! virtual time, and everything random drawn from one seed, so a run replays
//! bit for bit. Each replica is the real control plane
//! (`riptide_control::Replica`) driving a NIC through the `riptide_driver::SimulatedNic`
//! trait (the behavioural model, or with [`NicBackend::Rtl`] the RTL behind
//! the PCIe driver on a simulated board, or with [`NicBackend::Verilator`]
//! the emitted Verilog on the same board; one backend per replica in a mixed
//! [`NicGroup`]), with modelled host/card streams; the
//! network drops, duplicates, delays, reorders and partitions as a
//! [`faults::FaultSchedule`] (data) says; replicas crash and restart with
//! amnesia. Checkers: agreement at every step, the chosen-value invariant
//! every tick, linearizability of the client history, and liveness after the
//! faults heal. See `docs/simulator.md`.
//!
//! ```no_run
//! use riptide_sim::{SimConfig, faults::FaultKind};
//! let config = SimConfig::new(3, 42, 200).with_faults(&FaultKind::ALL, 50_000);
//! let report = riptide_sim::run(&config, &mut |_done, _total| {});
//! println!("{report}");
//! assert!(report.all_ok());
//! ```

pub mod check;
pub mod client;
pub mod cluster;
pub mod config;
pub mod faults;
pub mod history;
pub mod latency;
pub mod ldfi;
pub mod linearizability;
pub mod minimize;
pub mod network;
pub mod node;
pub mod report;
pub mod rng;
pub mod timeline;
pub mod trace;
pub mod variant;

pub use config::{FaultPlan, NicBackend, NicChoiceError, NicGroup, ReplicaTiming, SimConfig};
pub use latency::LatencyModel;
pub use minimize::minimize;
pub use report::{Checks, SimReport, Stats};
pub use variant::SimVariant;

/// Simulates one run. `progress` is called with (operations completed,
/// operations in total) as operations complete.
pub fn run(config: &SimConfig, progress: &mut dyn FnMut(u64, u64)) -> SimReport {
    cluster::Cluster::new(config).run(progress)
}
