//! Agreement, checked at every application: no two replicas ever apply
//! different values in the same slot (across incarnations too: a replica
//! restarted with amnesia re-applies from slot 1 and must agree with what it,
//! and everyone else, applied before), and each incarnation applies slots in
//! order, each once. A snapshot installed in place of applying slots up to
//! `S` must hold exactly the state (map and session table) of the agreed log
//! replayed to `S`; the incarnation's next slot is then `S + 1`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use riptide_control::kv::{KvStore, LogValue};

use super::{Check, show_value};
use crate::latency::Micros;

/// Who applied what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Application {
    pub replica: u8,
    /// 0 for the first run of the replica, +1 per restart.
    pub incarnation: u32,
    pub time_us: Micros,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgreementViolation {
    /// Two different values applied in `slot`.
    Divergence {
        slot: u64,
        first: Application,
        second: Application,
    },
    /// An incarnation applied `slot` when the next in order was `expected`.
    OutOfOrder {
        slot: u64,
        expected: u64,
        at: Application,
    },
    /// A snapshot of slots up to `slot` installed with a state other than
    /// the agreed log replayed to `slot` (`at.value` is the snapshot).
    SnapshotDiverges {
        slot: u64,
        at: Application,
        difference: String,
    },
}

impl fmt::Display for AgreementViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgreementViolation::Divergence {
                slot,
                first,
                second,
            } => write!(
                f,
                "slot {slot}: replica {}#{} applied {} at {} us, but replica {}#{} applied {} at {} us",
                first.replica,
                first.incarnation,
                show_value(&first.value),
                first.time_us,
                second.replica,
                second.incarnation,
                show_value(&second.value),
                second.time_us
            ),
            AgreementViolation::OutOfOrder { slot, expected, at } => write!(
                f,
                "replica {}#{} applied slot {slot} at {} us when slot {expected} was next",
                at.replica, at.incarnation, at.time_us
            ),
            AgreementViolation::SnapshotDiverges {
                slot,
                at,
                difference,
            } => write!(
                f,
                "replica {}#{} installed a snapshot of slots up to {slot} at {} us that is not \
                 the agreed log replayed to it: {difference}",
                at.replica, at.incarnation, at.time_us
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct AgreementChecker {
    /// The first application of each slot.
    applied: BTreeMap<u64, Application>,
    /// Next slot each (replica, incarnation) must apply.
    next: BTreeMap<(u8, u32), u64>,
    result: Option<AgreementViolation>,
}

impl AgreementChecker {
    pub fn new() -> AgreementChecker {
        AgreementChecker::default()
    }

    /// Records one `Output::Applied`; returns whether agreement still holds.
    pub fn applied(&mut self, slot: u64, at: Application) -> bool {
        if self.result.is_some() {
            return false;
        }
        let next = self.next.entry((at.replica, at.incarnation)).or_insert(1);
        if slot != *next {
            self.result = Some(AgreementViolation::OutOfOrder {
                slot,
                expected: *next,
                at,
            });
            return false;
        }
        *next += 1;
        match self.applied.get(&slot) {
            Some(first) if first.value != at.value => {
                self.result = Some(AgreementViolation::Divergence {
                    slot,
                    first: first.clone(),
                    second: at,
                });
                false
            }
            Some(_) => true,
            None => {
                self.applied.insert(slot, at);
                true
            }
        }
    }

    /// Records one `Output::Installed`: its state (`at.value`, the snapshot
    /// bytes) must be the agreed log replayed to `slot`. Returns whether
    /// agreement still holds.
    pub fn installed(&mut self, slot: u64, at: Application) -> bool {
        if self.result.is_some() {
            return false;
        }
        if let Some(difference) = self.snapshot_difference(slot, &at.value) {
            self.result = Some(AgreementViolation::SnapshotDiverges {
                slot,
                at,
                difference,
            });
            return false;
        }
        let next = self.next.entry((at.replica, at.incarnation)).or_insert(1);
        *next = (*next).max(slot + 1);
        true
    }

    /// How `snapshot` differs from the agreed log replayed to `slot`.
    fn snapshot_difference(&self, slot: u64, snapshot: &[u8]) -> Option<String> {
        let installed = match KvStore::from_snapshot(snapshot) {
            Ok(kv) => kv,
            Err(error) => return Some(format!("it does not decode: {error}")),
        };
        let mut agreed = KvStore::new();
        for s in 1..=slot {
            let Some(first) = self.applied.get(&s) else {
                return Some(format!("slot {s} was never applied by anyone"));
            };
            if let Ok(value) = LogValue::decode(&first.value) {
                agreed.apply(&value);
            }
        }
        if installed.data() != agreed.data() {
            return Some(format!(
                "its map has {} keys, the agreed one {} (or other values)",
                installed.data().len(),
                agreed.data().len()
            ));
        }
        (installed != agreed).then(|| {
            format!(
                "its session table differs: {} clients, the agreed one {}",
                installed.sessions(),
                agreed.sessions()
            )
        })
    }

    /// The applied log: each slot with the value first applied there.
    pub fn log(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.applied
            .iter()
            .map(|(slot, a)| (*slot, a.value.as_slice()))
    }

    /// Highest slot applied by anyone.
    pub fn highest_applied(&self) -> u64 {
        self.applied.keys().next_back().copied().unwrap_or(0)
    }

    pub fn result(&self) -> Check<AgreementViolation> {
        match &self.result {
            None => Check::Passed,
            Some(v) => Check::Failed(v.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(replica: u8, incarnation: u32, value: &str) -> Application {
        Application {
            replica,
            incarnation,
            time_us: 10,
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn same_values_in_order_across_incarnations_pass() {
        let mut checker = AgreementChecker::new();
        assert!(checker.applied(1, at(0, 0, "a")));
        assert!(checker.applied(1, at(1, 0, "a")));
        assert!(checker.applied(2, at(0, 0, "b")));
        assert!(checker.applied(1, at(0, 1, "a")));
        assert!(checker.result().passed());
        assert_eq!(checker.highest_applied(), 2);
    }

    #[test]
    fn divergence_names_slot_replicas_and_values() {
        let mut checker = AgreementChecker::new();
        checker.applied(1, at(0, 0, "a"));
        checker.applied(1, at(2, 1, "z"));
        let text = checker.result().to_string();
        assert!(
            text.contains("slot 1") && text.contains("replica 2#1"),
            "{text}"
        );
        assert!(text.contains("\"a\"") && text.contains("\"z\""), "{text}");
    }

    fn put(client: u64, key: &str) -> Vec<u8> {
        LogValue::Request {
            client,
            request: 1,
            command: riptide_control::kv::Command::Put {
                key: key.into(),
                value: "v".into(),
            },
        }
        .encode()
    }

    fn applied_with(value: Vec<u8>) -> Application {
        Application {
            replica: 0,
            incarnation: 0,
            time_us: 10,
            value,
        }
    }

    #[test]
    fn a_snapshot_must_be_the_agreed_log_replayed() {
        let mut checker = AgreementChecker::new();
        checker.applied(1, applied_with(put(1, "a")));
        checker.applied(2, applied_with(put(2, "b")));
        let mut agreed = KvStore::new();
        agreed.apply(&LogValue::decode(&put(1, "a")).unwrap());
        let installed = |state: Vec<u8>| Application {
            replica: 1,
            incarnation: 0,
            time_us: 20,
            value: state,
        };
        assert!(checker.installed(1, installed(agreed.snapshot())));
        // Replica 1's next application is slot 2, not slot 1.
        let mut next = installed(put(2, "b"));
        next.time_us = 30;
        assert!(checker.applied(2, next));
        let mut checker = AgreementChecker::new();
        checker.applied(1, applied_with(put(1, "a")));
        assert!(!checker.installed(1, installed(agreed.snapshot_without_sessions())));
        let text = checker.result().to_string();
        assert!(text.contains("session table differs"), "{text}");
    }

    #[test]
    fn gaps_and_repeats_are_out_of_order() {
        let mut checker = AgreementChecker::new();
        assert!(!checker.applied(2, at(0, 0, "a")));
        let mut checker = AgreementChecker::new();
        checker.applied(1, at(0, 0, "a"));
        assert!(!checker.applied(1, at(0, 0, "a")));
        assert!(matches!(
            checker.result(),
            Check::Failed(AgreementViolation::OutOfOrder { expected: 2, .. })
        ));
    }
}
