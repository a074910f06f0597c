//! `riptide check`: linearizability of a history file.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_sim::history::{self, Strictness};
use riptide_sim::linearizability::{self, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// The history: JSON lines, one operation each (see docs/history.md).
    #[arg(long)]
    history: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
    /// Read the history to the letter of docs/history.md: refuse unknown
    /// fields, outputs of info operations, fail operations without a
    /// return time, string client ids and values that are not strings.
    #[arg(long)]
    strict: bool,
    /// `jsonl`: riptide's history format; `jepsen`: a Jepsen log of one
    /// register (`<process> :invoke :read nil` …, as Porcupine's test data).
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Jsonl,
    Jepsen,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = File::open(&args.history)
        .with_context(|| format!("cannot open {}", args.history.display()))?;
    let reader = BufReader::new(file);
    let strictness = if args.strict {
        Strictness::Strict
    } else {
        Strictness::Tolerant
    };
    let history = match args.format {
        Format::Jsonl => history::read_jsonl_with(reader, strictness),
        Format::Jepsen => history::jepsen::read_jepsen_log(reader),
    }
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
