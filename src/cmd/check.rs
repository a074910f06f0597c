//! `riptide check`: linearizability of a history file.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_sim::history;
use riptide_sim::linearizability::{self, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// The history: JSON lines, one operation each (see docs/history.md).
    #[arg(long)]
    history: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = File::open(&args.history)
        .with_context(|| format!("cannot open {}", args.history.display()))?;
    let history = history::read_jsonl(BufReader::new(file))
        .with_context(|| format!("{} is not a valid history", args.history.display()))?;
    let verdict = linearizability::check(&history);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        println!("{verdict}");
    }
    Ok(match verdict.outcome {
        Outcome::Linearizable => ExitCode::SUCCESS,
        Outcome::NotLinearizable => ExitCode::from(1),
        // Neither a pass nor a proof of a violation: the search hit its budget.
        Outcome::Unknown => ExitCode::from(3),
    })
}
