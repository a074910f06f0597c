//! The history format the checker reads, and the recorder the simulator writes it with.

use riptide_control::kv::{Command, Reply};
use riptide_sim::history::{
    Completion, FieldProblem, History, HistoryError, HistoryRecorder, OpKind, Operation, Output,
    RecorderError, read_jsonl, write_jsonl,
};
use riptide_sim::linearizability::check;

const PUT: &str = r#"{"client":3,"op":"put","key":"k1","value":"v9","expected":null,"output":null,"status":"ok","call":120,"return":180}"#;

/// `PUT` with `field` set to `json` (raw JSON text).
fn put_with(field: &str, json: &str) -> String {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(PUT).expect("PUT is valid JSON");
    object.insert(
        field.to_owned(),
        serde_json::from_str(json).expect("valid JSON"),
    );
    serde_json::to_string(&object).expect("serializable")
}

fn read(text: &str) -> Result<History, HistoryError> {
    read_jsonl(text.as_bytes())
}

/// Reads `bad` as line 3 of a history and returns the field it blames.
fn field_error(bad: &str) -> (String, FieldProblem) {
    let text = format!("{PUT}\n{PUT}\n{bad}\n{PUT}\n");
    match read(&text) {
        Err(HistoryError::Field { line: 3, error }) => (error.field, error.problem),
        other => panic!("expected a field error on line 3 for {bad}, got {other:?}"),
    }
}

fn wrong_type(found: &'static str) -> impl Fn(&FieldProblem) -> bool {
    move |problem| matches!(problem, FieldProblem::WrongType { found: f, .. } if *f == found)
}

#[test]
fn the_documented_example_reads_as_typed_fields() {
    let history = read(PUT).expect("valid");
    assert_eq!(
        history.ops,
        vec![Operation {
            client: 3,
            kind: OpKind::Put,
            key: "k1".to_owned(),
            value: Some("v9".to_owned()),
            expected: None,
            output: Output::Nothing,
            status: Completion::Ok,
            call: 120,
            ret: Some(180),
        }]
    );
    let mut written = Vec::new();
    write_jsonl(&mut written, &history).expect("written to memory");
    assert_eq!(
        String::from_utf8(written).expect("UTF-8"),
        format!("{PUT}\n")
    );
}

#[test]
fn operations_deserialize_with_serde_too() {
    let op: Operation = serde_json::from_str(PUT).expect("valid");
    assert_eq!(op.call, 120);
    assert_eq!(serde_json::to_string(&op).expect("serializable"), PUT);
    let error = serde_json::from_str::<Operation>(&put_with("return", "100")).expect_err("invalid");
    assert!(error.to_string().contains("field `return`"), "{error}");
}

#[test]
fn outputs_of_each_kind_read_back() {
    let lines = [
        r#"{"client":1,"op":"get","key":"k","value":null,"expected":null,"output":"v","status":"ok","call":1,"return":2}"#,
        r#"{"client":1,"op":"get","key":"k","value":null,"expected":null,"output":null,"status":"ok","call":3,"return":4}"#,
        r#"{"client":1,"op":"cas","key":"k","value":"w","expected":null,"output":false,"status":"ok","call":5,"return":6}"#,
        r#"{"client":1,"op":"delete","key":"k","value":null,"expected":null,"output":null,"status":"fail","call":7,"return":8}"#,
        r#"{"client":1,"op":"cas","key":"k","value":"w","expected":"v","output":null,"status":"info","call":9,"return":null}"#,
    ];
    let text = lines.join("\n");
    let history = read(&text).expect("valid");
    let outputs: Vec<&Output> = history.ops.iter().map(|op| &op.output).collect();
    assert_eq!(
        outputs,
        [
            &Output::Read(Some("v".to_owned())),
            &Output::Read(None),
            &Output::Swapped(false),
            &Output::Nothing,
            &Output::Nothing,
        ]
    );
    assert_eq!(history.ops[4].expected.as_deref(), Some("v"));
    assert_eq!(history.ops[4].ret, None);
    let mut written = Vec::new();
    write_jsonl(&mut written, &history).expect("written to memory");
    assert_eq!(String::from_utf8(written).expect("UTF-8"), text + "\n");
}

