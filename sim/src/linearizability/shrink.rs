//! Shrinking a key that is not linearizable to a few operations that show why.
//!
//! Deleting a completed operation can itself break linearizability (a read
//! then sees a value nobody wrote), so shrinking *relaxes* operations instead:
//! a relaxed operation keeps its call but its outcome is forgotten, so it may
//! take effect at any time after its call, or never. Relaxing only removes
//! constraints, so whatever still fails with some operations relaxed fails
//! for the completed operations that remain: they are the culprits.

use super::model::{ABSENT, KeyOp, ValueId};
use super::search::{Decision, Limits, search};

/// Completed operations of one key that cannot all have happened as recorded,
/// even with every other operation of the key relaxed.
#[derive(Debug, Clone)]
pub(super) struct Culprits {
    /// Indices into the key's operations, in call order.
    pub ops: Vec<usize>,
    /// Relaxing any one of them makes the key linearizable (checked).
    pub minimal: bool,
    /// The longest valid order found for them, as indices into the key's
    /// operations (relaxed ones among them included).
    pub longest_order: Vec<usize>,
    /// The key's value after that order.
    pub value_after: ValueId,
    pub states: u64,
}

/// Shrinks `ops`, which are known not to be linearizable, within `effort`
/// explored configurations in all.
pub(super) fn find_culprits(ops: &[KeyOp], limits: Limits, effort: u64) -> Culprits {
    let mut shrinker = Shrinker {
        ops,
        limits,
        effort_left: effort,
        states: 0,
    };
    let mut candidates: Vec<usize> = (0..ops.len()).filter(|&i| !ops[i].is_info()).collect();
    candidates.sort_by_key(|&i| (ops[i].call, i));
    let complete = shrinker.cut_suffix(&mut candidates) && shrinker.remove_chunks(&mut candidates);
    let (longest_order, value_after) = shrinker.longest_order(&candidates);
    Culprits {
        ops: candidates,
        minimal: complete,
        longest_order,
        value_after,
        states: shrinker.states,
    }
}

struct Shrinker<'a> {
    ops: &'a [KeyOp],
    limits: Limits,
    effort_left: u64,
    states: u64,
}

impl Shrinker<'_> {
    /// Relaxes the latest operations, as many as possible: a violation shows
    /// at some point in time, and later operations rarely matter. Returns
    /// false if it ran out of effort.
    fn cut_suffix(&mut self, candidates: &mut Vec<usize>) -> bool {
        // Invariant: keeping `candidates[..failing]` still fails.
        let (mut passing, mut failing) = (0, candidates.len());
        while failing - passing > 1 {
            let middle = (passing + failing) / 2;
            match self.still_fails(&candidates[..middle]) {
                Some(true) => failing = middle,
                Some(false) => passing = middle,
                None => return false,
            }
        }
        candidates.truncate(failing);
        true
    }

    /// Delta debugging: relaxes chunks of halving size while the rest still
    /// fails, until no single operation can be relaxed. Returns false if it
    /// ran out of effort before that was established.
    fn remove_chunks(&mut self, candidates: &mut Vec<usize>) -> bool {
        let mut chunk = (candidates.len() / 2).max(1);
        loop {
            let mut removed = false;
            let mut start = 0;
            while start < candidates.len() {
                let end = (start + chunk).min(candidates.len());
                let rest: Vec<usize> = [&candidates[..start], &candidates[end..]].concat();
                match self.still_fails(&rest) {
                    Some(true) => {
                        *candidates = rest;
                        removed = true;
                    }
                    Some(false) => start = end,
                    None => return false,
                }
            }
            if chunk == 1 && !removed {
                return true;
            }
            chunk = (chunk / 2).max(1);
        }
    }

    /// Whether the key still fails with only `kept` of its completed
    /// operations as recorded; `None` if that could not be decided.
    fn still_fails(&mut self, kept: &[usize]) -> Option<bool> {
        let (ops, _) = self.relax_all_but(kept);
        match self.search(&ops, false)?.decision {
            Decision::NotLinearizable => Some(true),
            Decision::Linearizable => Some(false),
            Decision::OutOfBudget => None,
        }
    }

    fn longest_order(&mut self, kept: &[usize]) -> (Vec<usize>, ValueId) {
        let (ops, origin) = self.relax_all_but(kept);
        let Some(result) = self.search(&ops, true) else {
            return (Vec::new(), ABSENT);
        };
        let value_after = result
            .longest
            .iter()
            .try_fold(ABSENT, |state, &op| ops[op].action.step(state))
            .unwrap_or(ABSENT);
        let order = result.longest.iter().map(|&op| origin[op]).collect();
        (order, value_after)
    }

    /// The key's operations with all completed ones but `kept` relaxed, and
    /// the index of each in the key's operations.
    fn relax_all_but(&self, kept: &[usize]) -> (Vec<KeyOp>, Vec<usize>) {
        let mut is_kept = vec![false; self.ops.len()];
        for &i in kept {
            is_kept[i] = true;
        }
        self.ops
            .iter()
            .enumerate()
            .filter_map(|(i, &op)| {
                let op = if is_kept[i] { Some(op) } else { op.relaxed() };
                op.map(|op| (op, i))
            })
            .unzip()
    }

    fn search(
        &mut self,
        ops: &[KeyOp],
        track_longest: bool,
    ) -> Option<super::search::SearchResult> {
        if self.effort_left == 0 {
            return None;
        }
        let limits = Limits {
            max_states: self.limits.max_states.min(self.effort_left),
            ..self.limits
        };
        let result = search(ops, limits, track_longest);
        self.states += result.states;
        self.effort_left = self.effort_left.saturating_sub(result.states);
        Some(result)
    }
}
