//! What to simulate: [`SimConfig`].

use std::fmt;
use std::str::FromStr;

use riptide_control::ReplicaConfig;
use serde::{Serialize, Serializer};
use thiserror::Error;

use riptide_driver::model::ModelBugs;
use riptide_hw::quorum::WINDOW_SLOTS;

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

/// What simulates a replica's NIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NicBackend {
    /// The behavioural model, called directly (fast; the default).
    #[default]
    Model,
    /// riptide_core's RTL in the RustHDL simulator on a simulated Alveo
    /// board, driven through the PCIe driver (`riptide_hw::card`).
    Rtl,
    /// The Verilog riptide-hw emits, compiled with Verilator
    /// (`riptide-verilated`), on the same simulated board as `Rtl`.
    Verilator,
}

impl NicBackend {
    pub const ALL: [NicBackend; 3] = [NicBackend::Model, NicBackend::Rtl, NicBackend::Verilator];

    pub fn name(self) -> &'static str {
        match self {
            NicBackend::Model => "model",
            NicBackend::Rtl => "rtl",
            NicBackend::Verilator => "verilator",
        }
    }

    pub fn is_model(&self) -> bool {
        *self == NicBackend::Model
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown NIC {0:?} (expected model, rtl or verilator, or one per replica: model,verilator,model)"
)]
pub struct UnknownNic(pub String);

impl FromStr for NicBackend {
    type Err = UnknownNic;

    fn from_str(name: &str) -> Result<NicBackend, UnknownNic> {
        NicBackend::ALL
            .into_iter()
            .find(|n| n.name() == name)
            .ok_or_else(|| UnknownNic(name.to_string()))
    }
}

impl fmt::Display for NicBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Each replica's NIC: one backend for every replica, or one per replica
/// (a mixed group of hardware and software NICs on one wire format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicGroup(Vec<NicBackend>);

impl NicGroup {
    /// `backend` for every replica.
    pub fn all(backend: NicBackend) -> NicGroup {
        NicGroup(vec![backend])
    }

    /// Replica `id`'s backend.
    pub fn of(&self, id: u8) -> NicBackend {
        match self.0.as_slice() {
            [one] => *one,
            each => each[usize::from(id)],
        }
    }

    /// As given: one backend, or one per replica.
    pub fn backends(&self) -> &[NicBackend] {
        &self.0
    }

    pub fn is_model(&self) -> bool {
        self.0.iter().all(NicBackend::is_model)
    }

    pub fn uses(&self, backend: NicBackend) -> bool {
        self.0.contains(&backend)
    }
}

impl Default for NicGroup {
    fn default() -> NicGroup {
        NicGroup::all(NicBackend::Model)
    }
}

impl From<NicBackend> for NicGroup {
    fn from(backend: NicBackend) -> NicGroup {
        NicGroup::all(backend)
    }
}

impl FromStr for NicGroup {
    type Err = UnknownNic;

    /// `verilator` (every replica) or `model,verilator,model` (one each).
    fn from_str(list: &str) -> Result<NicGroup, UnknownNic> {
        list.split(',')
            .map(|name| name.trim().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(NicGroup)
    }
}

impl fmt::Display for NicGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, backend) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(backend.name())?;
        }
        Ok(())
    }
}

impl Serialize for NicGroup {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a NIC choice cannot run.
#[derive(Debug, Error)]
pub enum NicChoiceError {
    /// The bugs of the variants live in the model; the RTL has none of them.
    #[error("variant {0} plants a bug in the NIC model; the RTL has no such bug: use --nic model")]
    BugOnRtl(SimVariant),
    #[error(
        "--nic {given} names {count} NICs for {replicas} replicas (give one, or one per replica)"
    )]
    Count {
        given: NicGroup,
        count: usize,
        replicas: u8,
    },
    #[error("--nic verilator: {0}")]
    Verilator(#[from] riptide_verilated::VerilatedError),
}

/// The control plane's timers, in ticks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaTiming {
    pub heartbeat_ticks: u64,
    pub election_ticks: (u64, u64),
    pub retransmit_ticks: u64,
    /// Most slots a leader keeps in flight.
    pub window: u64,
    /// Most slots a leader fills before writes share one
    /// (`ReplicaConfig::max_inflight`).
    pub max_inflight: u64,
    /// Applied entries between snapshots (0: never).
    pub snapshot_every: u64,
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
            max_inflight: defaults.max_inflight,
            snapshot_every: defaults.snapshot_every,
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
    pub nic: NicGroup,
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
    /// Draw the run as a space-time diagram in the report (every frame a
    /// row; for short runs such as LDFI counterexamples).
    pub timeline: bool,
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
            nic: NicGroup::default(),
            latency: LatencyModel::default(),
            timing: ReplicaTiming::default(),
            liveness_ticks: 1_000,
            client_timeout_ticks: 20,
            think_us: None,
            recovery_us: 5_000,
            log: false,
            timeline: false,
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

    /// The NICs simulated by `nic` (one backend, or one per replica). The
    /// RTL holds at most `riptide_hw::quorum::WINDOW_SLOTS` slots in flight,
    /// so with any RTL NIC in the group the leader's window is clamped to
    /// that: the host then never submits beyond the RTL's window (which it
    /// would back-pressure where the model refuses).
    pub fn with_nic(mut self, nic: impl Into<NicGroup>) -> Result<SimConfig, NicChoiceError> {
        let nic = nic.into();
        let count = nic.backends().len();
        if count != 1 && count != usize::from(self.replicas) {
            return Err(NicChoiceError::Count {
                given: nic,
                count,
                replicas: self.replicas,
            });
        }
        if !nic.is_model() {
            if self.variant.nic() != ModelBugs::default() {
                return Err(NicChoiceError::BugOnRtl(self.variant));
            }
            self.timing.window = self.timing.window.min(WINDOW_SLOTS as u64);
        }
        if nic.uses(NicBackend::Verilator) && !riptide_verilated::AVAILABLE {
            return Err(riptide_verilated::VerilatedError::NotBuilt.into());
        }
        self.nic = nic;
        Ok(self)
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
