//! A long run at a fixed rate, for memory and catch-up: every replica's
//! resident memory is sampled as the run goes, and halfway through one
//! follower is killed and started again with its state directory, then timed
//! until it has applied everything the group had committed when it came
//! back. A group that runs for months must stay within a memory bound
//! (snapshots and compaction drop the log, sessions are bounded), and a
//! restarted replica must catch up from a snapshot instead of replaying the
//! history.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::processes::resident_bytes;

use super::UdpBenchOptions;
use super::group::{GroupOptions, ProcessGroup};
use super::load::{self, LoadResult};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The group and the load: an open-loop rate, for the whole run.
    pub bench: UdpBenchOptions,
    /// Resident memory is sampled this often.
    pub sample_every: Duration,
    /// The bound every replica's resident memory must stay under, in bytes.
    pub rss_bound: u64,
    /// Kill and restart a follower halfway through.
    pub restart: bool,
}

/// Every replica's resident memory at one moment of the run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the load started.
    pub at: Duration,
    /// Bytes, by replica id; `None` while it is down.
    pub rss: Vec<Option<u64>>,
}

/// The follower killed and started again halfway through.
#[derive(Debug, Clone)]
pub struct Restart {
    pub id: u8,
    /// When it was started again, since the load started.
    pub at: Duration,
    /// The leader's commit index when it was started again: it has caught up
    /// once it has applied that slot.
    pub target: u64,
    /// From its start to having applied `target`; `None` if it had not by
    /// the end of the run.
    pub caught_up_after: Option<Duration>,
    /// Snapshots it installed to get there (its status's
    /// `snapshot_installs`, counted from its new start).
    pub installs: u64,
}

/// A finished soak.
pub struct Soak {
    pub options: SoakOptions,
    pub load: LoadResult,
    pub samples: Vec<Sample>,
    pub restart: Option<Restart>,
}

impl Soak {
    /// Starts the group from the `riptide` binary `exe`, runs the load while
    /// sampling, stops the group.
    pub fn run(
        exe: &Path,
        options: SoakOptions,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(Duration, Duration),
    ) -> anyhow::Result<Soak> {
        let mut group_options = GroupOptions::loopback(options.bench.replicas);
        group_options.timing = options.bench.timing;
        group_options.log_filter = "warn".to_string();
        let mut group = ProcessGroup::start(exe, group_options)?;
        group.wait_for_leader(None, Duration::from_secs(10))?;
        let config = group.config().clone();
        // The load runs on a thread of its own; sampling, and the restart,
        // stay on this one: a replica dies with the thread that started it
        // (`die_with_parent`).
        let load_done = AtomicBool::new(false);
        let elapsed_ms = AtomicU64::new(0);
        let (load, watched) = thread::scope(|scope| {
            let load = scope.spawn(|| {
                let result = load::run(&config, &options.bench.load, stop, &mut |done, _| {
                    elapsed_ms.store(done.as_millis() as u64, Ordering::Relaxed)
                });
                load_done.store(true, Ordering::Relaxed);
                result
            });
            let total = options.bench.load.warmup + options.bench.load.duration;
            let watched = watch(&mut group, &options, &load_done, &mut || {
                progress(
                    Duration::from_millis(elapsed_ms.load(Ordering::Relaxed)),
                    total,
                )
            });
            let load = load.join().expect("the load generator does not panic");
            (load, watched)
        });
        let (samples, restart) = watched?;
        if let Some((id, how)) = group.exited().first() {
            anyhow::bail!(
                "replica {id} exited during the soak ({how}):\n{}",
                group.logs()
            );
        }
        group.stop();
        Ok(Soak {
            options,
            load: load?,
            samples,
            restart,
        })
    }

