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
pub mod soak;

use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use riptide_node::{StatusReport, Timing};

use crate::processes::{cpu_time, cpu_us_per_op};

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
                ..Timing::default()
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
    /// What each replica process spent per operation over the run, by id.
    pub processes: Vec<ProcessCost>,
}

/// One replica process's cost per completed operation, over the load run
/// (warm-up and grace included, divided by every operation completed then).
#[derive(Debug, Clone, Copy)]
pub struct ProcessCost {
    pub id: u8,
    pub leader: bool,
    /// CPU time (user + system), µs per operation.
    pub cpu_us: f64,
    /// `io_uring_enter` calls per operation.
    pub enters: f64,
    /// `io_uring_enter` calls per datagram moved (received + sent).
    pub enters_per_datagram: f64,
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
        let ids: Vec<u8> = (0..options.replicas).collect();
        let cpu = |group: &ProcessGroup| -> Vec<_> {
            ids.iter()
                .map(|&id| group.pid(id).and_then(cpu_time))
                .collect()
        };
        let (cpu_before, statuses_before) = (cpu(&group), group.statuses());
        let result = load::run(group.config(), &options.load, stop, progress)?;
        let (cpu_after, statuses) = (cpu(&group), group.statuses());
        let garbage = statuses.iter().map(|s| s.garbage_dropped()).sum();
        let cpu_us = cpu_us_per_op(&cpu_before, &cpu_after, result.all_completed);
        let ops = result.all_completed.max(1) as f64;
        let processes = ids
            .iter()
            .map(|&id| {
                let transport = |list: &[StatusReport]| {
                    list.iter()
                        .find(|s| s.id == id)
                        .map(|s| s.transport)
                        .unwrap_or_default()
                };
                let (a, b) = (transport(&statuses_before), transport(&statuses));
                let datagrams = (b.received + b.sent).saturating_sub(a.received + a.sent);
                let enters = b.enters.saturating_sub(a.enters) as f64;
                ProcessCost {
                    id,
                    leader: id == leader,
                    cpu_us: cpu_us[usize::from(id)],
                    enters: enters / ops,
                    enters_per_datagram: enters / datagrams.max(1) as f64,
                }
            })
            .collect();
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
            processes,
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
            "backend: udp, {} replica processes on loopback (software fast path, io_uring), window {}, max_inflight {}",
            o.replicas, o.timing.window, o.timing.max_inflight
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
        for p in &self.processes {
            writeln!(
                f,
                "replica {}{}: {:.1} CPU us/op, {:.2} io_uring enters/op, {:.2} enters/datagram",
                p.id,
                if p.leader { " (leader)" } else { "" },
                p.cpu_us,
                p.enters,
                p.enters_per_datagram
            )?;
        }
        writeln!(f, "garbage datagrams counted: {}", self.garbage)
    }
}
