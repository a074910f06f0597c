//! Client histories: operations with invocation and completion times, and their JSON-lines format.
//!
//! One operation per line (the public contract, see `docs/history.md`):
//!
//! ```text
//! {"client":3,"op":"put","key":"k1","value":"v9","expected":null,"output":null,"status":"ok","call":120,"return":180}
//! ```
//!
//! A history is untrusted input: [`read_jsonl`] validates every field and names
//! the line and field of the first problem instead of panicking.

pub mod jepsen;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};

use riptide_control::kv::{Command, Reply};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The id of a client (a session issuing one operation at a time).
pub type ClientId = u64;

/// A point in time. Any unit: only the order of times matters.
pub type Time = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Get,
    Put,
    Delete,
    Cas,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Delete => "delete",
            OpKind::Cas => "cas",
        }
    }

    fn parse(name: &str) -> Option<OpKind> {
        [OpKind::Get, OpKind::Put, OpKind::Delete, OpKind::Cas]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an operation completed: the history's `status` field (Jepsen's `:type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Completion {
    /// Completed with the recorded output.
    Ok,
    /// Certainly not applied.
    Fail,
    /// Outcome unknown: it may or may not have taken effect, at any time after its call.
    Info,
}

impl Completion {
    fn name(self) -> &'static str {
        match self {
            Completion::Ok => "ok",
            Completion::Fail => "fail",
            Completion::Info => "info",
        }
    }

    fn parse(name: &str) -> Option<Completion> {
        [Completion::Ok, Completion::Fail, Completion::Info]
            .into_iter()
            .find(|status| status.name() == name)
    }
}

impl fmt::Display for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an operation returned. Its JSON form is `null`, a string or a boolean,
/// so it is only meaningful together with the operation's kind and status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Output {
    /// No output: put and delete, and every operation that is not `ok`.
    Nothing,
    /// A get's result: the value, or `None` if the key was absent.
    Read(Option<String>),
    /// Whether a cas swapped.
    Swapped(bool),
}

impl Output {
    /// The output a client records for a replica's `reply`; `None` for a
    /// redirect, which is no outcome of the operation, and for a refusal,
    /// which makes the operation a `fail` (it was not executed), and for a
    /// cookie, which asks for the request again.
    pub fn from_reply(reply: &Reply) -> Option<Output> {
        match reply {
            Reply::Value(value) => Some(Output::Read(value.clone())),
            Reply::Done => Some(Output::Nothing),
            Reply::Swapped(swapped) => Some(Output::Swapped(*swapped)),
            Reply::NotLeader { .. }
            | Reply::TooLarge { .. }
            | Reply::Cookie { .. }
            | Reply::Busy => None,
        }
    }

    /// The output an `ok` operation of `kind` must have the shape of.
    fn fits(&self, kind: OpKind) -> bool {
        matches!(
            (kind, self),
            (OpKind::Get, Output::Read(_))
                | (OpKind::Cas, Output::Swapped(_))
                | (OpKind::Put | OpKind::Delete, Output::Nothing)
        )
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Output::Nothing | Output::Read(None) => serializer.serialize_none(),
            Output::Read(Some(value)) => serializer.serialize_str(value),
            Output::Swapped(swapped) => serializer.serialize_bool(*swapped),
        }
    }
}

/// One client operation on one key, with its invocation (`call`) and completion (`ret`) times.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operation {
    pub client: ClientId,
    pub kind: OpKind,
    pub key: String,
    /// The value written: put's value, cas's new value; `None` for get and delete.
    pub value: Option<String>,
    /// Cas's expected value (`None`: the key must be absent); `None` for the other kinds.
    pub expected: Option<String>,
    pub output: Output,
    pub status: Completion,
    pub call: Time,
    /// `None` exactly when the status is `info`.
    pub ret: Option<Time>,
}

impl Operation {
    /// The operation a client issues for `command`, called at `call`, not yet completed.
    pub fn invoked(client: ClientId, command: &Command, call: Time) -> Operation {
        let (kind, key, value, expected) = match command {
            Command::Get { key } => (OpKind::Get, key, None, None),
            Command::Put { key, value } => (OpKind::Put, key, Some(value.clone()), None),
            Command::Delete { key } => (OpKind::Delete, key, None, None),
            Command::Cas { key, expected, new } => {
                (OpKind::Cas, key, Some(new.clone()), expected.clone())
            }
        };
        Operation {
            client,
            kind,
            key: key.clone(),
            value,
            expected,
            output: Output::Nothing,
            status: Completion::Info,
            call,
            ret: None,
        }
    }

    /// Parses one history line, already decoded as a JSON object.
    pub fn from_json(object: &Map<String, Value>) -> Result<Operation, FieldError> {
        if let Some(unknown) = object.keys().find(|name| !FIELDS.contains(&name.as_str())) {
            return Err(FieldError::new(unknown, FieldProblem::Unknown));
        }
        let fields = Fields(object);
        let client = fields.integer("client")?;
        let kind = fields.parsed("op", "one of get, put, delete, cas", OpKind::parse)?;
        let key = fields.string("key")?;
        let value = fields.optional_string("value")?;
        let expected = fields.optional_string("expected")?;
        let status = fields.parsed("status", "one of ok, fail, info", Completion::parse)?;
        let call = fields.integer("call")?;
        let ret = fields.optional_integer("return")?;

        match (kind, &value) {
            (OpKind::Put | OpKind::Cas, None) => {
                return Err(FieldError::invalid(
                    "value",
                    format!("a {kind} needs a value"),
                ));
            }
            (OpKind::Get | OpKind::Delete, Some(_)) => {
                return Err(FieldError::invalid(
                    "value",
                    format!("a {kind} has no value"),
                ));
            }
            _ => {}
        }
        if kind != OpKind::Cas && expected.is_some() {
            return Err(FieldError::invalid(
                "expected",
                format!("only a cas has an expected value, not a {kind}"),
            ));
        }
        match (status, ret) {
            (Completion::Info, Some(_)) => {
                return Err(FieldError::invalid(
                    "return",
                    "must be null for an info operation (it never returned)",
                ));
            }
            (Completion::Ok | Completion::Fail, None) => {
                return Err(FieldError::invalid(
                    "return",
                    format!("is null, but status {status} means the operation returned"),
                ));
            }
            (_, Some(ret)) if ret < call => {
                return Err(FieldError::invalid(
                    "return",
                    format!("{ret} is before call {call}"),
                ));
            }
            _ => {}
        }
        let output = fields.output(kind, status)?;
        Ok(Operation {
            client,
            kind,
            key,
            value,
            expected,
            output,
            status,
            call,
            ret,
        })
    }

    fn to_line(&self) -> Line<'_> {
        Line {
            client: self.client,
            op: self.kind,
            key: &self.key,
            value: self.value.as_deref(),
            expected: self.expected.as_deref(),
            output: &self.output,
            status: self.status,
            call: self.call,
            ret: self.ret,
        }
    }
}

/// The field names of a history line, in their canonical order.
const FIELDS: [&str; 9] = [
    "client", "op", "key", "value", "expected", "output", "status", "call", "return",
];

/// A history line as written: the field order of the contract.
#[derive(Serialize)]
struct Line<'a> {
    client: ClientId,
    op: OpKind,
    key: &'a str,
    value: Option<&'a str>,
    expected: Option<&'a str>,
    output: &'a Output,
    status: Completion,
    call: Time,
    #[serde(rename = "return")]
    ret: Option<Time>,
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_line().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Operation, D::Error> {
        let object = Map::deserialize(deserializer)?;
        Operation::from_json(&object).map_err(D::Error::custom)
    }
}

/// Typed access to the fields of one history line.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, field: &'static str) -> Result<&Value, FieldError> {
        self.0
            .get(field)
            .ok_or_else(|| FieldError::new(field, FieldProblem::Missing))
    }

    fn integer(&self, field: &'static str) -> Result<u64, FieldError> {
        let value = self.get(field)?;
        value
            .as_u64()
            .ok_or_else(|| FieldError::wrong_type(field, "a non-negative integer", value))
    }

    fn optional_integer(&self, field: &'static str) -> Result<Option<u64>, FieldError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            value => value.as_u64().map(Some).ok_or_else(|| {
                FieldError::wrong_type(field, "a non-negative integer or null", value)
            }),
        }
    }

    fn string(&self, field: &'static str) -> Result<String, FieldError> {
        match self.get(field)? {
            Value::String(text) => Ok(text.clone()),
            value => Err(FieldError::wrong_type(field, "a string", value)),
        }
    }

    fn optional_string(&self, field: &'static str) -> Result<Option<String>, FieldError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            value => Err(FieldError::wrong_type(field, "a string or null", value)),
        }
    }

    fn parsed<T>(
        &self,
        field: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, FieldError> {
        match self.get(field)? {
            Value::String(text) => parse(text)
                .ok_or_else(|| FieldError::invalid(field, format!("{text:?} is not {expected}"))),
            value => Err(FieldError::wrong_type(field, expected, value)),
        }
    }

    fn output(&self, kind: OpKind, status: Completion) -> Result<Output, FieldError> {
        let field = "output";
        let value = self.get(field)?;
        if status != Completion::Ok {
            return match value {
                Value::Null => Ok(Output::Nothing),
                _ => Err(FieldError::wrong_type(
                    field,
                    "null (the operation did not complete with a result)",
                    value,
                )),
            };
        }
        match (kind, value) {
            (OpKind::Get, Value::Null) => Ok(Output::Read(None)),
            (OpKind::Get, Value::String(text)) => Ok(Output::Read(Some(text.clone()))),
            (OpKind::Get, _) => Err(FieldError::wrong_type(
                field,
                "a string or null (the value read) for a get",
                value,
            )),
            (OpKind::Cas, Value::Bool(swapped)) => Ok(Output::Swapped(*swapped)),
            (OpKind::Cas, _) => Err(FieldError::wrong_type(
                field,
                "true or false (whether it swapped) for a cas",
                value,
            )),
            (OpKind::Put | OpKind::Delete, Value::Null) => Ok(Output::Nothing),
            (OpKind::Put | OpKind::Delete, _) => Err(FieldError::wrong_type(
                field,
                "null for a put or delete",
                value,
            )),
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_u64() => "a non-negative integer",
        Value::Number(number) if number.is_i64() => "a negative integer",
        Value::Number(_) => "a non-integer number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What is wrong with one field of a history line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

impl FieldError {
    fn new(field: &str, problem: FieldProblem) -> FieldError {
        FieldError {
            field: field.to_owned(),
            problem,
        }
    }

    fn wrong_type(field: &str, expected: &'static str, found: &Value) -> FieldError {
        FieldError::new(
            field,
            FieldProblem::WrongType {
                expected,
                found: json_type(found),
            },
        )
    }

    fn invalid(field: &str, reason: impl Into<String>) -> FieldError {
        FieldError::new(field, FieldProblem::Invalid(reason.into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error("missing")]
    Missing,
    #[error("not a field of a history line")]
    Unknown,
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Why a history file could not be read. Line numbers count from 1.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("line {line}: cannot read it")]
    Io {
        line: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: not a JSON object: {message}")]
    Syntax { line: usize, message: String },
    /// A Jepsen log's event that does not fit ([`jepsen`]).
    #[error("line {line}: {message}")]
    Event { line: usize, message: String },
    /// The field's problem is part of this message, not a source: a
    /// chain printed whole (`{:#}`) would say it twice.
    #[error("line {line}: {error}")]
    Field { line: usize, error: FieldError },
}

impl HistoryError {
    /// The line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            HistoryError::Io { line, .. }
            | HistoryError::Syntax { line, .. }
            | HistoryError::Event { line, .. }
            | HistoryError::Field { line, .. } => *line,
        }
    }
}

