//! Commit latency of real replica processes over UDP on loopback.
//!
//! [`UdpBench::run`] starts a group of `riptide replica` child processes
//! ([`group`]), waits for a leader, offers load from one io_uring client
//! socket ([`load`]) and reports HdrHistogram percentiles and throughput; the
//! distribution can be written as `.hgrm` and plotted as SVG ([`plot`]).
//!
//! The latency is what a client sees for a put: request sent (or, open loop,
//! due) → reply received, which spans the client → leader hop, the
//! replication round through the software fast path (leader NIC → followers'
//! NICs → leader NIC), applying, and the reply hop. Every process shares the
//! machine's cores with the others.

pub mod group;
pub mod load;
pub mod netns;
pub mod plot;

use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use riptide_node::Timing;

use group::{GroupOptions, ProcessGroup};
use load::{LoadOptions, LoadResult, Mode};

/// What to run.
#[derive(Debug, Clone)]
pub struct UdpBenchOptions {
    pub replicas: u8,
    pub load: LoadOptions,
    pub timing: Timing,
}

impl UdpBenchOptions {
    /// `replicas` replicas, the given load mode for `duration`, `payload`-byte
    /// values; a 1 s warm-up (at most a tenth of the run) and 1 ms ticks, so
    /// failure detection runs at a pace loopback can sustain.
    pub fn new(replicas: u8, mode: Mode, duration: Duration, payload: usize) -> UdpBenchOptions {
        UdpBenchOptions {
            replicas,
            load: LoadOptions {
                mode,
                duration,
                warmup: (duration / 10).min(Duration::from_secs(1)),
                payload,
                keys: 1000,
                attempt_timeout: Duration::from_millis(500),
            },
            timing: Timing {
                tick_ms: 1,
                heartbeat_ticks: 10,
                election_ticks: [100, 200],
                retransmit_ticks: 20,
                window: 64,
            },
        }
    }
}

/// A finished run.
pub struct UdpBench {
    pub options: UdpBenchOptions,
    pub result: LoadResult,
    /// Datagrams the replicas counted as garbage (must be 0: nothing but the
    /// group and the load generator talks to them).
    pub garbage: u64,
    /// `io_uring_enter` calls per datagram moved, over the leader's run.
    pub leader_enters_per_datagram: f64,
}

impl UdpBench {
    /// Starts the group from the `riptide` binary `exe`, measures, stops it.
    pub fn run(
        exe: &Path,
        options: UdpBenchOptions,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(Duration, Duration),
    ) -> anyhow::Result<UdpBench> {
        let mut group_options = GroupOptions::loopback(options.replicas);
        group_options.timing = options.timing;
        group_options.log_filter = "warn".to_string();
        let mut group = ProcessGroup::start(exe, group_options)?;
        let leader = group.wait_for_leader(None, Duration::from_secs(10))?;
        let result = load::run(group.config(), &options.load, stop, progress)?;
        let statuses = group.statuses();
        let garbage = statuses.iter().map(|s| s.garbage_dropped()).sum();
        let leader_enters_per_datagram = statuses
            .iter()
            .find(|s| s.id == leader)
            .map(|s| {
                let t = &s.transport;
                t.enters as f64 / (t.received + t.sent).max(1) as f64
            })
            .unwrap_or(f64::NAN);
        if let Some((id, how)) = group.exited().first() {
            anyhow::bail!(
                "replica {id} exited during the run ({how}):\n{}",
                group.logs()
            );
        }
        group.stop();
        Ok(UdpBench {
            options,
            result,
            garbage,
            leader_enters_per_datagram,
        })
    }

    pub fn mode(&self) -> String {
        match self.options.load.mode {
            Mode::Closed { clients } => format!("closed loop, {clients} clients"),
            Mode::Open { rate, .. } => {
                format!("open loop, {rate} ops/s (coordinated-omission corrected)")
            }
        }
    }
}

impl fmt::Display for UdpBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.result;
        let o = &self.options;
        writeln!(
            f,
            "backend: udp, {} replica processes on loopback (software fast path, io_uring)",
            o.replicas
        )?;
        writeln!(
            f,
            "workload: {}, puts of {} B values over {} keys, {:?} measured after {:?} warm-up",
            self.mode(),
            o.load.payload,
            o.load.keys,
            o.load.duration,
            o.load.warmup
        )?;
        writeln!(f, "commit latency (put request -> reply): {}", r.latencies)?;
        writeln!(
            f,
            "throughput: {:.0} ops/s ({} completed, {} unfinished, {} retries, {} sessions)",
            r.throughput(),
            r.completed,
            r.unfinished,
            r.retries,
            r.sessions
        )?;
        writeln!(
            f,
            "leader io_uring enters per datagram: {:.2}; garbage datagrams counted: {}",
            self.leader_enters_per_datagram, self.garbage
        )
    }
}
