//! A bad `cluster.toml` stops `riptide replica`, `client` and `status`
//! before they touch the network, with a message naming the field.

mod common;
use common::{Scratch, THREE_REPLICAS as GOOD, riptide, stderr};

/// Runs `riptide ARGS --config <text>`; returns the exit code and stderr.
fn run_with_config(text: &str, name: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = Scratch::new(name);
    let path = dir.write("cluster.toml", text);
    let mut all = vec![args[0], "--config", &path];
    all.extend_from_slice(&args[1..]);
    let output = riptide(&all);
    (output.status.code(), stderr(&output))
}

#[test]
fn bad_configs_are_rejected_naming_the_field() {
    let cases = [
        (
            "missing",
            GOOD.replacen("address = \"127.0.0.1:7101\"\n", "", 1),
            "missing field `address`",
        ),
        (
            "duplicate",
            GOOD.replacen("id = 2", "id = 1", 1),
            "replica[2].id: duplicate id 1",
        ),
        (
            "address",
            GOOD.replacen("127.0.0.1:7102", "127.0.0.1", 1),
            "replica[2].address:",
        ),
        (
            "hostname",
            GOOD.replacen("127.0.0.1:7100", "localhost:7100", 1),
            "replica[0].address:",
        ),
        (
            "even",
            GOOD[..GOOD.find("[[replica]]\nid = 2").unwrap()].to_string(),
            "replica: 2 replicas",
        ),
    ];
    for (name, text, expected) in cases {
        for args in [
            &["replica", "--id", "0"][..],
            &["client", "get", "k"],
            &["status"],
        ] {
            let (code, stderr) = run_with_config(&text, name, args);
            assert_eq!(code, Some(2), "{name} {args:?}: {stderr}");
            assert!(
                stderr.contains(expected),
                "{name} {args:?}: expected {expected:?} in {stderr:?}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_named() {
    let output = riptide(&[
        "replica",
        "--config",
        "/nonexistent/cluster.toml",
        "--id",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read /nonexistent/cluster.toml"));
}

#[test]
fn a_bad_record_of_earlier_starts_stops_the_replica_saying_what_to_do() {
    let state = std::env::temp_dir().join(format!("riptide-lives-cli-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("group-3-replica-0.lives"), "not a count").unwrap();
    let state_arg = state.to_str().unwrap();
    let (code, stderr) = run_with_config(
        GOOD,
        "lives",
        &["replica", "--id", "0", "--state-dir", state_arg],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a start count") && stderr.contains("--bootstrap"),
        "{stderr}"
    );
    // An id outside the group is refused before anything is written.
    let (code, stderr) = run_with_config(
        GOOD,
        "lives-id",
        &["replica", "--id", "5", "--state-dir", state_arg],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--id 5"), "{stderr}");
    assert!(!state.join("group-3-replica-5.lives").exists());
    std::fs::remove_dir_all(&state).unwrap();
}