    /// The most each replica held resident over the run, by id.
    pub fn peak_rss(&self) -> Vec<u64> {
        (0..usize::from(self.options.bench.replicas))
            .map(|id| {
                self.samples
                    .iter()
                    .filter_map(|s| s.rss[id])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Every replica stayed under the bound, and the restarted one (if any)
    /// caught up.
    pub fn passed(&self) -> bool {
        self.peak_rss().iter().all(|&b| b <= self.options.rss_bound)
            && self
                .restart
                .as_ref()
                .is_none_or(|r| r.caught_up_after.is_some())
    }

    /// The samples as CSV: seconds, then MiB per replica (empty while down).
    pub fn rss_csv(&self) -> String {
        let ids = 0..self.options.bench.replicas;
        let mut csv = String::from("seconds");
        for id in ids {
            csv.push_str(&format!(",replica{id}_mib"));
        }
        csv.push('\n');
        for s in &self.samples {
            csv.push_str(&format!("{:.1}", s.at.as_secs_f64()));
            for rss in &s.rss {
                match rss {
                    Some(b) => csv.push_str(&format!(",{:.1}", mib(*b))),
                    None => csv.push(','),
                }
            }
            csv.push('\n');
        }
        csv
    }

    /// The samples as a self-contained SVG: MiB against time, one line per
    /// replica, the bound and the restart marked.
    pub fn rss_svg(&self) -> String {
        let lines: Vec<(String, Vec<(f64, f64)>)> = (0..usize::from(self.options.bench.replicas))
            .map(|id| {
                let points = self
                    .samples
                    .iter()
                    .filter_map(|s| s.rss[id].map(|b| (s.at.as_secs_f64(), mib(b))))
                    .collect();
                (format!("replica {id}"), points)
            })
            .collect();
        super::plot::line_svg(
            &format!(
                "resident memory, {} replicas at {}",
                self.options.bench.replicas,
                self.mode()
            ),
            "seconds",
            "MiB",
            &lines,
            Some(("bound", mib(self.options.rss_bound))),
            self.restart
                .as_ref()
                .map(|r| (format!("replica {} restarted", r.id), r.at.as_secs_f64())),
        )
    }

    fn mode(&self) -> String {
        match self.options.bench.load.mode {
            load::Mode::Open { rate, .. } => format!("{rate} ops/s"),
            load::Mode::Closed { clients } => format!("{clients} closed-loop clients"),
        }
    }
}

/// Samples resident memory until the load is done, restarting a follower
/// halfway through; calls `progress` as it goes.
fn watch(
    group: &mut ProcessGroup,
    options: &SoakOptions,
    load_done: &AtomicBool,
    progress: &mut dyn FnMut(),
) -> anyhow::Result<(Vec<Sample>, Option<Restart>)> {
    let started = Instant::now();
    let half = options.bench.load.warmup + options.bench.load.duration / 2;
    let ids: Vec<u8> = (0..options.bench.replicas).collect();
    let mut samples = Vec::new();
    let mut restart: Option<(Restart, Instant)> = None;
    let mut next_sample = started;
    while !load_done.load(Ordering::Relaxed) {
        let now = Instant::now();
        if options.restart && restart.is_none() && now - started >= half {
            restart = Some(restart_a_follower(group, started)?);
        }
        if let Some((r, restarted)) = restart.as_mut()
            && r.caught_up_after.is_none()
            && let Some(status) = group.status(r.id)
            && status.applied >= r.target
        {
            r.caught_up_after = Some(restarted.elapsed());
            r.installs = status.host.snapshot_installs;
        }
        if now >= next_sample {
            samples.push(Sample {
                at: now - started,
                rss: ids
                    .iter()
                    .map(|&id| group.pid(id).and_then(resident_bytes))
                    .collect(),
            });
            next_sample += options.sample_every;
        }
        progress();
        thread::sleep(Duration::from_millis(50));
    }
    Ok((samples, restart.map(|(r, _)| r)))
}

/// `kill -9` a follower and start it again with its state directory, as an
/// operator would.
fn restart_a_follower(
    group: &mut ProcessGroup,
    started: Instant,
) -> anyhow::Result<(Restart, Instant)> {
    let leader = group
        .leader()
        .ok_or_else(|| anyhow::anyhow!("no leader halfway through the soak"))?;
    let id = (leader.id + 1) % group.size();
    group.kill(id)?;
    let target = group.leader().map_or(leader.commit, |l| l.commit);
    group.restart(id)?;
    let restarted = Instant::now();
    Ok((
        Restart {
            id,
            at: restarted - started,
            target,
            caught_up_after: None,
            installs: 0,
        },
        restarted,
    ))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Soak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let r = &self.load;
        writeln!(
            f,
            "soak: {} replica processes on loopback, {} for {:?} (after {:?} warm-up), puts of {} B over {} keys",
            o.bench.replicas,
            self.mode(),
            o.bench.load.duration,
            o.bench.load.warmup,
            o.bench.load.payload,
            o.bench.load.keys
        )?;
        writeln!(f, "commit latency (put request -> reply): {}", r.latencies)?;
        writeln!(
            f,
            "throughput: {:.0} ops/s ({} completed, {} unfinished, {} retries)",
            r.throughput(),
            r.completed,
            r.unfinished,
            r.retries
        )?;
        // About twenty rows, each the most every replica held in its span.
        let total = self.samples.last().map_or(Duration::ZERO, |s| s.at);
        let span = (total / 20).max(o.sample_every);
        write!(
            f,
            "resident memory (MiB, the most in each {span:.0?}):\n  seconds"
        )?;
        for id in 0..o.bench.replicas {
            write!(f, "  replica {id}")?;
        }
        writeln!(f)?;
        for chunk in self
            .samples
            .chunk_by(|a, b| a.at.as_nanos() / span.as_nanos() == b.at.as_nanos() / span.as_nanos())
        {
            write!(f, "  {:>7.0}", chunk[0].at.as_secs_f64())?;
            for id in 0..usize::from(o.bench.replicas) {
                match chunk.iter().filter_map(|s| s.rss[id]).max() {
                    Some(b) => write!(f, "  {:>9.1}", mib(b))?,
                    None => write!(f, "  {:>9}", "down")?,
                }
            }
            writeln!(f)?;
        }
        let peaks = self.peak_rss();
        let within = peaks.iter().all(|&b| b <= o.rss_bound);
        writeln!(
            f,
            "peak resident memory: {} (bound {:.0} MiB: {})",
            peaks
                .iter()
                .enumerate()
                .map(|(id, &b)| format!("replica {id} {:.1} MiB", mib(b)))
                .collect::<Vec<_>>()
                .join(", "),
            mib(o.rss_bound),
            if within { "within" } else { "EXCEEDED" }
        )?;
        match &self.restart {
            None => Ok(()),
            Some(r) => match r.caught_up_after {
                Some(after) => writeln!(
                    f,
                    "restart: replica {} killed and started again at {:.1} s; applied the leader's commit {} then in {:.2} s, with {} snapshot install(s)",
                    r.id,
                    r.at.as_secs_f64(),
                    r.target,
                    after.as_secs_f64(),
                    r.installs
                ),
                None => writeln!(
                    f,
                    "restart: replica {} killed and started again at {:.1} s; it had NOT applied the leader's commit {} then by the end of the run",
                    r.id,
                    r.at.as_secs_f64(),
                    r.target
                ),
            },
        }
    }
}
