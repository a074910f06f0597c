//! riptide's exhaustive model checker (`docs/model-check.md`).
//!
//! The actors are the real code: each replica is a
//! [`riptide_control::Replica`] driving a [`riptide_driver::model::ModelNic`]
//! through a FIFO card-to-host stream, exactly as in the simulator, on a
//! network that loses, duplicates and reorders. Crash with amnesia (and
//! restart) is an action. Ballots, slots, clients and crashes are bounded
//! ([`Bounds`]). Every step checks the safety properties
//! ([`properties::Property`]) and the refinement to an abstract log
//! ([`refinement`]); liveness is a bounded fair extension ([`liveness`]).
//! A counterexample is written as a [`trace::Trace`] and replayed by
//! `riptide model-check --replay` (or `riptide sim --schedule`).

pub mod bounds;
pub mod explore;
mod fingerprint;
pub mod liveness;
pub mod node;
pub mod prefix;
pub mod properties;
pub mod reduction;
pub mod refinement;
pub mod trace;
pub mod world;

pub use bounds::Bounds;
pub use explore::{Counterexample, Options, Report, Search, Stats, explore};
pub use properties::{Property, Violation};
pub use world::{Action, World};
