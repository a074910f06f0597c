//! What one check explores: group size, the bounds that keep the state
//! space finite, the planted bug (if any), and the timing every replica runs
//! with.

use riptide_control::ReplicaConfig;
use riptide_sim::SimVariant;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Group id of every checked group (any value works; frames carry it).
pub const GROUP: u16 = 7;

/// Timers, in ticks. Ticks are the checker's to give (any replica may tick
/// at any moment), so only their ratios matter; the smallest values that
/// keep every timer meaningful keep the state space small. The election
/// range is degenerate so the replica's RNG draws nothing that matters
/// (`Replica::write_canonical`).
pub const HEARTBEAT_TICKS: u64 = 1;
pub const ELECTION_TICKS: u64 = 1;
pub const RETRANSMIT_TICKS: u64 = 1;

/// The bounds of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// Group size, 2f+1.
    pub replicas: u8,
    /// Distinct ballots the whole run may use: every candidacy takes one,
    /// and so does every recovery fence (a responder fences at a ballot of
    /// the recovering replica); a step that would use one more is not
    /// taken.
    pub ballots: u64,
    /// Highest log slot; a step that assigns or stores a slot past it is
    /// not taken.
    pub slots: u64,
    /// Crashes with amnesia (each followed at once by a restart).
    pub crashes: u32,
    /// Frames the network may duplicate (beyond the protocol's own
    /// retransmissions, which always may arrive again).
    pub duplicates: u32,
    /// Card-to-host records a NIC may hold for its host; a frame that
    /// would add one more is dropped (the hardware's `drop_overflow`). Two
    /// is the least that keeps the fence's race: a PREPARE punted and an
    /// ACCEPT acked behind it before the host looked.
    pub host_queue: usize,
    /// Clients, each with one write (a put of its own value to one shared
    /// key, so a second execution of a write would show in the store).
    pub clients: u8,
    #[serde(serialize_with = "variant_name", deserialize_with = "variant_parse")]
    pub variant: SimVariant,
}

impl Bounds {
    pub fn new(replicas: u8, ballots: u64, slots: u64, crashes: u32) -> Bounds {
        Bounds {
            replicas,
            ballots,
            slots,
            crashes,
            duplicates: 0,
            host_queue: 2,
            clients: 1,
            variant: SimVariant::Correct,
        }
    }

    pub fn with_variant(self, variant: SimVariant) -> Bounds {
        Bounds { variant, ..self }
    }

    pub fn with_clients(self, clients: u8) -> Bounds {
        Bounds { clients, ..self }
    }

    pub fn with_host_queue(self, host_queue: usize) -> Bounds {
        Bounds { host_queue, ..self }
    }

    pub fn with_duplicates(self, duplicates: u32) -> Bounds {
        Bounds { duplicates, ..self }
    }

    /// f+1.
    pub fn quorum(&self) -> usize {
        usize::from(self.replicas) / 2 + 1
    }

    /// Replica `id`'s configuration in its life `incarnation`.
    pub fn replica_config(&self, id: u8, incarnation: u32) -> ReplicaConfig {
        let mut cfg = ReplicaConfig::new(id, self.replicas, GROUP, seed(id, incarnation));
        cfg.incarnation = incarnation;
        cfg.heartbeat_ticks = HEARTBEAT_TICKS;
        cfg.election_ticks = (ELECTION_TICKS, ELECTION_TICKS);
        cfg.retransmit_ticks = RETRANSMIT_TICKS;
        cfg.variant = self.variant.host();
        cfg
    }
}

/// Every life of every replica gets its own seed (its recovery nonce must
/// differ from its former lives').
fn seed(id: u8, incarnation: u32) -> u64 {
    u64::from(id) << 32 | u64::from(incarnation)
}

fn variant_name<S: Serializer>(variant: &SimVariant, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(variant.name())
}

fn variant_parse<'de, D: Deserializer<'de>>(d: D) -> Result<SimVariant, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}
