//! What to simulate: [`SimConfig`].

use riptide_control::ReplicaConfig;
use serde::Serialize;

use crate::faults::{FaultKind, FaultSchedule};
use crate::latency::{LatencyModel, Micros};
use crate::rng;
use crate::variant::SimVariant;

/// Where a run's faults come from.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultPlan {
    /// Drawn from the seed: windows of the given kinds, all over by `heal_us`.
    Generate {
        kinds: Vec<FaultKind>,
        heal_us: Micros,
    },
    /// Given explicitly (e.g. read with `FaultSchedule::from_json`, or saved
    /// from an earlier report), replayed as is.
    Explicit(FaultSchedule),
}

/// The control plane's timers, in ticks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaTiming {
    pub heartbeat_ticks: u64,
    pub election_ticks: (u64, u64),
    pub retransmit_ticks: u64,
    /// Most slots a leader keeps in flight.
    pub window: u64,
}

impl Default for ReplicaTiming {
    /// The control plane's own defaults (`ReplicaConfig::new`).
    fn default() -> ReplicaTiming {
        let defaults = ReplicaConfig::new(0, 3, 0, 0);
        ReplicaTiming {
            heartbeat_ticks: defaults.heartbeat_ticks,
            election_ticks: defaults.election_ticks,
            retransmit_ticks: defaults.retransmit_ticks,
            window: defaults.window,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Group size 2f+1.
    pub replicas: u8,
    /// Everything random in the run is drawn from this.
    pub seed: u64,
    /// Client operations in total.
    pub ops: u64,
    /// Closed-loop clients issuing them.
    pub clients: u32,
    /// Size of the key set (small, so operations contend).
    pub keys: u32,
    pub faults: FaultPlan,
    pub variant: SimVariant,
    pub latency: LatencyModel,
    pub timing: ReplicaTiming,
    /// After the heal time every operation must complete within this many ticks.
    pub liveness_ticks: u64,
    /// A client resends its request after this many ticks without an answer.
    pub client_timeout_ticks: u64,
    /// Mean client think time between operations; `None` spreads the
    /// operations over the fault window, so faults hit traffic.
    pub think_us: Option<Micros>,
    /// Keep an event log in the report (slow; for reading a failing run).
    pub log: bool,
    /// A restarted replica gets this long to recover before a generated
    /// schedule lets another replica lose its state.
    pub recovery_us: Micros,
}

impl SimConfig {
    /// A fault-free run of the correct protocol with 3 clients over 3 keys.
    pub fn new(replicas: u8, seed: u64, ops: u64) -> SimConfig {
        SimConfig {
            replicas,
            seed,
            ops,
            clients: 3,
            keys: 3,
            faults: FaultPlan::Generate {
                kinds: Vec::new(),
                heal_us: 0,
            },
            variant: SimVariant::Correct,
            latency: LatencyModel::default(),
            timing: ReplicaTiming::default(),
            liveness_ticks: 1_000,
            client_timeout_ticks: 20,
            think_us: None,
            recovery_us: 5_000,
            log: false,
        }
    }

    /// Faults of `kinds` drawn from the seed, over by `heal_us`.
    pub fn with_faults(mut self, kinds: &[FaultKind], heal_us: Micros) -> SimConfig {
        self.faults = FaultPlan::Generate {
            kinds: kinds.to_vec(),
            heal_us,
        };
        self
    }

    /// The schedule the run uses.
    pub fn schedule(&self) -> FaultSchedule {
        match &self.faults {
            FaultPlan::Explicit(schedule) => schedule.clone(),
            FaultPlan::Generate { kinds, heal_us } => FaultSchedule::generate(
                kinds,
                self.replicas,
                *heal_us,
                self.recovery_us,
                &mut rng::stream(self.seed, "faults"),
            ),
        }
    }

    /// Mean think time: the operations of each client spread over the fault
    /// window unless set.
    pub fn mean_think_us(&self, heal_us: Micros) -> Micros {
        self.think_us.unwrap_or_else(|| {
            let per_client = self.ops.div_ceil(u64::from(self.clients.max(1))).max(1);
            heal_us / per_client
        })
    }
}
