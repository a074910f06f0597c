//! The sequential specification of one key, over interned values, and the
//! compilation of a key's operations into it.

use std::collections::HashMap;

use crate::history::{Completion, OpKind, Operation, Output, Time};

/// A value of the key, interned: [`ABSENT`] or the id of a string.
pub(super) type ValueId = u32;

/// The key holds no value.
pub(super) const ABSENT: ValueId = 0;

/// What an operation does to, and observes of, the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Action {
    /// A get that returned this value.
    Read(ValueId),
    /// A put of this value, or a delete (writes [`ABSENT`]).
    Write(ValueId),
    /// A cas; `swapped` is `None` when its outcome is unknown.
    Cas {
        expected: ValueId,
        new: ValueId,
        swapped: Option<bool>,
    },
}

impl Action {
    /// The key's value after this action on `state`, or `None` if the action
    /// cannot have observed what it recorded there.
    pub(super) fn step(self, state: ValueId) -> Option<ValueId> {
        match self {
            Action::Read(value) => (value == state).then_some(state),
            Action::Write(value) => Some(value),
            Action::Cas {
                expected,
                new,
                swapped,
            } => {
                let swaps = state == expected;
                match swapped {
                    Some(recorded) if recorded != swaps => None,
                    _ => Some(if swaps { new } else { state }),
                }
            }
        }
    }

    /// Whether this action, as recorded, leaves the value as it is: a get, or
    /// a cas that did not swap.
    pub(super) fn reads_only(self) -> bool {
        matches!(
            self,
            Action::Read(_)
                | Action::Cas {
                    swapped: Some(false),
                    ..
                }
        )
    }

    /// Every value the action mentions.
    pub(super) fn values(self) -> impl Iterator<Item = ValueId> {
        let (first, second) = match self {
            Action::Read(value) | Action::Write(value) => (value, None),
            Action::Cas { expected, new, .. } => (expected, Some(new)),
        };
        std::iter::once(first).chain(second)
    }

    /// The same action with the values it writes renamed.
    pub(super) fn renaming_writes(self, rename: impl Fn(ValueId) -> ValueId) -> Action {
        match self {
            Action::Read(value) => Action::Read(value),
            Action::Write(value) => Action::Write(rename(value)),
            Action::Cas {
                expected,
                new,
                swapped,
            } => Action::Cas {
                expected,
                new: rename(new),
                swapped,
            },
        }
    }

    /// The value this action writes when it takes effect, if it may write one.
    pub(super) fn written(self) -> Option<ValueId> {
        match self {
            Action::Read(_) => None,
            Action::Write(value) => Some(value),
            Action::Cas { new, .. } => Some(new),
        }
    }
}

/// One operation of a key, ready for the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyOp {
    /// Its index in the history.
    pub source: usize,
    pub call: Time,
    /// `None` for an operation of unknown outcome: it may take effect at any
    /// time after its call, or never.
    pub ret: Option<Time>,
    pub action: Action,
}

impl KeyOp {
    pub(super) fn is_info(&self) -> bool {
        self.ret.is_none()
    }

    /// The same operation with its outcome forgotten; `None` for a get, which
    /// then constrains nothing and changes nothing.
    pub(super) fn relaxed(self) -> Option<KeyOp> {
        let action = match self.action {
            Action::Read(_) => return None,
            Action::Write(value) => Action::Write(value),
            Action::Cas { expected, new, .. } => Action::Cas {
                expected,
                new,
                swapped: None,
            },
        };
        Some(KeyOp {
            ret: None,
            action,
            ..self
        })
    }
}

/// The operations of one key, compiled, and what was left out.
#[derive(Debug, Default)]
pub(super) struct KeyHistory {
    pub ops: Vec<KeyOp>,
    pub ok: usize,
    pub info: usize,
    pub fail: usize,
    /// The string of each [`ValueId`] but [`ABSENT`], at index `id - 1`.
    values: Vec<String>,
    ids: HashMap<String, ValueId>,
}

impl KeyHistory {
    /// Adds the history's operation `source`. `fail` operations only count:
    /// they certainly did not happen. An `info` get neither constrains nor
    /// changes anything, so it only counts too. Outputs that do not fit the
    /// operation (only possible in a history built by hand, not read or
    /// recorded) are taken as unknown.
    pub(super) fn add(&mut self, source: usize, op: &Operation) {
        match op.status {
            Completion::Ok => self.ok += 1,
            Completion::Info => self.info += 1,
            Completion::Fail => {
                self.fail += 1;
                return;
            }
        }
        let known = |output: &Output| (op.status == Completion::Ok).then_some(output.clone());
        let action = match (op.kind, known(&op.output)) {
            (OpKind::Get, Some(Output::Read(value))) => Action::Read(self.intern(value.as_deref())),
            (OpKind::Get, _) => return,
            (OpKind::Put, _) => Action::Write(self.intern(op.value.as_deref())),
            (OpKind::Delete, _) => Action::Write(ABSENT),
            (OpKind::Cas, output) => Action::Cas {
                expected: self.intern(op.expected.as_deref()),
                new: self.intern(op.value.as_deref()),
                swapped: match output {
                    Some(Output::Swapped(swapped)) => Some(swapped),
                    _ => None,
                },
            },
        };
        self.ops.push(KeyOp {
            source,
            call: op.call,
            ret: op.ret,
            action,
        });
    }

    /// The string of `value`, `None` if absent.
    pub(super) fn value(&self, value: ValueId) -> Option<&str> {
        let index = (value as usize).checked_sub(1)?;
        self.values.get(index).map(String::as_str)
    }

    fn intern(&mut self, value: Option<&str>) -> ValueId {
        let Some(text) = value else { return ABSENT };
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        self.values.push(text.to_owned());
        let id = self.values.len() as ValueId;
        self.ids.insert(text.to_owned(), id);
        id
    }
}
