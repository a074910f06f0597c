//! The replicated log as one replica holds it, with the two rules that keep it
//! safe: an entry is replaced only by one of a ballot at least its own (a late
//! NIC record of an old ballot must not overwrite a newer value), and a chosen
//! entry is never replaced. Slots at or below `base` were compacted into a
//! snapshot (`docs/protocol.md`, "Snapshots and log compaction"): chosen,
//! applied, and no longer held.

use std::collections::BTreeMap;

use riptide_wire::{Ballot, Entry};

/// One slot of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The ballot the value was accepted (or learned) at.
    pub ballot: Ballot,
    /// The encoded [`crate::kv::LogValue`] (opaque bytes to the protocol).
    pub value: Vec<u8>,
    /// Whether this replica knows the value is chosen.
    pub chosen: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Log {
    entries: BTreeMap<u64, LogEntry>,
    /// Highest slot such that it and every slot below it is chosen and held
    /// (or compacted).
    commit: u64,
    /// Slots up to this one are in the snapshot and dropped; `base <= commit`.
    base: u64,
}

impl Log {
    pub(crate) fn commit(&self) -> u64 {
        self.commit
    }

    /// The last slot the snapshot covers: entries at or below it are gone.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Drop every entry up to `slot`, which the caller applied and
    /// snapshotted (`slot <= commit`).
    pub(crate) fn compact(&mut self, slot: u64) {
        debug_assert!(slot <= self.commit, "compacting past commit");
        self.drop_through(slot);
    }

    /// A snapshot of every slot up to `slot` was installed: those slots are
    /// chosen and gone; entries above are kept.
    pub(crate) fn install(&mut self, slot: u64) {
        self.drop_through(slot);
        self.commit = self.commit.max(slot);
        self.advance_commit();
    }

    fn drop_through(&mut self, slot: u64) {
        if slot <= self.base {
            return;
        }
        self.entries = self.entries.split_off(&(slot + 1));
        self.base = slot;
    }

    pub(crate) fn get(&self, slot: u64) -> Option<&LogEntry> {
        self.entries.get(&slot)
    }

    /// The highest slot held, or the base if none is held above it.
    pub(crate) fn last_slot(&self) -> u64 {
        self.entries
            .last_key_value()
            .map_or(self.base, |(&slot, _)| slot)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &LogEntry)> {
        self.entries.iter().map(|(&slot, entry)| (slot, entry))
    }

    /// Entries in slots above `slot`, in slot order, as wire entries.
    pub(crate) fn entries_above(&self, slot: u64) -> Vec<Entry> {
        self.entries
            .range(slot.saturating_add(1)..)
            .map(|(&slot, entry)| Entry {
                slot,
                ballot: entry.ballot,
                value: entry.value.clone(),
            })
            .collect()
    }

    /// Store an accepted value under the ballot rule. Slot 0 does not exist.
    pub(crate) fn store(&mut self, slot: u64, ballot: Ballot, value: Vec<u8>) {
        if slot <= self.base {
            return;
        }
        match self.entries.get_mut(&slot) {
            Some(held) if held.chosen || held.ballot > ballot => {}
            Some(held) => {
                held.ballot = ballot;
                held.value = value;
            }
            None => {
                self.entries.insert(
                    slot,
                    LogEntry {
                        ballot,
                        value,
                        chosen: false,
                    },
                );
            }
        }
    }

    /// Store a value known to be chosen (catch-up). A chosen entry already held
    /// is kept: both are the one chosen value.
    pub(crate) fn store_chosen(&mut self, slot: u64, ballot: Ballot, value: Vec<u8>) {
        if slot <= self.base {
            return;
        }
        let entry = self.entries.entry(slot).or_insert(LogEntry {
            ballot,
            value: Vec::new(),
            chosen: false,
        });
        if !entry.chosen {
            *entry = LogEntry {
                ballot,
                value,
                chosen: true,
            };
        }
        self.advance_commit();
    }

