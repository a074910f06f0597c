//! `riptide bench`: replication latency benchmarks.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use riptide_bench::report::{Column, Comparison};
use riptide_bench::simulated::SimulatedBench;
use riptide_bench::udp::load::Mode;
use riptide_bench::udp::plot::{Series, percentile_svg};
use riptide_bench::udp::soak::{Soak, SoakOptions};
use riptide_bench::udp::{UdpBench, UdpBenchOptions};
use riptide_node::stop_on_signals;
use riptide_sim::SimConfig;

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// What to measure. `sim`: the deterministic cluster simulator with the
    /// behavioural NIC model, in virtual time.
    #[arg(long, value_enum, default_value_t = Backend::Sim)]
    backend: Backend,
    /// Group size.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: u8,
    /// Client operations in total.
    #[arg(long, default_value_t = 20_000)]
    ops: u64,
    /// Closed-loop clients.
    #[arg(long, default_value_t = 8)]
    clients: u32,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the latency distribution in HdrHistogram's .hgrm format
    /// (udp: default target/bench/udp-<replicas>.hgrm, with an .svg plot
    /// next to it).
    #[arg(long)]
    hgrm: Option<PathBuf>,
    /// udp: offered load in operations per second (open loop, coordinated-
    /// omission corrected); without it, `--clients` closed-loop clients.
    #[arg(long)]
    rate: Option<u64>,
    /// udp: seconds of measured load (after a warm-up of a tenth, at most 1 s).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// udp: bytes of each put's value.
    #[arg(long, default_value_t = 16)]
    payload: usize,
    /// udp: riptide's window, the slots in flight past the commit at most
    /// (`timing.window`). The leader batches every write that arrives while
    /// the window is full into the next slot, so a small window batches
    /// more under load.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=64))]
    window: u64,
    /// udp: also measure a peer system with the same load, and compare.
    #[arg(long, value_enum)]
    peer: Option<Peer>,
    /// udp: also measure the bare UDP round (client -> leader -> followers
    /// -> first ack -> client, one process per member, no protocol work)
    /// with the same load, and print every figure as a ratio to it.
    #[arg(long)]
    baseline: bool,
    /// udp: a soak of this many minutes instead: open loop at `--rate`
    /// (default 10,000 ops/s), every replica's resident memory sampled and
    /// held to `--rss-bound-mib`, a follower killed and restarted halfway and
    /// timed until it has caught up. Writes target/bench/soak-<replicas>.csv
    /// and .svg.
    #[arg(long, value_name = "MINUTES")]
    soak: Option<f64>,
    /// udp --soak: the bound on every replica's resident memory, in MiB; the
    /// run exits 1 if a replica exceeds it or the restarted one does not
    /// catch up.
    #[arg(long, default_value_t = 256)]
    rss_bound_mib: u64,
    /// rtl: back-to-back frames per throughput run.
    #[arg(long, default_value_t = riptide_hw::bench::Options::default().frames)]
    frames: u64,
    /// rtl: skip the yosys synthesis (resources and longest path; minutes).
    #[arg(long)]
    no_yosys: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Peer {
    /// openraft (in-memory log, riptide's KV state machine, TCP between nodes).
    Openraft,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Sim,
    /// `udp`: replica processes on loopback (`riptide replica`), real time.
    Udp,
    /// `rtl`: riptide_core in the RustHDL simulator (throughput and latency
    /// in cycles, simulator speed) and yosys (resources, longest path).
    Rtl,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.backend {
        Backend::Sim => simulated(&args),
        Backend::Udp if args.soak.is_some() => soak(&args),
        Backend::Udp => udp(&args),
        Backend::Rtl => rtl(&args),
    }
}

fn rtl(args: &Args) -> anyhow::Result<ExitCode> {
    let options = riptide_hw::bench::Options {
        frames: args.frames,
        yosys: !args.no_yosys,
    };
    print!("{}", riptide_hw::bench::run(&options).markdown());
    Ok(ExitCode::SUCCESS)
}

