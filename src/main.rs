//! `riptide`: the one command line over riptide's library crates.

mod cmd;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "riptide",
    version,
    about = "State machine replication with the common case on an FPGA SmartNIC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmark replication latency (default: a simulated 3-replica cluster).
    Bench(cmd::bench::Args),
    /// Run a deterministic cluster simulation with faults and check it.
    Sim(cmd::sim::Args),
    /// Check a client history (JSON lines) for linearizability.
    Check(cmd::check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench(args) => cmd::bench::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Check(args) => cmd::check::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