/// A set of client operations, in the order they were recorded or read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub ops: Vec<Operation>,
}

impl From<Vec<Operation>> for History {
    fn from(ops: Vec<Operation>) -> History {
        History { ops }
    }
}

/// How a history file is read: to the letter of `docs/history.md`, or
/// tolerating the forms other tools write (the rules in `docs/history.md`,
/// "Histories from other tools").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strictness {
    /// Exactly the ten fields, typed as documented.
    #[default]
    Strict,
    /// Unknown fields ignored, `info` outputs and return times ignored,
    /// `fail` operations dropped, client ids that are strings numbered,
    /// keys and values that are not strings compared as JSON.
    Tolerant,
}

/// Reads a JSON-lines history, strictly. Blank lines are skipped (they still count for line numbers).
pub fn read_jsonl(reader: impl BufRead) -> Result<History, HistoryError> {
    read_jsonl_with(reader, Strictness::Strict)
}

/// Reads a JSON-lines history as `strictness` says.
pub fn read_jsonl_with(
    reader: impl BufRead,
    strictness: Strictness,
) -> Result<History, HistoryError> {
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let text = line.map_err(|source| HistoryError::Io {
            line: line_number,
            source,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> =
            serde_json::from_str(&text).map_err(|error| HistoryError::Syntax {
                line: line_number,
                message: error.to_string(),
            })?;
        lines.push((line_number, object));
    }
    if strictness == Strictness::Tolerant {
        tolerate(&mut lines);
    }
    let mut ops = Vec::with_capacity(lines.len());
    for (line, object) in lines {
        let op =
            Operation::from_json(&object).map_err(|error| HistoryError::Field { line, error })?;
        ops.push(op);
    }
    Ok(History { ops })
}

/// Client ids given as names (strings that are not numbers) are numbered
/// from here, far from the small integers tools use as ids.
pub const NAMED_CLIENTS: u64 = 1 << 62;

/// Rewrites the lines other tools write into the strict form, by the rules
/// of `docs/history.md`, "Histories from other tools". What is left is
/// checked as strictly as ever.
fn tolerate(lines: &mut Vec<(usize, Map<String, Value>)>) {
    let is = |object: &Map<String, Value>, field: &str, text: &str| {
        object.get(field).and_then(Value::as_str) == Some(text)
    };
    // Certainly not applied: the checker drops them anyway, whatever else
    // they hold (no return time, say).
    lines.retain(|(_, object)| !is(object, "status", "fail"));
    // Values are compared as JSON: if any is not a string, every value is
    // replaced by its JSON text, so the string "1" and the number 1 stay
    // different values. Otherwise strings stay as they are.
    let as_json = lines.iter().any(|(_, object)| {
        let output = is(object, "op", "get").then_some("output");
        ["value", "expected"]
            .into_iter()
            .chain(output)
            .filter_map(|field| object.get(field))
            .any(|value| !matches!(value, Value::Null | Value::String(_)))
    });
    let mut names: std::collections::HashMap<String, u64> = Default::default();
    for (_, object) in lines.iter_mut() {
        object.retain(|name, _| FIELDS.contains(&name.as_str()));
        if is(object, "status", "info") {
            object.insert("output".into(), Value::Null);
            object.insert("return".into(), Value::Null);
        }
        if !is(object, "op", "cas") {
            object.entry("expected").or_insert(Value::Null);
        }
        if let Some(Value::String(name)) = object.get("client") {
            let id = name.parse::<u64>().unwrap_or_else(|_| {
                let next = NAMED_CLIENTS + names.len() as u64;
                *names.entry(name.clone()).or_insert(next)
            });
            object.insert("client".into(), id.into());
        }
        if let Some(key) = object.get_mut("key")
            && !matches!(key, Value::String(_))
        {
            *key = Value::String(key.to_string());
        }
        if as_json {
            let output = is(object, "op", "get").then_some("output");
            for field in ["value", "expected"].into_iter().chain(output) {
                if let Some(value) = object.get_mut(field)
                    && !value.is_null()
                {
                    *value = Value::String(value.to_string());
                }
            }
        }
    }
}

/// Writes `history` as JSON lines, one operation a line, fields in the contract's order.
pub fn write_jsonl(mut writer: impl Write, history: &History) -> std::io::Result<()> {
    for op in &history.ops {
        serde_json::to_writer(&mut writer, &op.to_line())?;
        writer.write_all(b"\n")?;
    }
    Ok(())
}

/// Identifies an operation a [`HistoryRecorder`] is recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(usize);

/// A misuse of a [`HistoryRecorder`]: a bug in the code driving it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecorderError {
    #[error("client {client} already has operation {pending:?} pending")]
    ClientBusy { client: ClientId, pending: OpId },
    #[error("operation {0:?} is not pending")]
    NotPending(OpId),
    #[error("a {kind} cannot complete with output {output:?}")]
    WrongOutput { kind: OpKind, output: Output },
    #[error("operation {id:?} called at {call} cannot return earlier, at {ret}")]
    ReturnBeforeCall { id: OpId, call: Time, ret: Time },
}

