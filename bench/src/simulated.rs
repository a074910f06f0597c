//! Commit latency of a simulated cluster, in virtual time.
//!
//! The latency measured is what a client sees for a completed operation:
//! request sent → reply received. Under the stated latency model that is two
//! client↔host hops plus the replication round (host → NIC → followers →
//! NIC → host) plus queueing, all in virtual microseconds.

use std::fmt;

use riptide_sim::{LatencyModel, SimConfig, SimReport};

use crate::latency::Latencies;

/// What a simulated benchmark measured.
pub struct SimulatedBench {
    pub report: SimReport,
    pub latencies: Latencies,
}

impl SimulatedBench {
    /// Runs `config` and collects its latencies. `progress` as for
    /// [`riptide_sim::run`].
    pub fn run(config: &SimConfig, progress: &mut dyn FnMut(u64, u64)) -> SimulatedBench {
        let report = riptide_sim::run(config, progress);
        let mut latencies = Latencies::new();
        for &us in &report.stats.latencies_us {
            latencies.record(us);
        }
        SimulatedBench { report, latencies }
    }

    /// Completed operations per virtual second.
    pub fn throughput(&self) -> f64 {
        let seconds = self.report.stats.virtual_us as f64 / 1e6;
        self.report.stats.ops_completed as f64 / seconds.max(f64::MIN_POSITIVE)
    }

    fn model(&self) -> &LatencyModel {
        &self.report.latency
    }
}

impl fmt::Display for SimulatedBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "backend: simulated cluster ({} replicas, behavioural NIC model), seed {}",
            r.replicas, r.seed
        )?;
        writeln!(f, "latency model: {}", self.model())?;
        writeln!(
            f,
            "workload: {} closed-loop clients, {} ops (get/put/delete/cas), no faults",
            r.clients, r.ops
        )?;
        writeln!(
            f,
            "commit latency (client request -> reply, virtual time): {}",
            self.latencies
        )?;
        writeln!(
            f,
            "throughput: {:.0} ops per virtual second; checks: {}",
            self.throughput(),
            if r.all_ok() { "all hold" } else { "FAILED" }
        )
    }
}
