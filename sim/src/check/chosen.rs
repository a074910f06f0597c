//! The chosen-value invariant, checked periodically from the replicas' logs:
//! once a majority holds the same (ballot, value) in a slot, that value is
//! chosen, and no other value may ever be chosen there, applied there, or
//! marked chosen in any replica's log. Every piece of evidence about a slot
//! (a quorum, an application, a log entry marked chosen) must name the same
//! value as the first one seen, whichever incarnation it comes from.
//!
//! Only acceptances count toward a majority: the entries a restarted replica
//! copied from the others while recovering are not (it remembers them so as
//! not to lose a value that may be chosen, but it never voted for them in this
//! life, and an unchosen copy would otherwise look like a second vote).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::{Check, show_value};
use crate::latency::Micros;

/// One log entry of one live replica, as `Replica::entries()` shows it.
#[derive(Debug, Clone, Copy)]
pub struct HeldEntry<'a> {
    pub replica: u8,
    pub slot: u64,
    pub ballot: u64,
    pub value: &'a [u8],
    /// The replica knows the entry is chosen.
    pub chosen: bool,
    /// Copied from others during recovery rather than accepted.
    pub copied: bool,
}

/// Why the checker believes a value is the one in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Evidence {
    /// A majority held (ballot, value) at `time_us`.
    Quorum {
        ballot: u64,
        replicas: Vec<u8>,
        value: Vec<u8>,
        time_us: Micros,
    },
    /// Replica `replica` applied the value.
    Applied {
        replica: u8,
        value: Vec<u8>,
        time_us: Micros,
    },
    /// Replica `replica`'s log marked the value chosen.
    MarkedChosen {
        replica: u8,
        ballot: u64,
        value: Vec<u8>,
        time_us: Micros,
    },
}

impl Evidence {
    fn value(&self) -> &[u8] {
        match self {
            Evidence::Quorum { value, .. }
            | Evidence::Applied { value, .. }
            | Evidence::MarkedChosen { value, .. } => value,
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Quorum {
                ballot,
                replicas,
                value,
                time_us,
            } => write!(
                f,
                "{} held at ballot {ballot:#x} by replicas {replicas:?} (a majority) at {time_us} us",
                show_value(value)
            ),
            Evidence::Applied {
                replica,
                value,
                time_us,
            } => write!(
                f,
                "{} applied by replica {replica} at {time_us} us",
                show_value(value)
            ),
            Evidence::MarkedChosen {
                replica,
                ballot,
                value,
                time_us,
            } => write!(
                f,
                "{} (ballot {ballot:#x}) marked chosen in replica {replica}'s log at {time_us} us",
                show_value(value)
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenViolation {
    pub slot: u64,
    pub first: Evidence,
    pub second: Evidence,
}

impl fmt::Display for ChosenViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "slot {}: {}; but then {}",
            self.slot, self.first, self.second
        )
    }
}

#[derive(Debug)]
pub struct ChosenChecker {
    quorum: usize,
    /// The first evidence about each slot.
    settled: BTreeMap<u64, Evidence>,
    /// Slots where a quorum was seen for the settled value.
    quorum_seen: BTreeSet<u64>,
    /// Per replica: every slot up to this one was chosen in its log at an
    /// earlier look. A log never replaces a chosen entry, so until the
    /// replica restarts those entries need no second look: without this,
    /// every look rescans whole logs and a long run is quadratic.
    examined: BTreeMap<u8, u64>,
    result: Option<ChosenViolation>,
}

impl ChosenChecker {
    pub fn new(replicas: u8) -> ChosenChecker {
        ChosenChecker {
            quorum: usize::from(replicas) / 2 + 1,
            settled: BTreeMap::new(),
            quorum_seen: BTreeSet::new(),
            examined: BTreeMap::new(),
            result: None,
        }
    }

    /// `replica` restarted with an empty log: everything it holds from now
    /// on is new.
    pub fn restarted(&mut self, replica: u8) {
        self.examined.remove(&replica);
    }

    /// Looks at every live replica's log at `now`; returns whether the
    /// invariant still holds.
    pub fn logs<'a>(
        &mut self,
        now: Micros,
        entries: impl IntoIterator<Item = HeldEntry<'a>>,
    ) -> bool {
        let mut holders: BTreeMap<(u64, u64, &[u8]), Vec<u8>> = BTreeMap::new();
        for entry in entries {
            // Each replica's entries come in slot order, so the watermark
            // only ever moves past entries this look has already seen.
            let done = self.examined.entry(entry.replica).or_default();
            if entry.slot <= *done {
                continue;
            }
            if entry.chosen && entry.slot == *done + 1 {
                *done = entry.slot;
            }
            if entry.chosen {
                self.settle(
                    entry.slot,
                    Evidence::MarkedChosen {
                        replica: entry.replica,
                        ballot: entry.ballot,
                        value: entry.value.to_vec(),
                        time_us: now,
                    },
                );
            }
            // Where a quorum was seen, only a different value can break the
            // invariant, and in a correct run there is none to count.
            let settled_here = self.quorum_seen.contains(&entry.slot)
                && self.settled.get(&entry.slot).map(Evidence::value) == Some(entry.value);
            if !settled_here && !entry.copied {
                holders
                    .entry((entry.slot, entry.ballot, entry.value))
                    .or_default()
                    .push(entry.replica);
            }
        }
        for ((slot, ballot, value), mut replicas) in holders {
            if replicas.len() >= self.quorum {
                replicas.sort_unstable();
                if self
                    .settled
                    .get(&slot)
                    .is_none_or(|first| first.value() == value)
                {
                    self.quorum_seen.insert(slot);
                }
                self.settle(
                    slot,
                    Evidence::Quorum {
                        ballot,
                        replicas,
                        value: value.to_vec(),
                        time_us: now,
                    },
                );
            }
        }
        self.result.is_none()
    }

