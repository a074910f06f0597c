//! A bad `cluster.toml` stops `riptide replica`, `client` and `status`
//! before they touch the network, with a message naming the field.

use std::process::Command;

const GOOD: &str = r#"
group = 3

[[replica]]
id = 0
address = "127.0.0.1:7100"
client_port = 7200

[[replica]]
id = 1
address = "127.0.0.1:7101"
client_port = 7201

[[replica]]
id = 2
address = "127.0.0.1:7102"
client_port = 7202
"#;

/// Runs `riptide ARGS --config <text>`; returns the exit code and stderr.
fn run_with_config(text: &str, name: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("riptide-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_riptide"));
    command
        .arg(args[0])
        .arg("--config")
        .arg(&path)
        .args(&args[1..]);
    let output = command.output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
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
    let output = Command::new(env!("CARGO_BIN_EXE_riptide"))
        .args([
            "replica",
            "--config",
            "/nonexistent/cluster.toml",
            "--id",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read /nonexistent/cluster.toml")
    );
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
