//! `riptide bench-round` (hidden): one member of the bare UDP round that
//! `riptide bench --backend udp --baseline` measures
//! (`riptide_bench::baseline`). With `--client` it leads, else it follows.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// This member's address for the other members.
    #[arg(long)]
    peer: SocketAddr,
    /// The leader's client address (only the leader has one).
    #[arg(long)]
    client: Option<SocketAddr>,
    /// The followers' addresses (leader only).
    #[arg(long)]
    follower: Vec<SocketAddr>,
    /// The group number clients put in their requests.
    #[arg(long, default_value_t = 1)]
    group: u16,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bind = |addr| UdpSocket::bind(addr).with_context(|| format!("cannot bind {addr}"));
    let peer = bind(args.peer)?;
    match args.client {
        Some(client) => {
            riptide_bench::baseline::serve_leader(bind(client)?, peer, args.follower, args.group)?
        }
        None => riptide_bench::baseline::serve_follower(peer)?,
    }
    Ok(ExitCode::SUCCESS)
}
