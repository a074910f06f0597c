//! `riptide openraft-node` (hidden): one node of the openraft peer that
//! `riptide bench --backend udp --peer openraft` compares riptide with
//! (`riptide_bench::peer`), as its own process.

use std::net::SocketAddr;
use std::process::ExitCode;

use riptide_bench::peer::{NodeOptions, run_node};

#[derive(clap::Args)]
pub struct Args {
    /// This node's id: its index in `--members`.
    #[arg(long)]
    id: u64,
    /// Every node's RPC (TCP) address, by id, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    members: Vec<SocketAddr>,
    /// This node's client (UDP) address.
    #[arg(long)]
    client: SocketAddr,
    /// The group number clients put in their requests.
    #[arg(long, default_value_t = 1)]
    group: u16,
    /// Initialize the group's membership (exactly one node does).
    #[arg(long)]
    initialize: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_node(&NodeOptions {
        id: args.id,
        members: args.members,
        client: args.client,
        group: args.group,
        initialize: args.initialize,
    })?;
    Ok(ExitCode::SUCCESS)
}