    /// Mark chosen every entry held at `ballot` in a slot up to `upto`: the
    /// leader of a ballot proposes one value per slot, so the value it reports
    /// chosen there is the one we hold at that ballot. (`None`, whatever
    /// ballot, is only the planted bug `Variant::CommitAcrossBallots`.)
    pub(crate) fn mark_chosen(&mut self, ballot: Option<Ballot>, upto: u64) {
        if upto <= self.commit {
            return;
        }
        for entry in self
            .entries
            .range_mut(self.commit + 1..=upto)
            .map(|(_, e)| e)
        {
            if ballot.is_none_or(|b| entry.ballot == b) {
                entry.chosen = true;
            }
        }
        self.advance_commit();
    }

    fn advance_commit(&mut self) {
        while self
            .entries
            .get(&(self.commit + 1))
            .is_some_and(|entry| entry.chosen)
        {
            self.commit += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1: Ballot = Ballot::new(1, 0);
    const B2: Ballot = Ballot::new(2, 1);

    #[test]
    fn a_lower_ballot_never_overwrites_a_higher_one() {
        let mut log = Log::default();
        log.store(1, B2, b"new".to_vec());
        log.store(1, B1, b"old".to_vec());
        assert_eq!(log.get(1).unwrap().value, b"new");
        log.store(1, B2, b"same ballot".to_vec());
        assert_eq!(log.get(1).unwrap().value, b"same ballot");
    }

    #[test]
    fn chosen_entries_are_never_replaced() {
        let mut log = Log::default();
        log.store_chosen(1, B1, b"chosen".to_vec());
        log.store(1, B2, b"later".to_vec());
        log.store_chosen(1, B2, b"other".to_vec());
        let entry = log.get(1).unwrap();
        assert_eq!((entry.ballot, entry.value.as_slice()), (B1, &b"chosen"[..]));
        assert_eq!(log.commit(), 1);
    }

    #[test]
    fn commit_advances_over_contiguous_chosen_slots_only() {
        let mut log = Log::default();
        log.store(1, B1, vec![1]);
        log.store(2, B2, vec![2]);
        log.store(3, B1, vec![3]);
        log.mark_chosen(Some(B1), 3);
        // Slot 2 holds another ballot's value: not known chosen, commit stops.
        assert_eq!(log.commit(), 1);
        assert!(log.get(3).unwrap().chosen);
        // Catch-up brings the chosen value; it replaces the unchosen one.
        log.store_chosen(2, B1, vec![2]);
        assert_eq!(log.get(2).unwrap().ballot, B1);
        assert_eq!(log.commit(), 3);
    }

    #[test]
    fn slot_zero_does_not_exist() {
        let mut log = Log::default();
        log.store(0, B1, vec![]);
        log.store_chosen(0, B1, vec![]);
        assert_eq!(log.last_slot(), 0);
        assert_eq!(log.commit(), 0);
    }

    #[test]
    fn compaction_drops_the_snapshotted_slots_and_keeps_them_chosen() {
        let mut log = Log::default();
        for slot in 1..=4 {
            log.store(slot, B1, vec![slot as u8]);
        }
        log.mark_chosen(Some(B1), 3);
        log.compact(2);
        assert_eq!((log.base(), log.commit(), log.last_slot()), (2, 3, 4));
        assert!(log.get(2).is_none() && log.get(3).is_some());
        // A late record for a compacted slot changes nothing.
        log.store(1, B2, vec![9]);
        log.store_chosen(2, B2, vec![9]);
        assert!(log.get(1).is_none() && log.get(2).is_none());
        // An install past everything held moves commit and base with it.
        log.install(6);
        assert_eq!((log.base(), log.commit(), log.last_slot()), (6, 6, 6));
        assert_eq!(log.iter().count(), 0);
    }

    #[test]
    fn an_install_keeps_the_tail_above_it() {
        let mut log = Log::default();
        log.store(5, B1, vec![5]);
        log.store_chosen(6, B1, vec![6]);
        log.install(4);
        // Slot 5 is held but not known chosen: commit stops at the base.
        assert_eq!((log.base(), log.commit()), (4, 4));
        log.store_chosen(5, B1, vec![5]);
        assert_eq!(log.commit(), 6);
    }

    #[test]
    fn entries_above_lists_later_slots_in_order() {
        let mut log = Log::default();
        for slot in [3, 1, 2] {
            log.store(slot, B1, vec![slot as u8]);
        }
        let slots: Vec<u64> = log.entries_above(1).iter().map(|e| e.slot).collect();
        assert_eq!(slots, [2, 3]);
        assert_eq!(log.last_slot(), 3);
    }
}
