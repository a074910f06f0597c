//! `riptide replica`: one replica of a group as a process on UDP sockets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_node::fastpath::Board;
use riptide_node::status::first_to_answer;
use riptide_node::{
    ClusterConfig, Start, StartMode, fresh_seed, plan_life, serve, stop_on_signals,
};

/// How long a `--bootstrap` start listens for a live peer before it votes.
/// Peers answer status requests from their loop within a tick or two; this
/// is long enough for a loaded host and short enough to wait at every start.
const BOOTSTRAP_PROBE: Duration = Duration::from_millis(500);

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
    /// Where the replica records that it has run (default: `riptide-state`
    /// next to the config). A replica that finds its record recovers from the
    /// others before it votes: it forgot its promises when it stopped.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Recover before voting even without a record (its state directory was
    /// lost with the machine).
    #[arg(long, conflicts_with = "bootstrap")]
    rejoin: bool,
    /// A brand-new group: start fresh whatever the record says. Only when
    /// every replica of the group starts anew; a live group's replica that
    /// votes as if it made no promises can break agreement.
    #[arg(long)]
    bootstrap: bool,
    /// Seed of the replica's randomness (election timeouts, recovery nonce);
    /// default: fresh for each run, and logged.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ClusterConfig::load(&args.config)?;
    if config.replica(args.id).is_none() {
        anyhow::bail!(
            "--id {}: {} has replicas with ids {}",
            args.id,
            args.config.display(),
            riptide_node::config::id_list(config.size().into())
        );
    }
    let state_dir = args.state_dir.clone().unwrap_or_else(|| {
        let config_dir = args.config.parent().unwrap_or(Path::new("."));
        config_dir.join("riptide-state")
    });
    let mode = match (args.rejoin, args.bootstrap) {
        (true, _) => StartMode::Rejoin,
        (_, true) => StartMode::Bootstrap,
        _ => StartMode::FromRecord,
    };
    // The record is written by `serve` once the ports are bound: a start
    // that fails before then leaves it as it was.
    let life = plan_life(&state_dir, config.group, args.id, mode)?;
    if mode == StartMode::Bootstrap {
        refuse_bootstrap_if_live(&config, args.id)?;
    }
    let start = Start {
        id: args.id,
        seed: args.seed.unwrap_or_else(fresh_seed),
        life,
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

/// A bootstrap start votes as if it never promised anything, which is only
/// safe when the whole group is new. A peer that answers a status request is
/// a live group (the operator meant a restart), so the start is refused.
fn refuse_bootstrap_if_live(config: &ClusterConfig, id: u8) -> anyhow::Result<()> {
    let peers: Vec<SocketAddr> = config
        .replicas
        .iter()
        .filter(|r| r.id != id)
        .map(|r| r.client.into())
        .collect();
    let live = first_to_answer(&peers, BOOTSTRAP_PROBE)
        .context("cannot ask the other replicas whether the group is live")?;
    if let Some(addr) = live {
        anyhow::bail!(
            "--bootstrap: the replica at {addr} answers, so the group is live; a replica that \
             starts fresh in a live group can break agreement. Start it without --bootstrap: it \
             recovers from the others"
        );
    }
    Ok(())
}