#[test]
fn bad_json_is_reported_with_its_line() {
    let error = read(&format!("{PUT}\n{PUT}\n{{\"client\": 3,\n")).expect_err("invalid");
    assert!(
        matches!(error, HistoryError::Syntax { line: 3, .. }),
        "{error:?}"
    );
    assert_eq!(error.line(), 3);
    assert!(
        error.to_string().starts_with("line 3: not a JSON object"),
        "{error}"
    );
    assert!(matches!(
        read("[1, 2]"),
        Err(HistoryError::Syntax { line: 1, .. })
    ));
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    let error =
        read(&format!("{PUT}\n\n   \n{}\n", put_with("call", "\"12\""))).expect_err("invalid");
    assert_eq!(error.line(), 4);
    assert_eq!(read(&format!("\n{PUT}\n\n")).expect("valid").ops.len(), 1);
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    let mut bytes = format!("{PUT}\n").into_bytes();
    bytes.extend_from_slice(b"{\"key\":\"\xff\"}\n");
    let error = read_jsonl(bytes.as_slice()).expect_err("invalid");
    assert!(
        matches!(error, HistoryError::Io { line: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn a_missing_field_is_named() {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(PUT).expect("valid");
    object.remove("status");
    let line = serde_json::to_string(&object).expect("serializable");
    assert_eq!(
        field_error(&line),
        ("status".to_owned(), FieldProblem::Missing)
    );
    let error = read(&line).expect_err("invalid");
    assert_eq!(error.to_string(), "line 1: field `status`: missing");
}

#[test]
fn a_field_of_the_wrong_type_is_named() {
    let cases = [
        ("client", "-1", "a negative integer"),
        ("call", "\"120\"", "a string"),
        ("call", "1.5", "a non-integer number"),
        ("return", "true", "a boolean"),
        ("key", "7", "a non-negative integer"),
        ("status", "null", "null"),
        ("value", "[]", "an array"),
    ];
    for (field, json, found) in cases {
        let (blamed, problem) = field_error(&put_with(field, json));
        assert_eq!(blamed, field, "{field} = {json}");
        assert!(wrong_type(found)(&problem), "{field} = {json}: {problem:?}");
    }
}

#[test]
fn an_unknown_operation_or_status_is_named() {
    let (field, problem) = field_error(&put_with("op", "\"increment\""));
    assert_eq!(field, "op");
    assert_eq!(
        problem.to_string(),
        "\"increment\" is not one of get, put, delete, cas"
    );
    assert_eq!(field_error(&put_with("status", "\"OK\"")).0, "status");
}

#[test]
fn an_unknown_field_is_rejected() {
    let (field, problem) = field_error(&put_with("ouptut", "null"));
    assert_eq!((field.as_str(), problem), ("ouptut", FieldProblem::Unknown));
}

#[test]
fn return_must_follow_call_and_match_the_status() {
    let (field, problem) = field_error(&put_with("return", "119"));
    assert_eq!(field, "return");
    assert!(
        matches!(&problem, FieldProblem::Invalid(reason) if reason.contains("before call 120"))
    );

    let (field, _) = field_error(&put_with("return", "null"));
    assert_eq!(field, "return", "an ok operation returned");

    let info = put_with("status", "\"info\"");
    let (field, _) = field_error(&info);
    assert_eq!(field, "return", "an info operation never returned");

    let fail_without_return = put_with("return", "null").replace("\"ok\"", "\"fail\"");
    assert_eq!(field_error(&fail_without_return).0, "return");
}

#[test]
fn outputs_must_fit_the_operation() {
    let get = put_with("op", "\"get\"").replace("\"v9\"", "null");
    assert_eq!(read(&get).expect("valid").ops[0].output, Output::Read(None));
    let (field, problem) = field_error(
        &put_with("output", "true")
            .replace("\"put\"", "\"get\"")
            .replace("\"v9\"", "null"),
    );
    assert_eq!(field, "output");
    assert!(wrong_type("a boolean")(&problem), "{problem:?}");

    let cas = put_with("op", "\"cas\"");
    let (field, problem) = field_error(&put_with("output", "\"v1\"").replace("\"put\"", "\"cas\""));
    assert_eq!(field, "output");
    assert!(wrong_type("a string")(&problem), "{problem:?}");
    assert_eq!(
        field_error(&cas).0,
        "output",
        "an ok cas says whether it swapped"
    );

    assert_eq!(field_error(&put_with("output", "\"v9\"")).0, "output");

    let info_with_output = put_with("output", "true")
        .replace("\"put\"", "\"cas\"")
        .replace("\"ok\"", "\"info\"")
        .replace("\"return\":180", "\"return\":null");
    assert_eq!(field_error(&info_with_output).0, "output");
}

#[test]
fn values_must_fit_the_operation() {
    let cas_without_value = put_with("value", "null").replace("\"put\"", "\"cas\"");
    let (field, problem) = field_error(&cas_without_value);
    assert_eq!(field, "value");
    assert_eq!(problem.to_string(), "a cas needs a value");

    assert_eq!(field_error(&put_with("value", "null")).0, "value");
    assert_eq!(field_error(&put_with("op", "\"delete\"")).0, "value");
    assert_eq!(field_error(&put_with("expected", "\"v8\"")).0, "expected");
}

#[test]
fn the_recorder_keeps_one_pending_operation_per_client() {
    let mut recorder = HistoryRecorder::new();
    let put = Command::Put {
        key: "k".to_owned(),
        value: "v1".to_owned(),
    };
    let get = Command::Get {
        key: "k".to_owned(),
    };
    let first = recorder.invoke(1, &put, 10).expect("client 1 idle");
    assert!(matches!(
        recorder.invoke(1, &get, 11),
        Err(RecorderError::ClientBusy { client: 1, pending }) if pending == first
    ));
    let read = recorder.invoke(2, &get, 12).expect("client 2 idle");
    assert_eq!(
        recorder.complete(first, Output::Swapped(true), 20),
        Err(RecorderError::WrongOutput {
            kind: OpKind::Put,
            output: Output::Swapped(true)
        })
    );
    assert!(matches!(
        recorder.complete(first, Output::Nothing, 9),
        Err(RecorderError::ReturnBeforeCall {
            call: 10,
            ret: 9,
            ..
        })
    ));
    recorder
        .complete(first, Output::Nothing, 20)
        .expect("pending");
    assert_eq!(
        recorder.complete(first, Output::Nothing, 21),
        Err(RecorderError::NotPending(first))
    );
    recorder
        .complete(read, Output::Read(Some("v1".to_owned())), 25)
        .expect("pending");

    let delete = recorder
        .invoke(
            1,
            &Command::Delete {
                key: "k".to_owned(),
            },
            30,
        )
        .expect("client 1 idle again");
    recorder.fail(delete, 35).expect("pending");
    let cas = Command::Cas {
        key: "k".to_owned(),
        expected: Some("v1".to_owned()),
        new: "v2".to_owned(),
    };
    let timed_out = recorder.invoke(1, &cas, 40).expect("idle");
    recorder.abandon(timed_out).expect("pending");
    recorder.invoke(1, &get, 50).expect("idle after giving up");
    recorder.invoke(3, &put, 60).expect("idle");

    let history = recorder.finish();
    let statuses: Vec<Completion> = history.ops.iter().map(|op| op.status).collect();
    let (ok, fail, info) = (Completion::Ok, Completion::Fail, Completion::Info);
    assert_eq!(statuses, [ok, ok, fail, info, info, info]);
    assert_eq!(history.ops[3].expected.as_deref(), Some("v1"));
    assert_eq!(history.ops[3].value.as_deref(), Some("v2"));
    assert!(
        history
            .ops
            .iter()
            .filter(|op| op.status == Completion::Info)
            .all(|op| op.ret.is_none())
    );

    let mut bytes = Vec::new();
    write_jsonl(&mut bytes, &history).expect("written to memory");
    assert_eq!(
        read_jsonl(bytes.as_slice()).expect("recorded histories are valid"),
        history
    );
    assert!(check(&history).linearizable);
}

#[test]
fn replies_become_outputs() {
    assert_eq!(
        Output::from_reply(&Reply::Value(Some("v".to_owned()))),
        Some(Output::Read(Some("v".to_owned())))
    );
    assert_eq!(Output::from_reply(&Reply::Done), Some(Output::Nothing));
    assert_eq!(
        Output::from_reply(&Reply::Swapped(false)),
        Some(Output::Swapped(false))
    );
    assert_eq!(
        Output::from_reply(&Reply::NotLeader { leader: Some(1) }),
        None
    );
}
