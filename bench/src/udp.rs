//! Commit latency of real replica processes over UDP.
//!
//! One load generator, two ways to get a group: [`UdpBench::run`] starts a
//! group of `riptide replica` child processes on loopback ([`group`]);
//! [`UdpBench::existing`] drives a group started by hand from a cluster file,
//! possibly on several hosts. Either way it waits for a leader ([`probe`]),
//! offers load from one io_uring client socket ([`load`]) and reports
//! HdrHistogram percentiles and throughput; the distribution can be written
//! as `.hgrm` and plotted as SVG ([`plot`]).
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
pub mod probe;
pub mod soak;

use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use riptide_node::{ClusterConfig, StatusReport, Timing};

use crate::processes::{cpu_time, cpu_us_per_op};

use group::{GroupOptions, ProcessGroup};
use load::{LoadOptions, LoadResult, Mode};
use probe::GroupProbe;

/// How long a group has to show a leader before the load starts.
const LEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct UdpBenchOptions {
    pub replicas: u8,
    pub load: LoadOptions,
    pub timing: Timing,
    /// Where the group comes from.
    pub group: GroupSource,
}

/// Where the group under load comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSource {
    /// Child processes on loopback, started and stopped by the benchmark.
    Loopback,
    /// A group already running, as the named cluster file describes it.
    Existing(String),
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
            group: GroupSource::Loopback,
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
    /// CPU time (user + system), µs per operation; NaN for a process that
    /// is not the benchmark's child (its `/proc` is not readable here).
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
        let leader = group.wait_for_leader(None, LEADER_TIMEOUT)?;
        let pids: Vec<Option<u32>> = (0..options.replicas).map(|id| group.pid(id)).collect();
        let bench = measure(group.probe(), &pids, leader, options, stop, progress)?;
        if let Some((id, how)) = group.exited().first() {
            anyhow::bail!(
                "replica {id} exited during the run ({how}):\n{}",
                group.logs()
            );
        }
        group.stop();
        Ok(bench)
    }

    /// Drives the group of `config`, already running (replicas started by
    /// hand from the file named `source`, on this host or others).
    pub fn existing(
        config: ClusterConfig,
        source: &str,
        load: LoadOptions,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(Duration, Duration),
    ) -> anyhow::Result<UdpBench> {
        let options = UdpBenchOptions {
            replicas: config.size(),
            load,
            timing: config.timing,
            group: GroupSource::Existing(source.to_string()),
        };
        let probe = GroupProbe::new(config)?;
        let hint = format!("are the replicas of {source} running and reachable from here?");
        let leader = probe.wait_for_leader(&|_| true, None, LEADER_TIMEOUT, &hint)?;
        let pids = vec![None; usize::from(options.replicas)];
        measure(&probe, &pids, leader, options, stop, progress)
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

/// Offers the load to the group `probe` reaches, led by `leader`; `pids`
/// are the replicas' process ids where they are this process's children.
fn measure(
    probe: &GroupProbe,
    pids: &[Option<u32>],
    leader: u8,
    options: UdpBenchOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, Duration),
) -> anyhow::Result<UdpBench> {
    let ids: Vec<u8> = (0..probe.size()).collect();
    let all = |_| true;
    let cpu = || -> Vec<_> { pids.iter().map(|pid| pid.and_then(cpu_time)).collect() };
    let (cpu_before, statuses_before) = (cpu(), probe.statuses(&all));
    let result = load::run(probe.config(), &options.load, stop, progress)?;
    let (cpu_after, statuses) = (cpu(), probe.statuses(&all));
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
    Ok(UdpBench {
        options,
        result,
        garbage,
        processes,
    })
}

impl fmt::Display for UdpBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.result;
        let o = &self.options;
        match &o.group {
            GroupSource::Loopback => writeln!(
                f,
                "backend: udp, {} replica processes on loopback (software fast path, io_uring), window {}, max_inflight {}",
                o.replicas, o.timing.window, o.timing.max_inflight
            )?,
            GroupSource::Existing(source) => writeln!(
                f,
                "backend: udp, the running group of {source} ({} replicas), window {}",
                o.replicas, o.timing.window
            )?,
        }
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
            let cpu = if p.cpu_us.is_nan() {
                "CPU not measured (not our child)".to_string()
            } else {
                format!("{:.1} CPU us/op", p.cpu_us)
            };
            writeln!(
                f,
                "replica {}{}: {cpu}, {:.2} io_uring enters/op, {:.2} enters/datagram",
                p.id,
                if p.leader { " (leader)" } else { "" },
                p.enters,
                p.enters_per_datagram
            )?;
        }
        writeln!(f, "garbage datagrams counted: {}", self.garbage)
    }
}
