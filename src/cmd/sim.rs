//! `riptide sim`: one seeded, replayable cluster simulation, checked.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use riptide_sim::faults::{FaultKind, FaultSchedule};
use riptide_sim::{FaultPlan, NicGroup, SimConfig, SimVariant, history};

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// Group size (3 or 5 for f = 1 or 2).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: u8,
    /// Seed of everything random in the run; the same seed replays exactly.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Client operations in total.
    #[arg(long, default_value_t = 1000)]
    ops: u64,
    /// Closed-loop clients issuing them.
    #[arg(long, default_value_t = 3)]
    clients: u32,
    /// Fault kinds drawn from the seed: comma-separated from
    /// drop,dup,reorder,partition,crash,wipe,host_crash,drift,beyond_f;
    /// `all` (every kind but beyond_f, which stops the group by design) or `none`.
    #[arg(long, default_value = "none", conflicts_with = "schedule")]
    faults: String,
    /// Virtual time (us) by which every generated fault has healed
    /// (default: scaled to the number of operations).
    #[arg(long)]
    heal_us: Option<u64>,
    /// Replay an explicit fault schedule (JSON) instead of drawing one.
    #[arg(long)]
    schedule: Option<PathBuf>,
    /// Mean client think time between operations, in virtual us (default:
    /// operations spread over the fault window).
    #[arg(long)]
    think_us: Option<u64>,
    /// Protocol variant: `correct` or a planted bug.
    #[arg(long, default_value = "correct")]
    variant: SimVariant,
    /// Applied entries between snapshots (0: never); small values make
    /// replicas that fall behind install snapshots.
    #[arg(long, default_value_t = riptide_control::DEFAULT_SNAPSHOT_EVERY)]
    snapshot_every: u64,
    /// What simulates each replica's NIC: `model` (the behavioural model),
    /// `rtl` (riptide_core's RTL in RustHDL on a simulated board, through the
    /// PCIe driver; about a thousand times slower) or `verilator` (the
    /// emitted Verilog, Verilated, on the same board). One name for every
    /// replica, or one per replica: `model,verilator,model`. With any RTL
    /// NIC the leader window is clamped to the RTL's.
    #[arg(long, default_value = "model")]
    nic: NicGroup,
    /// Write the client history as JSON lines (docs/history.md).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also print the run's event log (elections, crashes, violations).
    #[arg(long)]
    log: bool,
    /// Also print the run as a space-time diagram: a column per replica,
    /// every frame where it leaves and where it lands (for short runs, such
    /// as a replayed LDFI counterexample).
    #[arg(long)]
    timeline: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.schedule {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if super::model_check::is_trace(&text) {
            // A model checker's counterexample is an interleaving, not a
            // timed fault schedule: it replays through the checker's own
            // step (docs/model-check.md says why).
            return super::model_check::replay(path);
        }
    }
    let config = config(&args)?;
    let bar = progress::bar(config.ops, "simulating");
    let mut report = riptide_sim::run(&config, &mut |done, _total| bar.set_position(done));
    report.schedule_file = args
        .schedule
        .as_ref()
        .map(|path| path.display().to_string());
    bar.finish_and_clear();

    if let Some(path) = &args.history {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        history::write_jsonl(BufWriter::new(file), &report.history)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for line in &report.log {
            println!("{line}");
        }
        print!("{}", report.timeline);
        print!("{report}");
    }
    if report.all_ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("a check failed; replay with: {}", report.replay_command());
        Ok(ExitCode::from(1))
    }
}

fn config(args: &Args) -> anyhow::Result<SimConfig> {
    let mut config = SimConfig::new(args.replicas, args.seed, args.ops);
    config.clients = args.clients;
    config.variant = args.variant;
    config.think_us = args.think_us;
    config.timing.snapshot_every = args.snapshot_every;
    config.log = args.log;
    config.timeline = args.timeline;
    config = config.with_nic(args.nic.clone())?;
    config.faults = match &args.schedule {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let schedule = FaultSchedule::from_json(&text, args.replicas)
                .with_context(|| format!("{} is not a valid schedule", path.display()))?;
            FaultPlan::Explicit(schedule)
        }
        None => {
            let kinds = match args.faults.as_str() {
                "none" | "" => Vec::new(),
                list => FaultKind::parse_list(list)?,
            };
            FaultPlan::Generate {
                kinds,
                heal_us: args.heal_us.unwrap_or(default_heal_us(args.ops)),
            }
        }
    };
    Ok(config)
}

/// Long enough for faults to hit a good share of the traffic.
fn default_heal_us(ops: u64) -> u64 {
    (ops * 200).clamp(50_000, 5_000_000)
}