fn udp(args: &Args) -> anyhow::Result<ExitCode> {
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        anyhow::bail!(
            "--duration {}: must be a positive number of seconds",
            args.duration
        );
    }
    let mode = match args.rate {
        Some(rate) => Mode::Open {
            rate,
            max_sessions: 4096,
        },
        None => Mode::Closed {
            clients: args.clients,
        },
    };
    let mut options = UdpBenchOptions::new(
        args.replicas,
        mode,
        Duration::from_secs_f64(args.duration),
        args.payload,
    );
    options.timing.window = args.window;
    let exe =
        std::env::current_exe().context("cannot find the riptide binary to start replicas")?;
    let stop = stop_on_signals();
    let total = options.load.warmup + options.load.duration;
    let bar = progress::bar(total.as_millis() as u64, "benchmarking");
    let bench = UdpBench::run(&exe, options, stop, &mut |done, _| {
        bar.set_position(done.as_millis() as u64)
    });
    bar.finish_and_clear();
    let bench = bench?;
    print!("{bench}");
    let hgrm = args
        .hgrm
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench/udp-{}.hgrm", args.replicas)));
    if let Some(dir) = hgrm.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::create(&hgrm).with_context(|| format!("cannot create {}", hgrm.display()))?;
    let latencies = &bench.result.latencies;
    latencies
        .write_hgrm(BufWriter::new(file))
        .with_context(|| format!("cannot write {}", hgrm.display()))?;
    let peer = match args.peer {
        Some(Peer::Openraft) => {
            let bar = progress::bar(total.as_millis() as u64, "openraft");
            let peer = riptide_bench::peer::measure(
                &exe,
                args.replicas,
                &bench.options.load,
                stop,
                &mut |done, _| bar.set_position(done.as_millis() as u64),
            );
            bar.finish_and_clear();
            let peer = peer?;
            println!(
                "openraft: {} (throughput {:.0} ops/s, {} unfinished)",
                peer.result.latencies,
                peer.result.throughput(),
                peer.result.unfinished
            );
            print_cpu("openraft node", &peer.cpu_us_per_op);
            Some(peer.result)
        }
        None => None,
    };
    let baseline = if args.baseline {
        let bar = progress::bar(total.as_millis() as u64, "baseline");
        let base = riptide_bench::baseline::measure(
            &exe,
            args.replicas,
            &bench.options.load,
            stop,
            &mut |done, _| bar.set_position(done.as_millis() as u64),
        );
        bar.finish_and_clear();
        let base = base?;
        println!(
            "baseline (bare UDP round): {} (throughput {:.0} ops/s, {} unfinished)",
            base.result.latencies,
            base.result.throughput(),
            base.result.unfinished
        );
        print_cpu("baseline member", &base.cpu_us_per_op);
        Some(base.result)
    } else {
        None
    };
    if peer.is_some() || baseline.is_some() {
        let mut systems = vec![Column {
            name: "riptide",
            result: &bench.result,
        }];
        if let Some(peer) = &peer {
            systems.push(Column {
                name: "openraft",
                result: peer,
            });
        }
        println!(
            "ratios: X/base = X's figure / the bare round's (latency: bare rounds per \
             commit; ops/s: fraction of the bare rate); openraft/riptide = openraft's / riptide's"
        );
        print!(
            "{}",
            Comparison {
                systems,
                baseline: baseline.as_ref(),
            }
        );
    }
    let svg_path = hgrm.with_extension("svg");
    let title = format!(
        "commit latency, {} replicas over loopback, {}",
        args.replicas,
        bench.mode()
    );
    let mut series = vec![Series {
        name: "riptide",
        latencies,
    }];
    if let Some(peer) = &peer {
        series.push(Series {
            name: "openraft",
            latencies: &peer.latencies,
        });
    }
    if let Some(base) = &baseline {
        series.push(Series {
            name: "bare UDP round",
            latencies: &base.latencies,
        });
    }
    let svg = percentile_svg(&title, &series);
    std::fs::write(&svg_path, svg)
        .with_context(|| format!("cannot write {}", svg_path.display()))?;
    println!("wrote {} and {}", hgrm.display(), svg_path.display());
    Ok(if bench.result.completed > 0 && bench.garbage == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn soak(args: &Args) -> anyhow::Result<ExitCode> {
    let minutes = args.soak.unwrap_or_default();
    if !(minutes > 0.0 && minutes.is_finite()) {
        anyhow::bail!("--soak {minutes}: must be a positive number of minutes");
    }
    let mode = Mode::Open {
        rate: args.rate.unwrap_or(10_000),
        max_sessions: 4096,
    };
    let mut bench = UdpBenchOptions::new(
        args.replicas,
        mode,
        Duration::from_secs_f64(minutes * 60.0),
        args.payload,
    );
    bench.timing.window = args.window;
    let options = SoakOptions {
        bench,
        sample_every: Duration::from_secs(1),
        rss_bound: args.rss_bound_mib * 1024 * 1024,
        restart: args.replicas > 1,
    };
    let exe =
        std::env::current_exe().context("cannot find the riptide binary to start replicas")?;
    let total = options.bench.load.warmup + options.bench.load.duration;
    let bar = progress::bar(total.as_millis() as u64, "soak");
    let soak = Soak::run(&exe, options, stop_on_signals(), &mut |done, _| {
        bar.set_position(done.as_millis() as u64)
    });
    bar.finish_and_clear();
    let soak = soak?;
    print!("{soak}");
    let csv = PathBuf::from(format!("target/bench/soak-{}.csv", args.replicas));
    std::fs::create_dir_all("target/bench").context("cannot create target/bench")?;
    std::fs::write(&csv, soak.rss_csv())
        .with_context(|| format!("cannot write {}", csv.display()))?;
    let svg = csv.with_extension("svg");
    std::fs::write(&svg, soak.rss_svg())
        .with_context(|| format!("cannot write {}", svg.display()))?;
    println!("wrote {} and {}", csv.display(), svg.display());
    Ok(if soak.passed() && soak.load.completed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn simulated(args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig::new(args.replicas, args.seed, args.ops);
    config.clients = args.clients;
    // Back to back: a benchmark measures the system, not think time.
    config.think_us = Some(0);
    let bar = progress::bar(config.ops, "benchmarking");
    let bench = SimulatedBench::run(&config, &mut |done, _| bar.set_position(done));
    bar.finish_and_clear();
    print!("{bench}");
    if let Some(path) = &args.hgrm {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        bench
            .latencies
            .write_hgrm(BufWriter::new(file))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(if bench.report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per process: CPU µs per operation over the run.
fn print_cpu(what: &str, cpu_us_per_op: &[f64]) {
    for (i, us) in cpu_us_per_op.iter().enumerate() {
        println!("{what} {i}: {us:.1} CPU us/op");
    }
}
