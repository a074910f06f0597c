//! The model's counters: the register map's [`Counter`]s, as the RTL exposes
//! them (but 64-bit and never wrapping, so tests can compare exactly).

use std::collections::BTreeMap;

use riptide_wire::regs::Counter;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    counts: BTreeMap<Counter, u64>,
}

impl Counters {
    pub fn get(&self, counter: Counter) -> u64 {
        self.counts.get(&counter).copied().unwrap_or(0)
    }

    /// The counter named `name` (as in `docs/registers.md`), 0 if none is.
    pub fn by_name(&self, name: &str) -> u64 {
        Counter::ALL
            .iter()
            .find(|counter| counter.name() == name)
            .map_or(0, |&counter| self.get(counter))
    }

    /// The non-zero counters, in register order.
    pub fn iter(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        self.counts
            .iter()
            .map(|(&counter, &count)| (counter, count))
    }

    pub(crate) fn bump(&mut self, counter: Counter) {
        self.add(counter, 1);
    }

    pub(crate) fn add(&mut self, counter: Counter, n: u64) {
        *self.counts.entry(counter).or_insert(0) += n;
    }
}