/// Records a history as the simulator runs: each client has at most one
/// operation pending; operations still pending at the end are `info`.
#[derive(Debug, Default)]
pub struct HistoryRecorder {
    ops: Vec<Operation>,
    pending: BTreeMap<ClientId, OpId>,
}

impl HistoryRecorder {
    pub fn new() -> HistoryRecorder {
        HistoryRecorder::default()
    }

    /// `client` issues `command` at `time`.
    pub fn invoke(
        &mut self,
        client: ClientId,
        command: &Command,
        time: Time,
    ) -> Result<OpId, RecorderError> {
        if let Some(&pending) = self.pending.get(&client) {
            return Err(RecorderError::ClientBusy { client, pending });
        }
        let id = OpId(self.ops.len());
        self.ops.push(Operation::invoked(client, command, time));
        self.pending.insert(client, id);
        Ok(id)
    }

    /// The operation completed at `time` with `output`.
    pub fn complete(&mut self, id: OpId, output: Output, time: Time) -> Result<(), RecorderError> {
        let kind = self.pending_op(id)?.kind;
        if !output.fits(kind) {
            return Err(RecorderError::WrongOutput { kind, output });
        }
        self.close(id, Completion::Ok, output, Some(time))
    }

    /// The operation certainly did not take effect, as known at `time`.
    pub fn fail(&mut self, id: OpId, time: Time) -> Result<(), RecorderError> {
        self.close(id, Completion::Fail, Output::Nothing, Some(time))
    }

