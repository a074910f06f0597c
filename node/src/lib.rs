//! The replica runtime: a replica as a process on real UDP sockets.
//!
//! The control plane (`riptide_control`) does no I/O; this crate gives it
//! some:
//!
//! - [`config`]: `cluster.toml`, validated, errors naming the field;
//! - [`lives`]: whether this replica ran before (then it recovers first);
//! - [`ring`]: UDP sockets on one io_uring (batched, fixed buffer pools);
//! - [`nic`]: the NIC a process drives: the software fast path (the
//!   behavioural model) or an Alveo board;
//! - [`node`]: the control plane wired to its NIC, without I/O;
//! - [`serve`]: the loop that moves datagrams and ticks through a node;
//! - [`status`]: the status dump, asked for by datagram;
//! - [`cookie`]: proof of a source address before a reply larger than its request;
//! - [`client`]: the blocking KV client.
//!
//! `docs/runtime.md` describes the process, its threading and its ports.

pub mod client;
pub mod config;
pub mod cookie;
pub mod lives;
pub mod nic;
pub mod node;
pub mod ring;
pub mod serve;
pub mod status;

pub use config::{ClusterConfig, ConfigError, Timing};
pub use lives::{
    Life, LivesError, PendingLife, StartMode, begin_life, plan_life, settle_with_peers,
};
pub use serve::{ServeError, Start, fresh_seed, serve, stop_on_signals};
pub use status::StatusReport;
