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
    /// Search fault schedules with lineage-driven fault injection.
    Ldfi(cmd::ldfi::Args),
    /// Exhaustively check the real control plane and NIC model for small bounds.
    ModelCheck(cmd::model_check::Args),
    /// Check a client history (JSON lines) for linearizability.
    Check(cmd::check::Args),
    /// Build artefacts of the FPGA fast path (Verilog).
    Hw(cmd::hw::Args),
    /// Run one replica of a group over UDP (logs: RUST_LOG=info|debug).
    Replica(cmd::replica::Args),
    /// Send one KV command to a running group.
    Client(cmd::client::Args),
    /// Print a running group's roles, ballots, commit indexes and counters.
    Status(cmd::status::Args),
    /// Check that this host (IOMMU, VFIO, PCIe link, locked memory) and its
    /// Alveo board are ready; one line per check, each failure with its fix.
    Doctor(cmd::doctor::Args),
    /// A member of the bare UDP round that `bench --baseline` measures.
    #[command(hide = true)]
    BenchRound(cmd::bench_round::Args),
    /// A node of the openraft peer that `bench --peer openraft` measures.
    #[command(hide = true)]
    OpenraftNode(cmd::openraft_node::Args),
}

fn main() -> ExitCode {
    die_quietly_on_closed_pipes();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench(args) => cmd::bench::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Ldfi(args) => cmd::ldfi::run(args),
        Command::ModelCheck(args) => cmd::model_check::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Hw(args) => cmd::hw::run(args),
        Command::Replica(args) => {
            init_logs();
            cmd::replica::run(args)
        }
        Command::Client(args) => cmd::client::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::BenchRound(args) => cmd::bench_round::run(args),
        Command::OpenraftNode(args) => cmd::openraft_node::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `riptide ldfi --json | head` closes stdout early. Rust ignores SIGPIPE, so
/// the next `println!` would panic with a backtrace; like other Unix tools
/// (and ripgrep), end silently instead, by restoring the default action.
fn die_quietly_on_closed_pipes() {
    // SAFETY: called first thing in main, before any other thread exists;
    // setting a signal's disposition to the default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Structured logs on stderr, filtered by `RUST_LOG` (default: info).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
