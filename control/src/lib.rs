//! riptide's control plane: Multi-Paxos as a sans-IO state machine.
//!
//! A [`Replica`] has no clocks, sockets or threads: the caller feeds it
//! [`Input`]s (a received message, a timer tick, a client request, an event from
//! its NIC) and carries out the [`Output`]s it returns (messages to send, NIC
//! commands, applied entries, client replies). The same code runs in unit tests,
//! in the deterministic cluster simulator and in the replica process.
//!
//! The common case, phase 2, runs on the NIC (see `riptide_wire::host`); this
//! crate does everything rare: election, phase 1 with the NIC fence, catch-up,
//! retransmission, recovery after amnesia, the replicated KV store, and the
//! client's side of the protocol ([`client::Session`]). `docs/protocol.md`
//! states the rules and why they are safe.
//!
//! Sockets, io_uring, configuration files and the NIC drivers are in
//! `riptide-node`; this crate depends on `riptide-wire` (and `thiserror`) only, so the
//! simulator and the tests build it without any of them.

pub mod client;
pub mod kv;
pub mod replica;
pub mod rng;

pub use replica::{
    DEFAULT_MAX_INFLIGHT, DEFAULT_MAX_PENDING, DEFAULT_SNAPSHOT_EVERY, Input, Output, Replica,
    ReplicaConfig, Role, Status, Variant,
};
