//! Which recorded results can still come true. A completed get of `v`, or a
//! completed cas that swapped from `v`, needs the key to hold `v` when it
//! takes effect. Once `v` is neither the current value nor written by any
//! operation still to take effect, that need is stranded and no order of the
//! remaining operations is valid: the search backtracks at once instead of
//! trying every order of the operations concurrent with the stranded one.

use super::model::{Action, KeyOp, ValueId};

#[derive(Debug)]
pub(super) struct Supply {
    /// Per value: operations still to take effect that need it.
    needs: Vec<u32>,
    /// Per value: operations still to take effect that may write it.
    writers: Vec<u32>,
    /// Needs of values that are not current and that nothing left writes.
    stranded: u64,
}

impl Supply {
    /// The supply before any of `ops` took effect, the key holding `state`.
    pub(super) fn new(ops: &[KeyOp], state: ValueId) -> Supply {
        let values = ops
            .iter()
            .flat_map(|op| op.action.values())
            .chain([state])
            .max()
            .map_or(0, |max| max as usize + 1);
        let mut supply = Supply {
            needs: vec![0; values],
            writers: vec![0; values],
            stranded: 0,
        };
        for op in ops {
            if let Some(value) = need(op) {
                supply.needs[value as usize] += 1;
            }
            if let Some(value) = write(op) {
                supply.writers[value as usize] += 1;
            }
        }
        supply.stranded = (0..values)
            .map(|value| {
                let not_current = value as ValueId != state;
                stranded_needs(supply.needs[value], supply.writers[value], not_current)
            })
            .sum();
        supply
    }

    pub(super) fn is_dead(&self) -> bool {
        self.stranded > 0
    }

    /// Whether `op` taking effect, changing the value from `from` to `to`,
    /// would strand some need.
    pub(super) fn strands(&self, op: &KeyOp, from: ValueId, to: ValueId) -> bool {
        self.stranded_after(op, from, to, Change::Take) > 0
    }

    /// `op` took effect, changing the value from `from` to `to`.
    pub(super) fn take(&mut self, op: &KeyOp, from: ValueId, to: ValueId) {
        self.apply(op, from, to, Change::Take);
    }

    /// `op` is taken back, changing the value from `from` back to `to`.
    pub(super) fn give_back(&mut self, op: &KeyOp, from: ValueId, to: ValueId) {
        self.apply(op, from, to, Change::GiveBack);
    }

    fn apply(&mut self, op: &KeyOp, from: ValueId, to: ValueId, change: Change) {
        self.stranded = self.stranded_after(op, from, to, change);
        for (value, counts) in [(need(op), &mut self.needs), (write(op), &mut self.writers)] {
            if let Some(value) = value {
                let count = &mut counts[value as usize];
                *count = change.applied(*count);
            }
        }
    }

    /// The stranded needs after `change` of `op`, the value moving from
    /// `from` to `to`: only the terms of the values involved change.
    fn stranded_after(&self, op: &KeyOp, from: ValueId, to: ValueId, change: Change) -> u64 {
        let (needed, written) = (need(op), write(op));
        let involved = [needed, written, Some(from), Some(to)];
        let mut stranded = self.stranded;
        for (i, value) in involved.into_iter().enumerate() {
            let Some(value) = value else { continue };
            if involved[..i].contains(&Some(value)) {
                continue;
            }
            let index = value as usize;
            let counted = |hit: Option<ValueId>, count: u32| {
                if hit == Some(value) {
                    change.applied(count)
                } else {
                    count
                }
            };
            let (needs, writers) = (self.needs[index], self.writers[index]);
            let before = stranded_needs(needs, writers, value != from);
            let after = stranded_needs(
                counted(needed, needs),
                counted(written, writers),
                value != to,
            );
            stranded = stranded - before + after;
        }
        stranded
    }
}

/// The needs of a value that are stranded: none while it is current or
/// something may still write it.
fn stranded_needs(needs: u32, writers: u32, not_current: bool) -> u64 {
    if writers == 0 && not_current {
        u64::from(needs)
    } else {
        0
    }
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Take,
    GiveBack,
}

impl Change {
    fn applied(self, count: u32) -> u32 {
        match self {
            Change::Take => count - 1,
            Change::GiveBack => count + 1,
        }
    }
}

/// The value a completed `op` needs the key to hold when it takes effect.
fn need(op: &KeyOp) -> Option<ValueId> {
    if op.is_info() {
        return None;
    }
    match op.action {
        Action::Read(value) => Some(value),
        Action::Cas {
            expected,
            swapped: Some(true),
            ..
        } => Some(expected),
        _ => None,
    }
}

/// The value `op` may write.
fn write(op: &KeyOp) -> Option<ValueId> {
    match op.action {
        Action::Read(_)
        | Action::Cas {
            swapped: Some(false),
            ..
        } => None,
        Action::Write(value) | Action::Cas { new: value, .. } => Some(value),
    }
}
