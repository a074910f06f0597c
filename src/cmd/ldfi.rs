//! `riptide ldfi`: lineage-driven fault injection over the simulator (or,
//! with `--random`, random fault injection in the same budget), printing the
//! executions tried and either a counterexample (schedule file + replay
//! command) or "no counterexample within budget".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_sim::SimVariant;
use riptide_sim::ldfi::{self, LdfiConfig, SearchResult};

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// Group size (3 or 5 for f = 1 or 2).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: u8,
    /// Protocol variant: `correct` or a planted bug.
    #[arg(long, default_value = "correct")]
    variant: SimVariant,
    /// Most crashes in one injected schedule.
    #[arg(long, default_value_t = 1)]
    budget_crashes: u32,
    /// End of finite failures (virtual us): no fault at or after it.
    #[arg(long, default_value_t = 40_000)]
    eff: u64,
    /// Executions to try before giving up.
    #[arg(long, default_value_t = 1000)]
    max_executions: u64,
    /// Seed of the simulated runs (and of `--random`'s draws).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random fault injection in the same budget instead of LDFI.
    #[arg(long)]
    random: bool,
    /// Where a counterexample's schedule is written.
    #[arg(long, default_value = "ldfi-counterexample.json")]
    out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = LdfiConfig::small(args.replicas, args.seed);
    config.sim.variant = args.variant;
    config.budget_crashes = args.budget_crashes;
    config.eff_us = args.eff;
    config.max_executions = args.max_executions;
    let what = if args.random { "random" } else { "ldfi" };
    let bar = progress::bar(config.max_executions, what);
    let mut tick = |executions: u64, _waiting: usize| bar.set_position(executions);
    let result = if args.random {
        ldfi::random_search(&config, args.seed, &mut tick)
    } else {
        ldfi::search(&config, &mut tick)
    };
    bar.finish_and_clear();
    if let Some(found) = &result.counterexample {
        std::fs::write(&args.out, found.schedule.to_json())
            .with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_result(&args, &config, &result);
    }
    Ok(if result.counterexample.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_result(args: &Args, config: &LdfiConfig, result: &SearchResult) {
    println!(
        "{} executions tried ({}, variant {})",
        result.executions,
        if args.random { "random" } else { "ldfi" },
        args.variant
    );
    match &result.counterexample {
        Some(found) => {
            println!("counterexample: {}", found.schedule);
            for failure in &found.failures {
                println!("  {failure}");
            }
            let sim = &config.sim;
            println!("schedule written to {}", args.out.display());
            println!(
                "replay: riptide sim --replicas {} --seed {} --ops {} --clients {} --think-us {} --variant {} --schedule {}",
                sim.replicas,
                sim.seed,
                sim.ops,
                sim.clients,
                sim.think_us.unwrap_or_default(),
                sim.variant,
                args.out.display()
            );
        }
        None if result.exhausted => {
            println!("no counterexample within budget (every hypothesis tried)")
        }
        None => println!("no counterexample within budget (execution limit reached)"),
    }
}
