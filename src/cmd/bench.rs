//! `riptide bench`: replication latency benchmarks.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_bench::simulated::SimulatedBench;
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
    /// Also write the latency distribution in HdrHistogram's .hgrm format.
    #[arg(long)]
    hgrm: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Sim,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.backend {
        Backend::Sim => simulated(&args),
    }
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
