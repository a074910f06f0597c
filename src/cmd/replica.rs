//! `riptide replica`: one replica of a group as a process on UDP sockets.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_control::runtime::fastpath::Board;
use riptide_control::runtime::{ClusterConfig, Start, fresh_seed, serve, stop_on_signals};
use riptide_driver::model::{ModelBugs, ModelNic};

#[derive(clap::Args)]
pub struct Args {
    /// The group's cluster.toml.
    #[arg(long)]
    config: PathBuf,
    /// This replica's id in the config.
    #[arg(long)]
    id: u8,
    /// The fast path: `soft` (or `model`) runs the behavioural NIC in this
    /// process over UDP; `vfio:DDDD:BB:DD.F` drives an Alveo board.
    #[arg(long, default_value = "soft")]
    nic: String,
    /// This replica ran before and lost its state (a restart after a crash):
    /// recover from the others before voting. Required for a restart: a
    /// replica that forgot its promises must not vote as if it made none.
    #[arg(long)]
    rejoin: bool,
    /// Seed of the replica's randomness (election timeouts, recovery nonce);
    /// default: fresh for each run, and logged.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ClusterConfig::load(&args.config)?;
    let start = Start {
        id: args.id,
        seed: args.seed.unwrap_or_else(fresh_seed),
        rejoin: args.rejoin,
    };
    let stop = stop_on_signals();
    match args.nic.as_str() {
        "soft" | "model" => {
            let nic = ModelNic::with_peers(
                args.id,
                config.group,
                config.endpoints(),
                ModelBugs::default(),
            );
            serve(&config, start, nic, stop)?;
        }
        spec if spec.starts_with("vfio:") => {
            if let Some(r) = config.replicas.iter().find(|r| r.mac.is_none()) {
                anyhow::bail!(
                    "--nic {spec}: replica[{}].mac is missing from {}: a board needs every \
                     replica's MAC address",
                    r.id,
                    args.config.display()
                );
            }
            let board = Board::open(spec, &config, args.id)
                .with_context(|| format!("cannot use the board {spec}"))?;
            serve(&config, start, board, stop)?;
        }
        other => anyhow::bail!("--nic {other:?}: expected soft, model or vfio:DDDD:BB:DD.F"),
    }
    Ok(ExitCode::SUCCESS)
}
