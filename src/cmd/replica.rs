//! `riptide replica`: one replica of a group as a process on UDP sockets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_node::nic::Board;
use riptide_node::{
    ClusterConfig, Start, StartMode, fresh_seed, plan_life, serve, settle_with_peers,
    stop_on_signals,
};

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
    /// Recover before voting even without a record and whatever the peers
    /// say (a replica without a record recovers anyway when a peer shows
    /// the group has run before).
    #[arg(long, conflicts_with = "bootstrap")]
    rejoin: bool,
    /// A brand-new group: start fresh whatever the record says. Only when
    /// every replica of the group starts anew; refused while a peer shows
    /// the group has run (recovering, restarted or committed anything).
    #[arg(long)]
    bootstrap: bool,
    /// When more than f replicas lost their memory at once: recover from
    /// the answers of these replicas alone (ids, comma-separated), keeping
    /// all they hold; values only the lost replicas held are gone. The
    /// warning of a recovery that cannot end names them.
    #[arg(long, value_delimiter = ',', conflicts_with = "bootstrap")]
    recover_from: Vec<u8>,
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
    if let Some(bad) = args
        .recover_from
        .iter()
        .find(|&&id| id == args.id || config.replica(id).is_none())
    {
        anyhow::bail!(
            "--recover-from {bad}: name other replicas of {} (this one is {})",
            args.config.display(),
            args.id
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
    let mut life = plan_life(&state_dir, config.group, args.id, mode)?;
    if mode == StartMode::Bootstrap || (mode == StartMode::FromRecord && !life.found_record()) {
        life = settle_with_peers(&config, args.id, mode, life, &state_dir)?;
    }
    let start = Start {
        id: args.id,
        seed: args.seed.unwrap_or_else(fresh_seed),
        life,
        survivors: args.recover_from.clone(),
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
