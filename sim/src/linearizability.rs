//! Linearizability checking of KV histories (Wing–Gong search with memoization, partitioned per key).
//!
//! The sequential specification is a map from keys to optional strings: get
//! returns the value, put sets it, delete removes it, and cas(expected, new)
//! sets `new` if the value equals `expected` (absent included) and returns
//! whether it did. Keys are independent, so a history is linearizable if and
//! only if each key's sub-history is (P-compositionality): each key is
//! searched on its own, which keeps the search small.
//!
//! `fail` operations did not happen and are left out. `info` operations (the
//! client never learned the outcome) may take effect at any time after their
//! call, or never; their output is unknown. The search for one key gives up
//! after a budget of explored states, and the verdict is then
//! [`Outcome::Unknown`] rather than a hang.
//!
//! When a key fails, [`Explanation`] shrinks it to a few completed operations
//! that cannot all have happened as recorded (see `shrink`).

mod model;
mod search;
mod shrink;
mod supply;
pub mod synthetic;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::history::{Completion, History, OpKind, Operation};
use model::KeyHistory;
use search::{Decision, Limits, search};

/// Limits that keep the search from going exponential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// States one key's search may explore before that key is `Unknown`.
    pub max_states_per_key: u64,
    /// Memory one key's search may hold (bytes, an estimate) before that key is `Unknown`.
    pub max_cache_bytes_per_key: u64,
    /// States the shrinking of a failing key may explore, all attempts together.
    pub max_explain_states: u64,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            max_states_per_key: 2_000_000,
            max_cache_bytes_per_key: 512 << 20,
            max_explain_states: 2_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Linearizable,
    NotLinearizable,
    /// The search ran out of budget before deciding.
    Unknown,
}

impl Outcome {
    fn of(decision: Decision) -> Outcome {
        match decision {
            Decision::Linearizable => Outcome::Linearizable,
            Decision::NotLinearizable => Outcome::NotLinearizable,
            Decision::OutOfBudget => Outcome::Unknown,
        }
    }
}

/// What the checker found for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    pub key: String,
    pub outcome: Outcome,
    pub ok: usize,
    pub info: usize,
    pub fail: usize,
    pub states: u64,
}

/// The checker's answer for a whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `NotLinearizable` if any key is, else `Unknown` if any key is, else `Linearizable`.
    pub outcome: Outcome,
    /// Whether the history was proven linearizable (`outcome == Linearizable`).
    pub linearizable: bool,
    /// Every key of the history, in key order.
    pub keys: Vec<KeyReport>,
    /// States explored by the search over all keys (shrinking not included).
    pub states_explored: u64,
    /// Why the first failing key (in key order) fails.
    pub explanation: Option<Explanation>,
}

impl Verdict {
    fn keys_with(&self, outcome: Outcome) -> impl Iterator<Item = &KeyReport> {
        self.keys.iter().filter(move |key| key.outcome == outcome)
    }
}

/// Completed operations of one key that cannot all have happened as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub key: String,
    /// The culprits, in call order. They fail even if every other operation of
    /// the key took effect at any time after its call, or not at all.
    pub operations: Vec<ExplainedOp>,
    /// Whether it was checked that treating any one culprit as of unknown
    /// outcome makes the key linearizable; false if shrinking ran out of effort.
    pub minimal: bool,
    /// The longest valid order of operations the search found for them.
    pub longest_order: Vec<ExplainedOp>,
    /// The key's value after `longest_order` (`None`: absent).
    pub value_after_longest_order: Option<String>,
    /// States explored while shrinking.
    pub states: u64,
}

/// An operation of the history, named by its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedOp {
    /// 1-based position in the history: the line number in a file without blank lines.
    pub position: usize,
    /// Whether it is taken as of unknown outcome here (recorded `info`, or
    /// relaxed while shrinking).
    pub unknown_outcome: bool,
    pub operation: Operation,
}

/// Checks `history` with the default limits.
pub fn check(history: &History) -> Verdict {
    check_with(history, &CheckOptions::default())
}

/// Checks `history` against the sequential KV specification. Assumes a valid
/// history, as [`crate::history::read_jsonl`] and the recorder produce; an
/// output that does not fit its operation is taken as unknown.
pub fn check_with(history: &History, options: &CheckOptions) -> Verdict {
    let mut keys: BTreeMap<&str, KeyHistory> = BTreeMap::new();
    for (index, op) in history.ops.iter().enumerate() {
        keys.entry(&op.key).or_default().add(index, op);
    }
    let limits = Limits {
        max_states: options.max_states_per_key,
        max_cache_bytes: options.max_cache_bytes_per_key,
    };
    let reports: Vec<KeyReport> = keys
        .iter()
        .map(|(&key, key_history)| {
            let result = search(&key_history.ops, limits, false);
            KeyReport {
                key: key.to_owned(),
                outcome: Outcome::of(result.decision),
                ok: key_history.ok,
                info: key_history.info,
                fail: key_history.fail,
                states: result.states,
            }
        })
        .collect();
    let outcome = [Outcome::NotLinearizable, Outcome::Unknown]
        .into_iter()
        .find(|&outcome| reports.iter().any(|key| key.outcome == outcome))
        .unwrap_or(Outcome::Linearizable);
    let explanation = reports
        .iter()
        .find(|report| report.outcome == Outcome::NotLinearizable)
        .map(|report| {
            explain(
                history,
                &report.key,
                &keys[report.key.as_str()],
                limits,
                options,
            )
        });
    Verdict {
        outcome,
        linearizable: outcome == Outcome::Linearizable,
        states_explored: reports.iter().map(|key| key.states).sum(),
        keys: reports,
        explanation,
    }
}

