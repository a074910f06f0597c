//! `riptide status`: ask a running group's replicas for their state and
//! counters, and say whether the group can serve.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use riptide_node::ClusterConfig;
use riptide_node::config::id_list;
use riptide_node::status::{Health, StatusReport, diagnose, sweep};

/// How long the replicas have to answer: a few of their ticks and the
/// cookie round trip, with room for a loaded host.
const WITHIN: Duration = Duration::from_millis(1_500);

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

/// Exit codes: 0 every replica asked answers (and, for the whole group,
/// it serves with every replica up); 1 the group cannot serve (or the one
/// replica asked does not answer); 3 it serves, but some replica does not
/// answer or is recovering.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ClusterConfig::load(&args.config)?;
    let ids: Vec<u8> = match args.id {
        Some(id) if id < config.size() => vec![id],
        Some(id) => anyhow::bail!(
            "--id {id}: the group has replicas with ids {}",
            id_list(config.size().into())
        ),
        None => (0..config.size()).collect(),
    };
    let addrs: Vec<_> = ids
        .iter()
        .map(|&id| config.replicas[usize::from(id)].client.into())
        .collect();
    let reports = sweep(&addrs, WITHIN)?;
    if !args.json {
        println!(
            "{:>2} {:<10} {:>12} {:>8} {:>8} {:>9} {:>9} {:>8}",
            "id", "role", "ballot", "commit", "applied", "requests", "garbage", "ticks"
        );
    }
    for ((&id, addr), report) in ids.iter().zip(&addrs).zip(&reports) {
        match report {
            Some(report) if args.json => println!("{}", serde_json::to_string(report)?),
            Some(r) => print_row(r),
            None => eprintln!("replica {id} ({addr}): no answer"),
        }
    }
    if args.id.is_some() {
        return Ok(if reports.iter().all(Option::is_some) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let by_id: Vec<(u8, Option<StatusReport>)> = ids.into_iter().zip(reports).collect();
    let diagnosis = diagnose(config.size(), &by_id);
    // The verdict goes to stderr with --json, so stdout stays JSON lines.
    if args.json {
        eprintln!("{diagnosis}");
    } else {
        println!("{diagnosis}");
    }
    Ok(match diagnosis.health {
        Health::Serving { .. } => ExitCode::SUCCESS,
        Health::Down => ExitCode::from(1),
        Health::Degraded { .. } => ExitCode::from(3),
    })
}

fn print_row(r: &StatusReport) {
    println!(
        "{:>2} {:<10} {:>12} {:>8} {:>8} {:>9} {:>9} {:>8}",
        r.id,
        r.role,
        format!("{}.{}", r.ballot_round, r.ballot_leader),
        r.commit,
        r.applied,
        r.host.client_requests,
        r.garbage_dropped(),
        r.ticks
    );
}