    /// The client stops waiting for the operation without learning its
    /// outcome (a timeout): it stays `info` and the client may issue another.
    pub fn abandon(&mut self, id: OpId) -> Result<(), RecorderError> {
        self.close(id, Completion::Info, Output::Nothing, None)
    }

    /// The history, with every operation still pending as `info`.
    pub fn finish(self) -> History {
        History { ops: self.ops }
    }

    fn pending_op(&self, id: OpId) -> Result<&Operation, RecorderError> {
        let op = self.ops.get(id.0).ok_or(RecorderError::NotPending(id))?;
        if self.pending.get(&op.client) == Some(&id) {
            Ok(op)
        } else {
            Err(RecorderError::NotPending(id))
        }
    }

    fn close(
        &mut self,
        id: OpId,
        status: Completion,
        output: Output,
        ret: Option<Time>,
    ) -> Result<(), RecorderError> {
        let op = self.pending_op(id)?;
        if let Some(ret) = ret.filter(|&ret| ret < op.call) {
            return Err(RecorderError::ReturnBeforeCall {
                id,
                call: op.call,
                ret,
            });
        }
        let client = op.client;
        let op = &mut self.ops[id.0];
        op.status = status;
        op.output = output;
        op.ret = ret;
        self.pending.remove(&client);
        Ok(())
    }
}