fn explain(
    history: &History,
    key: &str,
    key_history: &KeyHistory,
    limits: Limits,
    options: &CheckOptions,
) -> Explanation {
    let culprits = shrink::find_culprits(&key_history.ops, limits, options.max_explain_states);
    let explained = |index: usize| {
        let source = key_history.ops[index].source;
        let operation = history.ops[source].clone();
        ExplainedOp {
            position: source + 1,
            unknown_outcome: operation.status == Completion::Info || !culprits.ops.contains(&index),
            operation,
        }
    };
    Explanation {
        key: key.to_owned(),
        operations: culprits.ops.iter().map(|&index| explained(index)).collect(),
        minimal: culprits.minimal,
        longest_order: culprits
            .longest_order
            .iter()
            .map(|&index| explained(index))
            .collect(),
        value_after_longest_order: key_history.value(culprits.value_after).map(str::to_owned),
        states: culprits.states,
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ok, info, fail) = self.keys.iter().fold((0, 0, 0), |(ok, info, fail), key| {
            (ok + key.ok, info + key.info, fail + key.fail)
        });
        let summary = format!(
            "{} ({ok} ok, {info} info, {fail} fail) on {}; {} search states",
            counted(ok + info + fail, "operation"),
            counted(self.keys.len(), "key"),
            self.states_explored
        );
        match self.outcome {
            Outcome::Linearizable => writeln!(f, "linearizable: {summary}"),
            Outcome::Unknown => {
                writeln!(f, "unknown: {summary}")?;
                writeln!(
                    f,
                    "The search ran out of budget on {}; every other key is linearizable.",
                    key_list(self.keys_with(Outcome::Unknown))
                )
            }
            Outcome::NotLinearizable => {
                writeln!(f, "NOT linearizable: {summary}")?;
                writeln!(
                    f,
                    "Not linearizable: {}.",
                    key_list(self.keys_with(Outcome::NotLinearizable))
                )?;
                if self.keys_with(Outcome::Unknown).next().is_some() {
                    writeln!(
                        f,
                        "Out of search budget: {}.",
                        key_list(self.keys_with(Outcome::Unknown))
                    )?;
                }
                match &self.explanation {
                    Some(explanation) => write!(f, "\n{explanation}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// "1 key", "2 keys".
fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        count => format!("{count} {noun}s"),
    }
}

/// "key \"a\"" or "3 keys: \"a\", \"b\", \"c\"", at most ten named.
fn key_list<'a>(keys: impl Iterator<Item = &'a KeyReport>) -> String {
    const SHOWN: usize = 10;
    let names: Vec<String> = keys.map(|key| format!("{:?}", key.key)).collect();
    let shown = names[..names.len().min(SHOWN)].join(", ");
    match names.len() {
        1 => format!("key {shown}"),
        count if count > SHOWN => format!("{count} keys: {shown}, ..."),
        count => format!("{count} keys: {shown}"),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (these, them) = match self.operations.len() {
            1 => ("this operation cannot have".to_owned(), "it"),
            count => (
                format!("these {count} operations cannot all have"),
                "any one of them",
            ),
        };
        writeln!(
            f,
            "Key {:?}: {these} happened as recorded, even if every other operation on the key \
             took effect at any time after its call, or not at all:",
            self.key,
        )?;
        for op in &self.operations {
            writeln!(f, "  {op}")?;
        }
        if self.minimal {
            writeln!(
                f,
                "Treating {them} as of unknown outcome makes the key linearizable."
            )?;
        } else {
            writeln!(
                f,
                "(Shrinking ran out of effort: some of them may not be needed.)"
            )?;
        }
        let value = describe_value(self.value_after_longest_order.as_deref());
        if self.longest_order.is_empty() {
            writeln!(
                f,
                "No operation can take effect first (the key starts absent)."
            )
        } else {
            writeln!(f, "The longest valid order found:")?;
            for op in &self.longest_order {
                writeln!(f, "  {op}")?;
            }
            writeln!(
                f,
                "after which the key holds {value}, and no order of the remaining operations is valid."
            )
        }
    }
}

impl fmt::Display for ExplainedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = &self.operation;
        let ret = op.ret.map_or("?".to_owned(), |ret| ret.to_string());
        let unknown = if self.unknown_outcome {
            "  (outcome taken as unknown)"
        } else {
            ""
        };
        write!(
            f,
            "#{:<6} client {:<4} {:<36} called {}, returned {ret}{unknown}",
            self.position,
            op.client,
            describe(op, self.unknown_outcome),
            op.call
        )
    }
}

/// An operation as code: `put("v1")`, `get() -> absent`, `cas("a", "b") -> true`.
fn describe(op: &Operation, unknown_outcome: bool) -> String {
    use crate::history::Output;
    let value = || describe_value(op.value.as_deref());
    let call = match op.kind {
        OpKind::Get => "get()".to_owned(),
        OpKind::Put => format!("put({})", value()),
        OpKind::Delete => "delete()".to_owned(),
        OpKind::Cas => format!(
            "cas({}, {})",
            describe_value(op.expected.as_deref()),
            value()
        ),
    };
    match (&op.output, unknown_outcome) {
        (_, true) if matches!(op.kind, OpKind::Get | OpKind::Cas) => format!("{call} -> ?"),
        (Output::Read(read), false) => format!("{call} -> {}", describe_value(read.as_deref())),
        (Output::Swapped(swapped), false) => format!("{call} -> {swapped}"),
        _ => call,
    }
}

fn describe_value(value: Option<&str>) -> String {
    value.map_or("absent".to_owned(), |value| format!("{value:?}"))
}
