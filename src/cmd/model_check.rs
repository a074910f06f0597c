//! `riptide model-check`: exhaustive exploration of the real control plane
//! and NIC model for small bounds (`docs/model-check.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use riptide_mc::explore::{Options, Search, Stats, explore};
use riptide_mc::prefix::Named;
use riptide_mc::trace::{Prefix, Trace};
use riptide_mc::{Bounds, Report};
use riptide_sim::SimVariant;

#[derive(clap::Args)]
pub struct Args {
    /// Group size (3 or 5).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: u8,
    /// Highest ballot round (an election or a recovery fence takes one).
    #[arg(long, default_value_t = 2)]
    ballots: u64,
    /// Highest log slot.
    #[arg(long, default_value_t = 2)]
    slots: u64,
    /// Crashes with amnesia (each restarts at once).
    #[arg(long, default_value_t = 1)]
    crashes: u32,
    /// Clients, one write each, all to the same key.
    #[arg(long, default_value_t = 1)]
    clients: u8,
    /// Card-to-host records a NIC may hold before it drops frames.
    #[arg(long, default_value_t = 2)]
    host_queue: usize,
    /// Frames the network may duplicate (retransmitted frames always may
    /// arrive again).
    #[arg(long, default_value_t = 0)]
    duplicates: u32,
    /// Breadth-first (the default: shortest counterexamples).
    #[arg(long, conflicts_with = "dfs")]
    bfs: bool,
    /// Depth-first (one thread, little memory).
    #[arg(long)]
    dfs: bool,
    /// Random walks with this seed until the time limit (default 60 s):
    /// not exhaustive, for bugs deeper than breadth-first reaches.
    #[arg(long, conflicts_with_all = ["bfs", "dfs"])]
    random: Option<u64>,
    /// Go no deeper than this many steps (breadth-first: explore every
    /// state up to it).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Worker threads (breadth-first).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Protocol variant: `correct` or a planted bug.
    #[arg(long, default_value = "correct")]
    variant: SimVariant,
    /// Stop after this many seconds and say how far the search got.
    #[arg(long)]
    time_limit: Option<u64>,
    /// Check liveness (a bounded fair extension) from every state whose
    /// fingerprint is divisible by N (1: every state, 0: none).
    #[arg(long, default_value_t = 64)]
    liveness_every: u64,
    /// Rounds of the fair extension.
    #[arg(long, default_value_t = riptide_mc::liveness::ROUNDS)]
    liveness_rounds: usize,
    /// Where a counterexample is written.
    #[arg(long, default_value = "model-check-counterexample.json")]
    out: PathBuf,
    /// Partial-order reduction (breadth-first only): expand one replica's
    /// invisible host-side steps alone where that is sound
    /// (`docs/model-check.md`); liveness is not sampled under it.
    #[arg(long, conflicts_with_all = ["dfs", "random"])]
    por: bool,
    /// Start the (breadth-first) search where this file's steps leave the
    /// group: a prefix from --write-prefix, or a counterexample's steps.
    #[arg(long, conflicts_with_all = ["dfs", "random", "prefix"])]
    from: Option<PathBuf>,
    /// Start the (breadth-first) search where a named prefix leaves the
    /// group: `election-and-write` (r0 elected, client 0's write taken,
    /// its ACCEPTs in flight), `crash-after-ack` (that, then r1's NIC
    /// acks the ACCEPT and r1 crashes) or `recovered-from-others` (that,
    /// then r1 recovers from r2, r3 and r4's answers); `docs/model-check.md`.
    #[arg(long, conflicts_with_all = ["dfs", "random"])]
    prefix: Option<Named>,
    /// Only the first N steps of --from.
    #[arg(long, requires = "from")]
    from_steps: Option<usize>,
    /// Write the prefix --prefix names (by default `election-and-write`)
    /// to this file, and exit.
    #[arg(long, conflicts_with_all = ["from", "replay"])]
    write_prefix: Option<PathBuf>,
    /// Replay a counterexample file instead of searching.
    #[arg(long, conflicts_with_all = ["bfs", "dfs"])]
    replay: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.replay {
        return replay(path);
    }
    let bounds = Bounds::new(args.replicas, args.ballots, args.slots, args.crashes)
        .with_clients(args.clients)
        .with_duplicates(args.duplicates)
        .with_host_queue(args.host_queue)
        .with_variant(args.variant);
    if let Some(path) = &args.write_prefix {
        return write_prefix(
            &bounds,
            args.prefix.unwrap_or(Named::ElectionAndWrite),
            path,
        );
    }
    let prefix = match (&args.from, args.prefix) {
        (Some(path), _) => read_prefix(&bounds, path, args.from_steps)?,
        (None, Some(named)) => named_prefix(&bounds, named)?,
        (None, None) => Vec::new(),
    };
    let options = Options {
        search: match (args.dfs, args.random) {
            (_, Some(seed)) => Search::Random { seed },
            (true, None) => Search::Dfs,
            (false, None) => Search::Bfs,
        },
        threads: args.threads,
        time_limit: args.time_limit.map(Duration::from_secs),
        max_depth: args.max_depth,
        liveness_every: args.liveness_every,
        liveness_rounds: args.liveness_rounds,
        por: args.por,
        prefix,
    };
    println!(
        "model-check: {} replicas, ballots {}, slots {}, crashes {}, clients {}, duplicates {}, variant {}, {}{} ({} thread{})",
        bounds.replicas,
        bounds.ballots,
        bounds.slots,
        bounds.crashes,
        bounds.clients,
        bounds.duplicates,
        bounds.variant,
        match options.search {
            Search::Bfs => "bfs".to_string(),
            Search::Dfs => "dfs".to_string(),
            Search::Random { seed } => format!("random walks, seed {seed}"),
        },
        if options.por {
            " with partial-order reduction"
        } else {
            ""
        },
        options.threads,
        if options.threads == 1 { "" } else { "s" }
    );
    let last = Mutex::new(Instant::now());
    let progress = |stats: &Stats| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= Duration::from_secs(5) {
            *last = Instant::now();
            eprintln!(
                "  {:>7.1} s: {} unique states, {} explored, depth {}, {:.0} states/s",
                stats.elapsed.as_secs_f64(),
                stats.unique,
                stats.explored,
                stats.depth,
                stats.states_per_second()
            );
        }
    };
    if !options.prefix.is_empty() {
        let source = match (&args.from, args.prefix) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(named)) => format!("the {named} prefix"),
            (None, None) => String::new(),
        };
        println!(
            "starting after the {} steps of {source}",
            options.prefix.len()
        );
    }
    let report = explore(&bounds, &options, &progress);
    print_stats(&report);
    match &report.counterexample {
        None if report.complete => {
            println!("no violation: every reachable state within the bounds explored");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!("no violation found, but the search stopped before exhausting the bounds");
            Ok(ExitCode::from(3))
        }
        Some(counterexample) => {
            println!(
                "violation after {} steps: {}",
                counterexample.actions.len(),
                counterexample.violation
            );
            let trace = Trace::of(&bounds, counterexample, options.liveness_rounds);
            for (i, step) in trace.steps.iter().enumerate() {
                println!("  {:>3}. {}", i + 1, step.what);
            }
            std::fs::write(&args.out, serde_json::to_string_pretty(&trace)?)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!("counterexample written to {}", args.out.display());
            println!(
                "replay: riptide model-check --replay {0} (or riptide sim --schedule {0})",
                args.out.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn named_prefix(bounds: &Bounds, named: Named) -> anyhow::Result<Vec<riptide_mc::Action>> {
    named
        .actions(bounds)
        .with_context(|| format!("the {named} prefix does not fit these bounds"))
}

fn write_prefix(bounds: &Bounds, named: Named, path: &Path) -> anyhow::Result<ExitCode> {
    let actions = named_prefix(bounds, named)?;
    let prefix = Prefix::of(bounds, &actions);
    for (i, step) in prefix.steps.iter().enumerate() {
        println!("  {:>3}. {}", i + 1, step.what);
    }
    std::fs::write(path, serde_json::to_string_pretty(&prefix)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{} steps written to {}", actions.len(), path.display());
    Ok(ExitCode::SUCCESS)
}

fn read_prefix(
    bounds: &Bounds,
    path: &Path,
    count: Option<usize>,
) -> anyhow::Result<Vec<riptide_mc::Action>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let prefix: Prefix = serde_json::from_str(&text)
        .with_context(|| format!("{} holds no steps", path.display()))?;
    prefix
        .actions(bounds, count)
        .with_context(|| format!("{} does not replay under these bounds", path.display()))
}

fn print_stats(report: &Report) {
    let stats = &report.stats;
    println!("states explored  {}", stats.explored);
    println!("unique states    {}", stats.unique);
    println!("depth            {}", stats.depth);
    println!("states/s         {:.0}", stats.states_per_second());
    println!("time             {:.2} s", stats.elapsed.as_secs_f64());
    println!("past the bounds  {}", stats.out_of_bounds);
    println!("liveness checked {}", stats.liveness_checked);
    println!("ample-set states {}", stats.reduced);
}

/// Replays a counterexample file through the checker; exit 1 when it
/// reproduces its violation, as a failing check does.
pub fn replay(path: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let trace: Trace = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a model-check trace", path.display()))?;
    println!(
        "replaying {} steps ({} replicas, variant {})",
        trace.steps.len(),
        trace.model_check.replicas,
        trace.model_check.variant
    );
    let violation = trace
        .replay()
        .with_context(|| format!("{} did not replay", path.display()))?;
    println!("violation: {violation}");
    if violation == trace.violation {
        println!("the same violation as recorded");
    } else {
        println!("recorded: {}", trace.violation);
    }
    Ok(ExitCode::from(1))
}

/// Whether a file is a model-check trace (for `riptide sim --schedule`).
pub fn is_trace(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|value| value.get("model_check").is_some())
}
