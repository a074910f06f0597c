//! `riptide status`: ask a running replica for its state and counters.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use riptide_node::ClusterConfig;
use riptide_node::status::query;

#[derive(clap::Args)]
pub struct Args {
    /// The group's cluster.toml.
    #[arg(long)]
    config: PathBuf,
    /// The replica to ask; default: every replica.
    #[arg(long)]
    id: Option<u8>,
    /// Print the full reports as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ClusterConfig::load(&args.config)?;
    let ids: Vec<u8> = match args.id {
        Some(id) if id < config.size() => vec![id],
        Some(id) => anyhow::bail!(
            "--id {id}: the group has replicas with ids {}",
            riptide_node::config::id_list(config.size().into())
        ),
        None => (0..config.size()).collect(),
    };
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut missing = 0;
    if !args.json {
        println!(
            "{:>2} {:<10} {:>12} {:>8} {:>8} {:>9} {:>9} {:>8}",
            "id", "role", "ballot", "commit", "applied", "requests", "garbage", "ticks"
        );
    }
    for id in ids {
        let addr = config.replicas[usize::from(id)].client;
        match query(&socket, addr.into()) {
            Ok(report) if args.json => println!("{}", serde_json::to_string(&report)?),
            Ok(r) => println!(
                "{:>2} {:<10} {:>12} {:>8} {:>8} {:>9} {:>9} {:>8}",
                r.id,
                r.role,
                format!("{}.{}", r.ballot_round, r.ballot_leader),
                r.commit,
                r.applied,
                r.host.client_requests,
                r.garbage_dropped(),
                r.ticks
            ),
            Err(error) => {
                missing += 1;
                eprintln!("replica {id} ({addr}): {error}");
            }
        }
    }
    Ok(if missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
