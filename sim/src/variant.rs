//! Which protocol the simulated cluster runs: the correct one, or one with a
//! planted bug in the host (control plane) or in the NIC (fast path), chosen
//! by name so the CLI and the tests can name them.

use std::fmt;
use std::str::FromStr;

use riptide_control::Variant;
use riptide_driver::model::ModelBugs;
use serde::{Serialize, Serializer};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimVariant {
    #[default]
    Correct,
    /// Host: PROMISE sent before the NIC fence completes.
    PromiseBeforeFence,
    /// Host: a new leader keeps its own log over higher-ballot values.
    LeaderLogWins,
    /// Commit counted across ballots, in both places a commit is counted:
    /// the leader's NIC counts an ACCEPTED of any ballot (and acks gathered
    /// before a re-proposal), and a host learning a commit index takes every
    /// entry up to it as chosen whatever its ballot.
    CommitOnAnyAck,
    /// NIC: the leader's quorum is a minority.
    CommitOnMinority,
    /// NIC: a follower acks an ACCEPT without writing it to the host.
    AckWithoutStore,
    /// Host and NIC: lives ignored. A recovery is answered at once without a
    /// fence, crash vectors are neither merged nor checked, and the NICs'
    /// lives tables stay 0, so a vote of a replica's former life can count.
    StaleIncarnation,
    /// Host: a recovery request is answered at once, without the fence
    /// (lives kept everywhere else).
    UnfencedRecovery,
    /// Host programs the NIC's lives table with 0 for every peer (its own
    /// crash vector kept), so the NIC counts acks of a former life.
    NicIgnoresLives,
    /// Host: a snapshot holds the KV map without the session table, so a
    /// retry of a write executed before an install executes again.
    SnapshotDropsSessions,
}

impl SimVariant {
    pub const ALL: [SimVariant; 10] = [
        SimVariant::Correct,
        SimVariant::PromiseBeforeFence,
        SimVariant::LeaderLogWins,
        SimVariant::CommitOnAnyAck,
        SimVariant::CommitOnMinority,
        SimVariant::AckWithoutStore,
        SimVariant::StaleIncarnation,
        SimVariant::UnfencedRecovery,
        SimVariant::NicIgnoresLives,
        SimVariant::SnapshotDropsSessions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SimVariant::Correct => "correct",
            SimVariant::PromiseBeforeFence => "promise-before-fence",
            SimVariant::LeaderLogWins => "leader-log-wins",
            SimVariant::CommitOnAnyAck => "commit-on-any-ack",
            SimVariant::CommitOnMinority => "commit-on-minority",
            SimVariant::AckWithoutStore => "ack-without-store",
            SimVariant::StaleIncarnation => "stale-incarnation",
            SimVariant::UnfencedRecovery => "unfenced-recovery",
            SimVariant::NicIgnoresLives => "nic-ignores-lives",
            SimVariant::SnapshotDropsSessions => "snapshot-drops-sessions",
        }
    }

    /// The control plane's variant.
    pub fn host(self) -> Variant {
        match self {
            SimVariant::PromiseBeforeFence => Variant::PromiseBeforeFence,
            SimVariant::LeaderLogWins => Variant::LeaderLogWins,
            SimVariant::CommitOnAnyAck => Variant::CommitAcrossBallots,
            SimVariant::StaleIncarnation => Variant::StaleIncarnation,
            SimVariant::UnfencedRecovery => Variant::UnfencedRecovery,
            SimVariant::NicIgnoresLives => Variant::NicIgnoresLives,
            SimVariant::SnapshotDropsSessions => Variant::SnapshotDropsSessions,
            _ => Variant::Correct,
        }
    }

    /// The NIC model's bugs.
    pub fn nic(self) -> ModelBugs {
        ModelBugs {
            commit_on_any_ack: self == SimVariant::CommitOnAnyAck,
            minority_quorum: self == SimVariant::CommitOnMinority,
            ack_without_store: self == SimVariant::AckWithoutStore,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown variant {0:?} (expected correct, promise-before-fence, leader-log-wins, commit-on-any-ack, commit-on-minority, ack-without-store, stale-incarnation, unfenced-recovery, nic-ignores-lives or snapshot-drops-sessions)"
)]
pub struct UnknownVariant(pub String);

impl FromStr for SimVariant {
    type Err = UnknownVariant;

    fn from_str(name: &str) -> Result<SimVariant, UnknownVariant> {
        SimVariant::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| UnknownVariant(name.to_string()))
    }
}

impl fmt::Display for SimVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for SimVariant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_plant_bugs_only_when_asked() {
        for variant in SimVariant::ALL {
            assert_eq!(variant.name().parse::<SimVariant>().unwrap(), variant);
            let nic = variant.nic();
            let bugs = [
                variant.host() != Variant::Correct,
                nic.commit_on_any_ack,
                nic.minority_quorum,
                nic.ack_without_store,
            ];
            let planted = bugs.iter().filter(|&&b| b).count();
            // commit-on-any-ack is one slip made in both planes.
            let expected = match variant {
                SimVariant::Correct => 0,
                SimVariant::CommitOnAnyAck => 2,
                _ => 1,
            };
            assert_eq!(planted, expected, "{variant}");
        }
        assert!("promise-after-fence".parse::<SimVariant>().is_err());
    }
}
