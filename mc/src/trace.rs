//! Counterexamples as files: the bounds, the broken property, and every
//! action from the initial state, each with a readable description. A
//! delivered frame is named by its bytes (hex), so replay finds it in the
//! network whatever the set's order.
//!
//! Why not a `riptide sim` fault schedule: the simulator decides timing
//! itself (latencies, timer draws, which replica ticks when), and a fault
//! schedule can only remove or delay what it does; the checker's
//! counterexamples are interleavings (this tick before that delivery, this
//! card-to-host record taken after that frame) that no schedule of timed
//! faults reproduces in general. So a trace replays through the checker's
//! own step, which runs the same replica and NIC code.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bounds::Bounds;
use crate::explore::Counterexample;
use crate::liveness::fair_extension;
use crate::properties::{Property, Violation};
use crate::world::{Action, Outcome, World};

/// One action, as written to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionRecord {
    Tick { replica: u8 },
    Host { replica: u8 },
    Deliver { to: u8, frame: String },
    Duplicate { to: u8, frame: String },
    Client { client: u8, replica: u8 },
    Crash { replica: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: ActionRecord,
    /// What happened, readable (not read back).
    pub what: String,
}

/// A counterexample file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The bounds the trace was found under (this key marks the file as a
    /// model-checker trace).
    pub model_check: Bounds,
    pub violation: Violation,
    /// Rounds of the fair extension, for a liveness violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_rounds: Option<usize>,
    pub steps: Vec<Step>,
}

/// A start state for a search (`--from`): the steps that reach it. A
/// counterexample file is one too (its steps; the violation is not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    pub steps: Vec<Step>,
}

impl Prefix {
    pub fn of(bounds: &Bounds, actions: &[Action]) -> Prefix {
        Prefix {
            steps: steps_of(bounds, actions),
        }
    }

    /// The first `count` steps (all if `None`) as actions under `bounds`:
    /// every one enabled, within the bounds, and breaking nothing.
    pub fn actions(
        &self,
        bounds: &Bounds,
        count: Option<usize>,
    ) -> Result<Vec<Action>, ReplayError> {
        let mut world = World::initial(bounds);
        let mut actions = Vec::new();
        let count = count.unwrap_or(self.steps.len()).min(self.steps.len());
        for (i, step) in self.steps[..count].iter().enumerate() {
            let action =
                resolve(&world, bounds, &step.action).ok_or_else(|| ReplayError::NotEnabled {
                    step: i + 1,
                    action: step.action.clone(),
                })?;
            match world.apply(bounds, action) {
                Outcome::Next(next) => world = *next,
                Outcome::OutOfBounds => return Err(ReplayError::OutOfBounds { step: i + 1 }),
                Outcome::Violation(violation) => {
                    return Err(ReplayError::Early {
                        step: i + 1,
                        violation,
                    });
                }
            }
            actions.push(action);
        }
        Ok(actions)
    }
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("step {step}: {action:?} is not enabled in the state the trace reached")]
    NotEnabled { step: usize, action: ActionRecord },
    #[error("step {step} went past the bounds")]
    OutOfBounds { step: usize },
    #[error("step {step} broke {violation} before the trace's end")]
    Early { step: usize, violation: Violation },
    #[error("the trace ran to its end without a violation")]
    NoViolation,
}

impl Trace {
    pub fn of(bounds: &Bounds, counterexample: &Counterexample, liveness_rounds: usize) -> Trace {
        let steps = steps_of(bounds, &counterexample.actions);
        Trace {
            model_check: bounds.clone(),
            violation: counterexample.violation.clone(),
            liveness_rounds: (counterexample.violation.property == Property::Liveness)
                .then_some(liveness_rounds),
            steps,
        }
    }

    /// Replays the trace through the checker's step: `Ok(the violation)` if
    /// its last step (or, for liveness, the fair extension from its last
    /// state) breaks a property.
    pub fn replay(&self) -> Result<Violation, ReplayError> {
        let bounds = &self.model_check;
        let mut world = World::initial(bounds);
        for (i, step) in self.steps.iter().enumerate() {
            let action =
                resolve(&world, bounds, &step.action).ok_or_else(|| ReplayError::NotEnabled {
                    step: i + 1,
                    action: step.action.clone(),
                })?;
            match world.apply(bounds, action) {
                Outcome::Next(next) => world = *next,
                Outcome::OutOfBounds => return Err(ReplayError::OutOfBounds { step: i + 1 }),
                Outcome::Violation(violation) if i + 1 == self.steps.len() => {
                    return Ok(violation);
                }
                Outcome::Violation(violation) => {
                    return Err(ReplayError::Early {
                        step: i + 1,
                        violation,
                    });
                }
            }
        }
        match self.liveness_rounds {
            Some(rounds) => match fair_extension(&world, bounds, rounds) {
                Err(violation) => Ok(violation),
                Ok(_) => Err(ReplayError::NoViolation),
            },
            None => Err(ReplayError::NoViolation),
        }
    }
}

/// `actions` from the initial state, as steps.
fn steps_of(bounds: &Bounds, actions: &[Action]) -> Vec<Step> {
    let mut world = World::initial(bounds);
    let mut steps = Vec::new();
    for &action in actions {
        steps.push(Step {
            action: record(&world, action),
            what: world.describe(action),
        });
        if let Outcome::Next(next) = world.apply(bounds, action) {
            world = *next;
        }
    }
    steps
}

fn record(world: &World, action: Action) -> ActionRecord {
    match action {
        Action::Tick(replica) => ActionRecord::Tick { replica },
        Action::Host(replica) => ActionRecord::Host { replica },
        Action::Deliver(i) | Action::Duplicate(i) => {
            let frame = world.network.iter().nth(i).expect("an enabled delivery");
            let (to, frame) = (frame.to, hex(&frame.bytes));
            match action {
                Action::Duplicate(_) => ActionRecord::Duplicate { to, frame },
                _ => ActionRecord::Deliver { to, frame },
            }
        }
        Action::Client { client, replica } => ActionRecord::Client { client, replica },
        Action::Crash(replica) => ActionRecord::Crash { replica },
    }
}

/// The enabled action a record names.
fn resolve(world: &World, bounds: &Bounds, record: &ActionRecord) -> Option<Action> {
    let wanted = match record {
        ActionRecord::Tick { replica } => Action::Tick(*replica),
        ActionRecord::Host { replica } => Action::Host(*replica),
        ActionRecord::Client { client, replica } => Action::Client {
            client: *client,
            replica: *replica,
        },
        ActionRecord::Crash { replica } => Action::Crash(*replica),
        ActionRecord::Deliver { to, frame } | ActionRecord::Duplicate { to, frame } => {
            let i = world
                .network
                .iter()
                .position(|f| f.to == *to && hex(&f.bytes) == *frame)?;
            match record {
                ActionRecord::Duplicate { .. } => Action::Duplicate(i),
                _ => Action::Deliver(i),
            }
        }
    };
    world.actions(bounds).contains(&wanted).then_some(wanted)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
