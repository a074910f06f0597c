//! What a run found: [`SimReport`], printed for humans (`Display`, the seed
//! first, one line per check) or as JSON (`Serialize`).

use std::fmt;

use riptide_control::DEFAULT_SNAPSHOT_EVERY;
use serde::{Serialize, Serializer};

use crate::check::Check;
use crate::check::agreement::AgreementViolation;
use crate::check::chosen::ChosenViolation;
use crate::check::liveness::{LivenessViolation, Stall};
use crate::config::NicGroup;
use crate::faults::{FaultKind, FaultSchedule};
use crate::history::History;
use crate::latency::{LatencyModel, Micros, ms};
use crate::linearizability::Verdict;
use crate::network::TrafficStats;
use crate::node::NodeSummary;
use crate::variant::SimVariant;

/// Every checker's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    /// No two replicas applied different values in a slot (checked at every step).
    pub agreement: Check<AgreementViolation>,
    /// A value held by a majority is the only one ever chosen or applied in
    /// its slot (checked every tick from the replicas' logs).
    pub chosen: Check<ChosenViolation>,
    /// The client history is linearizable (checked at the end).
    pub linearizability: Verdict,
    /// After the heal time every operation completed within the bound.
    pub liveness: Check<LivenessViolation>,
    /// Set when operations stopped completing because more than f replicas
    /// lost their state (only possible with `Fault::BeyondF`): the outcome
    /// the protocol documents, so not a liveness violation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall: Option<Stall>,
    /// Every reply a client accepted fits its operation (a value for a get,
    /// done for a put or delete, swapped or not for a cas).
    pub replies: Check<String>,
}

impl Checks {
    pub fn all_ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// One line per failed check: its name and its first violation.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(v) = self.agreement.violation() {
            failures.push(format!("agreement: {v}"));
        }
        if let Some(v) = self.chosen.violation() {
            failures.push(format!("chosen values: {v}"));
        }
        if !self.linearizability.linearizable {
            let verdict = self.linearizability.to_string();
            failures.push(format!(
                "linearizability: {}",
                verdict.trim().replace('\n', " ")
            ));
        }
        if let Some(v) = self.liveness.violation() {
            failures.push(format!("liveness: {v}"));
        }
        if let Some(v) = self.replies.violation() {
            failures.push(format!("replies: {v}"));
        }
        failures
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Virtual time at the end of the run.
    pub virtual_us: Micros,
    /// A hash of every event processed, in order: equal for two runs exactly
    /// when they did the same thing at the same times.
    #[serde(serialize_with = "hex")]
    pub trace_hash: u64,
    /// Frames between replicas' NICs.
    pub frames: TrafficStats,
    /// Requests and replies between clients and hosts.
    pub client_messages: TrafficStats,
    /// Punted frames host software could not decode (counted, dropped).
    pub malformed: u64,
    /// Host calls the NICs failed (`NicError`: driver errors, records that
    /// do not decode): a bug below the control plane; the run fails.
    #[serde(skip_serializing_if = "is_zero")]
    pub nic_faults: u64,
    /// The last of them, as its error says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_nic_fault: Option<String>,
    /// Frames, records and requests that reached a crashed replica.
    pub lost_to_crashes: u64,
    pub crashes: u64,
    /// Of `crashes`: those whose restart lost its state record.
    #[serde(skip_serializing_if = "is_zero")]
    pub wipes: u64,
    /// Of `crashes`: those of the host alone (the NIC survived).
    #[serde(skip_serializing_if = "is_zero")]
    pub host_crashes: u64,
    /// Frames a NIC handled while its host was down (`Fault::HostCrash`).
    #[serde(skip_serializing_if = "is_zero")]
    pub frames_to_orphan_nics: u64,
    /// Of `crashes`: those carried out although f replicas were already
    /// without state (`Fault::BeyondF`).
    #[serde(skip_serializing_if = "is_zero")]
    pub crashes_beyond_f: u64,
    /// Scheduled crashes not carried out because f replicas were already
    /// down or recovering, or the replica was down.
    pub crashes_skipped: u64,
    /// Highest slot any replica applied.
    pub commits: u64,
    /// Distinct ballots in which some replica became leader.
    pub elections: u64,
    /// Snapshots installed by replicas that were too far behind.
    pub installs: u64,
    pub ops_total: u64,
    pub ops_completed: u64,
    /// Invocation-to-reply time of each completed operation, in completion order.
    pub latencies_us: Vec<Micros>,
}