    /// Records one `Output::Applied`.
    pub fn applied(&mut self, now: Micros, replica: u8, slot: u64, value: &[u8]) -> bool {
        self.settle(
            slot,
            Evidence::Applied {
                replica,
                value: value.to_vec(),
                time_us: now,
            },
        );
        self.result.is_none()
    }

    fn settle(&mut self, slot: u64, evidence: Evidence) {
        if self.result.is_some() {
            return;
        }
        match self.settled.get(&slot) {
            None => {
                self.settled.insert(slot, evidence);
            }
            Some(first) if first.value() != evidence.value() => {
                self.result = Some(ChosenViolation {
                    slot,
                    first: first.clone(),
                    second: evidence,
                });
            }
            Some(_) => {}
        }
    }

    pub fn result(&self) -> Check<ChosenViolation> {
        match &self.result {
            None => Check::Passed,
            Some(v) => Check::Failed(v.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(replica: u8, slot: u64, ballot: u64, value: &[u8], chosen: bool) -> HeldEntry<'_> {
        HeldEntry {
            replica,
            slot,
            ballot,
            value,
            chosen,
            copied: false,
        }
    }

    #[test]
    fn copies_made_during_recovery_are_not_votes() {
        let mut checker = ChosenChecker::new(3);
        let copy = HeldEntry {
            copied: true,
            ..held(2, 7, 0x100, b"old", false)
        };
        assert!(checker.logs(1, [held(0, 7, 0x100, b"old", false), copy]));
        assert!(checker.applied(2, 1, 7, b"new"));
        assert!(checker.logs(
            3,
            [
                held(1, 7, 0x202, b"new", false),
                held(2, 7, 0x202, b"new", false)
            ]
        ));
    }

    #[test]
    fn a_minority_value_may_be_replaced_but_a_quorum_value_may_not() {
        let mut checker = ChosenChecker::new(3);
        assert!(checker.logs(1, [held(0, 1, 0x100, b"x", false)]));
        assert!(checker.logs(
            2,
            [
                held(1, 1, 0x201, b"y", false),
                held(2, 1, 0x201, b"y", false)
            ]
        ));
        assert!(checker.applied(3, 0, 1, b"y"));
        assert!(!checker.applied(4, 1, 1, b"x"));
        let text = checker.result().to_string();
        assert!(text.contains("slot 1") && text.contains("[1, 2]"), "{text}");
    }

    #[test]
    fn two_quorums_for_different_values_are_a_violation() {
        let mut checker = ChosenChecker::new(3);
        assert!(checker.logs(
            1,
            [
                held(0, 4, 0x100, b"a", false),
                held(1, 4, 0x100, b"a", false)
            ]
        ));
        assert!(!checker.logs(
            9,
            [
                held(1, 4, 0x201, b"b", false),
                held(2, 4, 0x201, b"b", false)
            ]
        ));
    }

    #[test]
    fn a_restarted_replica_is_looked_at_again_from_its_first_slot() {
        let mut checker = ChosenChecker::new(3);
        assert!(checker.logs(1, [held(2, 1, 0x100, b"a", true)]));
        // Chosen entries of this life are looked at once ...
        assert!(checker.logs(2, [held(2, 1, 0x100, b"a", true)]));
        // ... but a new life's log is new evidence.
        checker.restarted(2);
        assert!(!checker.logs(3, [held(2, 1, 0x200, b"b", true)]));
    }

    #[test]
    fn logs_must_agree_on_what_is_marked_chosen() {
        let mut checker = ChosenChecker::new(5);
        assert!(checker.logs(1, [held(0, 2, 0x100, b"a", true)]));
        assert!(checker.logs(2, [held(3, 2, 0x100, b"a", true)]));
        assert!(!checker.logs(3, [held(4, 2, 0x300, b"c", true)]));
        assert!(matches!(
            checker.result().violation(),
            Some(ChosenViolation {
                second: Evidence::MarkedChosen { replica: 4, .. },
                ..
            })
        ));
    }
}
