//! Jepsen's single-register logs, as Porcupine's `test_data/jepsen` holds
//! them: one event a line, `<process> <type> <f> <value>` somewhere in it
//! (`INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]`), with `type` one of
//! `:invoke`, `:ok`, `:fail`, `:info` and `f` one of `:read`, `:write`,
//! `:cas`. Lines without such an event (the nemesis, Jepsen's other logs)
//! are skipped.
//!
//! The register becomes the key `register`, a process a client, the line
//! number a time. An `:ok` completes its process's invocation, a `:fail`
//! drops it (not applied: for a cas, the comparison failed), an `:info`
//! or no completion at all leaves it of unknown outcome. Values are kept as
//! their text (`nil` is absent), which compares them as Jepsen does.

use std::collections::BTreeMap;
use std::io::BufRead;

use super::{Completion, History, HistoryError, OpKind, Operation, Output};

/// The key the one register is checked as.
pub const REGISTER: &str = "register";

/// Reads a Jepsen log of a single register.
pub fn read_jepsen_log(reader: impl BufRead) -> Result<History, HistoryError> {
    let mut ops: Vec<Operation> = Vec::new();
    // Per process, the index in `ops` of its invocation without completion.
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut dropped = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let text = line.map_err(|source| HistoryError::Io {
            line: line_number,
            source,
        })?;
        let Some(event) = Event::find(&text) else {
            continue;
        };
        let syntax = |message: String| HistoryError::Event {
            line: line_number,
            message,
        };
        let time = line_number as u64;
        if event.kind == ":invoke" {
            if pending.contains_key(&event.process) {
                return Err(syntax(format!(
                    "process {} invokes again before its last operation completed",
                    event.process
                )));
            }
            let op = invocation(event.process, event.f, event.value, time).map_err(syntax)?;
            pending.insert(event.process, ops.len());
            ops.push(op);
            continue;
        }
        let Some(at) = pending.remove(&event.process) else {
            return Err(syntax(format!(
                "process {} completes an operation it did not invoke",
                event.process
            )));
        };
        let op = &mut ops[at];
        match event.kind {
            ":ok" => {
                op.status = Completion::Ok;
                op.ret = Some(time);
                op.output = match op.kind {
                    OpKind::Get => Output::Read(register_value(event.value)),
                    OpKind::Cas => Output::Swapped(true),
                    OpKind::Put | OpKind::Delete => Output::Nothing,
                };
            }
            ":fail" => dropped.push(at),
            // Unknown outcome: as invoked.
            _ => {}
        }
    }
    let ops = ops
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, op)| op)
        .collect();
    Ok(History { ops })
}

/// One `<process> <type> <f> <value>` event of a log line.
struct Event<'a> {
    process: u64,
    kind: &'a str,
    f: &'a str,
    value: String,
}

impl<'a> Event<'a> {
    fn find(line: &'a str) -> Option<Event<'a>> {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let at = tokens
            .iter()
            .position(|t| matches!(*t, ":invoke" | ":ok" | ":fail" | ":info"))?;
        Some(Event {
            process: tokens.get(at.checked_sub(1)?)?.parse().ok()?,
            kind: tokens[at],
            f: tokens.get(at + 1)?,
            value: tokens[at + 2..].join(" "),
        })
    }
}

fn invocation(process: u64, f: &str, value: String, call: u64) -> Result<Operation, String> {
    let (kind, value, expected) = match f {
        ":read" => (OpKind::Get, None, None),
        ":write" => (
            OpKind::Put,
            Some(register_value(value).ok_or("a write of nil")?),
            None,
        ),
        ":cas" => {
            let pair = value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(|| format!("a cas value {value:?} is not [from to]"))?;
            let [from, to] = pair.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(format!("a cas value {value:?} is not [from to]"));
            };
            (
                OpKind::Cas,
                Some(register_value(to.to_string()).ok_or("a cas to nil")?),
                register_value(from.to_string()),
            )
        }
        other => return Err(format!("{other:?} is not :read, :write or :cas")),
    };
    Ok(Operation {
        client: process,
        kind,
        key: REGISTER.to_string(),
        value,
        expected,
        output: Output::Nothing,
        status: Completion::Info,
        call,
        ret: None,
    })
}

fn register_value(text: String) -> Option<String> {
    (text != "nil").then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{Outcome, check};

    #[test]
    fn a_jepsen_log_is_read_and_checked() {
        let log = "\
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:ok\t:read\t1
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]
INFO  jepsen.util - 2\t:fail\t:cas\t[1 4]
INFO  jepsen.util - 3\t:invoke\t:cas\t[1 5]
INFO  jepsen.util - 3\t:info\t:cas\t[1 5]
INFO  jepsen.util - 4\t:invoke\t:read\tnil
INFO  jepsen.util - 4\t:ok\t:read\t5
";
        let history = read_jepsen_log(log.as_bytes()).unwrap();
        assert_eq!(history.ops.len(), 4, "the failed cas is dropped");
        assert_eq!(history.ops[2].status, Completion::Info);
        assert_eq!(history.ops[2].expected.as_deref(), Some("1"));
        assert_eq!(check(&history).outcome, Outcome::Linearizable);

        // A read of a value nobody wrote.
        let bad = log.replace("4\t:ok\t:read\t5", "4\t:ok\t:read\t7");
        let history = read_jepsen_log(bad.as_bytes()).unwrap();
        assert_eq!(check(&history).outcome, Outcome::NotLinearizable);
    }

    #[test]
    fn a_completion_without_its_invocation_names_the_line() {
        let error = read_jepsen_log("0 :ok :read 1\n".as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: process 0 completes an operation it did not invoke"
        );
    }
}