impl Stats {
    /// The `p`-th percentile (0..=100) of completed-operation latency.
    pub fn latency_percentile(&self, p: u64) -> Option<Micros> {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let last = sorted.len().checked_sub(1)?;
        Some(sorted[(last as u64 * p / 100) as usize])
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// The file an explicit schedule was read from, for the replay command
    /// (set by whoever read it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_file: Option<String>,
    pub seed: u64,
    pub replicas: u8,
    pub clients: u32,
    pub ops: u64,
    pub variant: SimVariant,
    #[serde(skip_serializing_if = "NicGroup::is_model")]
    pub nic: NicGroup,
    /// Mean client think time, if set rather than derived from the fault window.
    pub think_us: Option<Micros>,
    /// Applied entries between snapshots (`ReplicaConfig::snapshot_every`).
    pub snapshot_every: u64,
    /// The kinds the schedule was generated from; `None` for an explicit schedule.
    pub fault_kinds: Option<Vec<FaultKind>>,
    pub latency: LatencyModel,
    pub schedule: FaultSchedule,
    pub checks: Checks,
    pub stats: Stats,
    /// The applied log: every slot applied by any replica, with its value
    /// (what agreement was checked on), for comparing runs.
    #[serde(skip)]
    pub committed: Vec<(u64, Vec<u8>)>,
    /// Each replica at the end of the run.
    pub nodes: Vec<NodeSummary>,
    /// The event log (`SimConfig::log`): every host input but ticks, every
    /// output, crashes and restarts, client operations, with virtual times.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// The space-time diagram (`SimConfig::timeline`), empty otherwise.
    #[serde(skip)]
    pub timeline: String,
    #[serde(serialize_with = "history_json")]
    pub history: History,
}

impl SimReport {
    pub fn all_ok(&self) -> bool {
        self.checks.all_ok() && self.stats.nic_faults == 0
    }

    /// The command that replays this run. A generated schedule replays from
    /// the seed; an explicit one needs the schedule file (`--json` output's
    /// `schedule`, or `FaultSchedule::to_json`).
    pub fn replay_command(&self) -> String {
        let faults = match &self.fault_kinds {
            Some(kinds) if kinds.is_empty() => "--faults none".to_string(),
            Some(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
                format!(
                    "--faults {} --heal-us {}",
                    names.join(","),
                    self.schedule.heal_us
                )
            }
            None => format!(
                "--schedule {}",
                self.schedule_file.as_deref().unwrap_or("SCHEDULE.json")
            ),
        };
        let think = self
            .think_us
            .map_or(String::new(), |us| format!(" --think-us {us}"));
        let snapshots = if self.snapshot_every == DEFAULT_SNAPSHOT_EVERY {
            String::new()
        } else {
            format!(" --snapshot-every {}", self.snapshot_every)
        };
        let nic = if self.nic.is_model() {
            String::new()
        } else {
            format!(" --nic {}", self.nic)
        };
        format!(
            "riptide sim --replicas {} --seed {} --ops {} --clients {}{think}{snapshots} --variant {}{nic} {faults}",
            self.replicas, self.seed, self.ops, self.clients, self.variant
        )
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "seed {}: {} replicas, {} clients, {} ops, variant {}",
            self.seed, self.replicas, self.clients, self.ops, self.variant
        )?;
        if !self.nic.is_model() {
            write!(f, ", NIC {}", self.nic)?;
        }
        writeln!(f)?;
        writeln!(f, "latency model: {}", self.latency)?;
        writeln!(f, "schedule: {}", self.schedule)?;
        writeln!(f, "agreement        {}", self.checks.agreement)?;
        writeln!(f, "chosen values    {}", self.checks.chosen)?;
        let verdict = &self.checks.linearizability;
        let status = if verdict.linearizable {
            "ok, "
        } else {
            "VIOLATED: "
        };
        let text = verdict.to_string();
        writeln!(
            f,
            "linearizability  {status}{}",
            text.trim().replace('\n', "\n                 ")
        )?;
        match &self.checks.stall {
            Some(stall) => writeln!(f, "liveness         ok, expected stall: {stall}")?,
            None => writeln!(f, "liveness         {}", self.checks.liveness)?,
        }
        writeln!(f, "replies          {}", self.checks.replies)?;
        if s.nic_faults > 0 {
            writeln!(
                f,
                "NIC faults       {} (driver errors or card records that do not decode); last: {}",
                s.nic_faults,
                s.last_nic_fault.as_deref().unwrap_or("?")
            )?;
        }
        writeln!(
            f,
            "virtual time {}, trace {:016x}; frames {} sent, {} dropped, {} partitioned, {} duplicated; {} malformed",
            ms(s.virtual_us),
            s.trace_hash,
            s.frames.sent,
            s.frames.dropped,
            s.frames.partitioned,
            s.frames.duplicated,
            s.malformed
        )?;
        let mut flavours = String::new();
        for (n, what) in [
            (s.host_crashes, "host only"),
            (s.wipes, "without state record"),
            (s.crashes_beyond_f, "past f without state"),
        ] {
            if n > 0 {
                flavours.push_str(&format!("{n} {what}, "));
            }
        }
        writeln!(
            f,
            "{} commits, {} elections, {} snapshot installs, {} crashes ({flavours}{} skipped: f replicas already without state); ops {}/{} completed",
            s.commits,
            s.elections,
            s.installs,
            s.crashes,
            s.crashes_skipped,
            s.ops_completed,
            s.ops_total
        )?;
        if let (Some(p50), Some(p99), Some(max)) = (
            s.latency_percentile(50),
            s.latency_percentile(99),
            s.latency_percentile(100),
        ) {
            writeln!(f, "op latency p50 {p50} us, p99 {p99} us, max {max} us")?;
        }
        for node in &self.nodes {
            writeln!(f, "{node}")?;
        }
        writeln!(f, "replay: {}", self.replay_command())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn hex<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{value:016x}"))
}

fn history_json<S: Serializer>(history: &History, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(&history.ops)
}
