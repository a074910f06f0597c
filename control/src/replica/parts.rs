//! Answers too large for one datagram — a PROMISE or a RECOVERY_RESPONSE
//! reporting several values near the 16 KiB limit — go in parts. A part
//! reports every entry its sender holds in a slot range `(from, upto]`;
//! the last part's `upto` is [`ALL_ABOVE`]. The receiver keeps the parts of
//! one answer and counts the answer once they cover every slot above the
//! first `from` (`docs/protocol.md`, "Answers in parts").

use std::collections::BTreeMap;

use riptide_wire::Entry;

use super::entries_fit;

/// The `upto` of an answer's last part: every slot above its `from`.
pub(super) const ALL_ABOVE: u64 = u64::MAX;

/// Every entry of its sender in slots `(from, upto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    pub(super) from: u64,
    pub(super) upto: u64,
    pub(super) entries: Vec<Entry>,
}

/// `entries` (every entry above `from`, in slot order) cut into parts that
/// each fit a datagram; `None` if one entry alone does not (a value larger
/// than any client can write: withholding the answer is safe, the asker
/// only lacks it).
pub(super) fn split(from: u64, entries: Vec<Entry>) -> Option<Vec<Part>> {
    let mut parts = vec![Part {
        from,
        upto: ALL_ABOVE,
        entries: Vec::new(),
    }];
    for entry in entries {
        let last = parts.last_mut()?;
        last.entries.push(entry);
        if entries_fit(&last.entries) {
            continue;
        }
        let overflow = last.entries.pop()?;
        let upto = last.entries.last()?.slot;
        last.upto = upto;
        parts.push(Part {
            from: upto,
            upto: ALL_ABOVE,
            entries: vec![overflow],
        });
    }
    parts
        .iter()
        .all(|part| entries_fit(&part.entries))
        .then_some(parts)
}

/// The parts of one answer received so far (any order, repeats ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assembly {
    /// The first part's `from`: the answer reports every slot above it.
    start: u64,
    /// `from -> upto` of the parts held.
    ranges: BTreeMap<u64, u64>,
    entries: Vec<Entry>,
}

impl Assembly {
    pub(super) fn new(start: u64) -> Assembly {
        Assembly {
            start,
            ranges: BTreeMap::new(),
            entries: Vec::new(),
        }
    }

    /// Keeps `part` if it is one of this answer's: a range above the
    /// start, holding only entries inside it. Returns whether it was.
    pub(super) fn add(&mut self, part: Part) -> bool {
        let inside = part
            .entries
            .iter()
            .all(|entry| entry.slot > part.from && entry.slot <= part.upto);
        if part.from < self.start || part.upto <= part.from || !inside {
            return false;
        }
        if self.ranges.insert(part.from, part.upto).is_none() {
            self.entries.extend(part.entries);
        }
        true
    }

    /// The entries, once the parts held chain from the start to
    /// [`ALL_ABOVE`].
    pub(super) fn complete(&self) -> Option<&[Entry]> {
        let mut at = self.start;
        while let Some(&upto) = self.ranges.get(&at) {
            if upto == ALL_ABOVE {
                return Some(&self.entries);
            }
            at = upto;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use riptide_wire::Ballot;
    use riptide_wire::layout::MAX_PAYLOAD;

    use super::*;

    fn entry(slot: u64, len: usize) -> Entry {
        Entry {
            slot,
            ballot: Ballot::new(1, 0),
            value: vec![slot as u8; len],
        }
    }

    #[test]
    fn values_at_the_limit_are_split_into_parts_that_fit_and_chain() {
        let entries: Vec<Entry> = (11..=40).map(|slot| entry(slot, 16 * 1024)).collect();
        let parts = split(10, entries.clone()).expect("every entry fits alone");
        assert!(parts.len() >= 8, "{} parts", parts.len());
        assert!(parts.iter().all(|part| entries_fit(&part.entries)));
        // Received backwards and twice, they assemble to the whole answer.
        let mut assembly = Assembly::new(10);
        for part in parts.iter().rev().chain(&parts) {
            assert!(assembly.add(part.clone()));
        }
        let mut got = assembly.complete().expect("complete").to_vec();
        got.sort_by_key(|entry| entry.slot);
        assert_eq!(got, entries);
    }

    #[test]
    fn an_answer_is_incomplete_while_a_part_is_missing_and_foreign_parts_are_refused() {
        let entries: Vec<Entry> = (1..=12).map(|slot| entry(slot, 16 * 1024)).collect();
        let parts = split(0, entries).expect("fits");
        let mut assembly = Assembly::new(0);
        for part in parts.iter().filter(|part| part.from != parts[1].from) {
            assembly.add(part.clone());
        }
        assert!(assembly.complete().is_none());
        let mut outside = parts[1].clone();
        outside.entries.push(entry(outside.upto + 1, 1));
        assert!(!assembly.add(outside), "an entry outside its range");
        assert!(
            !Assembly::new(5).add(parts[0].clone()),
            "a part below the start"
        );
        assembly.add(parts[1].clone());
        assert!(assembly.complete().is_some());
    }

    #[test]
    fn an_empty_answer_is_one_part_and_an_entry_too_large_alone_withholds_it() {
        assert_eq!(
            split(7, Vec::new()),
            Some(vec![Part {
                from: 7,
                upto: ALL_ABOVE,
                entries: Vec::new()
            }])
        );
        assert_eq!(split(0, vec![entry(1, MAX_PAYLOAD)]), None);
    }
}
