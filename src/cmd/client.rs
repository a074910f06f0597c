//! `riptide client`: one KV command against a running group.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use riptide_control::kv::{Command, Reply};
use riptide_node::ClusterConfig;
use riptide_node::client::{Client, ClientOptions, fresh_client_id};

#[derive(clap::Args)]
pub struct Args {
    /// The group's cluster.toml.
    #[arg(long)]
    config: PathBuf,
    /// Give up after this many milliseconds of retries.
    #[arg(long, default_value_t = 5_000)]
    timeout_ms: u64,
    /// Client id (unique among the group's clients); default: a fresh one.
    #[arg(long)]
    client_id: Option<u64>,
    #[command(subcommand)]
    op: Op,
}

#[derive(clap::Subcommand)]
enum Op {
    /// Set KEY to VALUE.
    Put { key: String, value: String },
    /// Print KEY's value (linearizable read).
    Get { key: String },
    /// Remove KEY.
    Delete { key: String },
    /// Set KEY to NEW if its value is OLD; OLD `-` means absent.
    Cas {
        key: String,
        old: String,
        new: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ClusterConfig::load(&args.config)?;
    let options = ClientOptions {
        deadline: Duration::from_millis(args.timeout_ms),
        ..ClientOptions::default()
    };
    let id = args.client_id.unwrap_or_else(fresh_client_id);
    let mut client = Client::new(&config, id, options)?;
    let command = match args.op {
        Op::Put { key, value } => Command::Put { key, value },
        Op::Get { key } => Command::Get { key },
        Op::Delete { key } => Command::Delete { key },
        Op::Cas { key, old, new } => Command::Cas {
            key,
            expected: (old != "-").then_some(old),
            new,
        },
    };
    match client.execute(&command)? {
        Reply::Value(Some(value)) => println!("{value}"),
        Reply::Value(None) => {
            eprintln!("(absent)");
            return Ok(ExitCode::from(1));
        }
        Reply::Done => println!("ok"),
        Reply::Swapped(true) => println!("swapped"),
        Reply::Swapped(false) => {
            println!("not swapped");
            return Ok(ExitCode::from(1));
        }
        // The client follows redirects, backs off on Busy and turns
        // refusals into errors.
        other @ (Reply::NotLeader { .. }
        | Reply::TooLarge { .. }
        | Reply::Cookie { .. }
        | Reply::Busy) => {
            anyhow::bail!("unexpected reply {other:?}")
        }
    }
    Ok(ExitCode::SUCCESS)
}
