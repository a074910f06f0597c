//! End-to-end tests of the `riptide` command line: exit codes, determinism,
//! and the history round trip between `riptide sim` and `riptide check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{riptide, stderr, stdout};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn history_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sim/tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

const FAULTY_SIM: &[&str] = &[
    "sim",
    "--replicas",
    "3",
    "--seed",
    "7",
    "--ops",
    "300",
    "--faults",
    "drop,dup,reorder,partition,crash",
];

#[test]
fn sim_with_faults_passes_and_replays_identically() {
    let first = riptide(FAULTY_SIM);
    let second = riptide(FAULTY_SIM);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(
        stdout(&first).starts_with("seed 7:"),
        "the seed comes first"
    );
    assert_eq!(stdout(&first), stdout(&second));
}

#[test]
fn sim_past_f_stops_as_documented_and_exits_zero() {
    let out = riptide(&[
        "sim",
        "--seed",
        "5",
        "--ops",
        "200",
        "--faults",
        "all,beyond_f",
        "--heal-us",
        "40000",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("beyond_f x1"), "{text}");
    assert!(
        text.contains("liveness         ok, expected stall: "),
        "{text}"
    );
    assert!(
        text.contains("--faults drop,dup,reorder,partition,crash,wipe,host_crash,drift,beyond_f"),
        "{text}"
    );
}

#[test]
fn sim_json_report_names_the_seed_and_every_check() {
    let out = riptide(&[FAULTY_SIM, &["--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["seed"], 7);
    for check in ["agreement", "chosen", "linearizability", "liveness"] {
        assert!(!report["checks"][check].is_null(), "missing check {check}");
    }
}

#[test]
fn sim_history_is_checked_linearizable_by_check() {
    let path = scratch("sim-history.jsonl");
    let path = path.to_str().unwrap();
    let sim = riptide(&[FAULTY_SIM, &["--history", path]].concat());
    assert!(sim.status.success(), "{}", stderr(&sim));
    let lines = std::fs::read_to_string(path).unwrap().lines().count();
    assert_eq!(lines, 300, "one line per operation");
    let check = riptide(&["check", "--history", path]);
    assert!(check.status.success(), "{}", stdout(&check));
}

#[test]
fn check_exit_codes_follow_the_verdict() {
    let ok = riptide(&["check", "--history", &history_fixture("cas.jsonl")]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    let stale = riptide(&["check", "--history", &history_fixture("stale_read.jsonl")]);
    assert_eq!(stale.status.code(), Some(1), "{}", stdout(&stale));
    assert!(stdout(&stale).to_lowercase().contains("not linearizable"));
}

#[test]
fn check_rejects_malformed_histories_naming_the_line() {
    let path = scratch("bad-history.jsonl");
    std::fs::write(
        &path,
        "{\"client\":1,\"op\":\"get\",\"key\":\"k\",\"value\":null,\"expected\":null,\"output\":null,\"status\":\"ok\",\"call\":1,\"return\":2}\nnot json\n",
    )
    .unwrap();
    let out = riptide(&["check", "--history", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}

#[test]
fn bad_arguments_are_rejected_with_a_message() {
    let out = riptide(&["sim", "--faults", "drop,meteor"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("meteor"), "{}", stderr(&out));
    let out = riptide(&["sim", "--variant", "no-such-bug"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-bug"), "{}", stderr(&out));
}

#[test]
fn hw_verilog_writes_the_riptide_core_module() {
    let dir = scratch("verilog");
    let out = riptide(&["hw", "verilog", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let verilog = std::fs::read_to_string(dir.join("riptide_core.v")).unwrap();
    assert!(verilog.contains("module riptide_core("));
    for port in [
        "net_rx_tdata",
        "net_tx_tready",
        "h2c_tvalid",
        "c2h_tlast",
        "s_axil_awaddr",
    ] {
        assert!(verilog.contains(port), "missing port {port}");
    }
}

#[test]
fn bench_on_the_rtl_prints_the_figures_table() {
    let out = riptide(&["bench", "--backend", "rtl", "--frames", "8", "--no-yosys"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("| follower: ACCEPT (74 B) beats/cycle in, back to back | 1.000 |"),
        "{table}"
    );
    assert!(table.contains("leader: last ACCEPTED last beat to Committed record first beat"));
    assert!(table.contains("cycles/s"), "{table}");
    assert!(!table.contains("yosys"), "{table}");
}

#[test]
fn replica_without_the_board_exits_with_an_actionable_error() {
    let config = scratch("vfio-cluster.toml");
    let replicas: String = (0..3)
        .map(|i| {
            format!(
                "[[replica]]\nid = {i}\naddress = \"127.0.0.1:{}\"\nclient_port = {}\n\
                 mac = \"02:52:54:00:00:0{i}\"\n\n",
                7100 + i,
                7200 + i
            )
        })
        .collect();
    std::fs::write(&config, format!("group = 3\n\n{replicas}")).unwrap();
    let out = riptide(&[
        "replica",
        "--config",
        config.to_str().unwrap(),
        "--id",
        "0",
        "--nic",
        "vfio:0000:00:00.0",
    ]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        text.contains("cannot use the board vfio:0000:00:00.0"),
        "{text}"
    );
    // Whatever is missing on this machine (device, IOMMU, vfio-pci binding,
    // permissions), the message says what to do about it.
    let remedies = ["IOMMU", "vfio-pci", "/dev/vfio", "lspci", "root"];
    assert!(remedies.iter().any(|r| text.contains(r)), "{text}");
}

#[test]
fn sim_on_rtl_nics_commits_and_names_the_nic_in_its_replay_command() {
    let out = riptide(&["sim", "--nic", "rtl", "--ops", "10", "--seed", "3"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.starts_with("seed 3:") && text.contains("NIC rtl"),
        "{text}"
    );
    assert!(text.contains("ops 10/10 completed"), "{text}");
    assert!(text.contains("--nic rtl"), "{text}");
    let out = riptide(&["sim", "--nic", "rtl", "--variant", "commit-on-minority"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("use --nic model"), "{}", stderr(&out));
    let out = riptide(&["sim", "--nic", "fpga"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fpga"), "{}", stderr(&out));
}

#[test]
fn an_ldfi_counterexample_replays_as_a_space_time_diagram() {
    let schedule = scratch("ldfi-timeline.json");
    let schedule_arg = schedule.to_str().unwrap();
    let found = riptide(&[
        "ldfi",
        "--replicas",
        "3",
        "--variant",
        "commit-on-minority",
        "--out",
        schedule_arg,
    ]);
    assert_eq!(found.status.code(), Some(1), "{}", stderr(&found));
    let replay = stdout(&found)
        .lines()
        .find_map(|line| line.strip_prefix("replay: riptide "))
        .expect("a replay command")
        .to_string();
    let mut args: Vec<&str> = replay.split_whitespace().collect();
    args.push("--timeline");
    let replayed = riptide(&args);
    assert_eq!(replayed.status.code(), Some(1), "{}", stderr(&replayed));
    let text = stdout(&replayed);
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("time us") && header.contains("r0") && header.contains("r2"),
        "{header}"
    );
    // The cut shows as lost frames, phase 2 as ACCEPTs leaving and landing,
    // and the run ends in the violation the search found.
    assert!(text.contains(" lost"), "{text}");
    assert!(text.contains("<- r") && text.contains("ACCEPT b"), "{text}");
    assert!(text.contains("applied s"), "{text}");
    assert!(text.contains("agreement        VIOLATED"), "{text}");
}

/// A history line as riptide writes it, with `fields` replaced or added
/// (a `null` JSON value for `remove` deletes the field).
fn line(fields: &[(&str, serde_json::Value)]) -> String {
    let mut object = serde_json::json!({
        "client": 1, "op": "put", "key": "k", "value": "v", "expected": null,
        "output": null, "status": "ok", "call": 1, "return": 2
    });
    for (name, value) in fields {
        if *name == "remove" {
            object
                .as_object_mut()
                .unwrap()
                .remove(value.as_str().unwrap());
        } else {
            object[*name] = value.clone();
        }
    }
    object.to_string()
}

fn check_lines(name: &str, lines: &[String], strict: bool) -> Output {
    let path = scratch(name);
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut args = vec!["check", "--history", path.to_str().unwrap()];
    if strict {
        args.push("--strict");
    }
    riptide(&args)
}

#[test]
fn check_tolerates_what_other_tools_write_unless_strict() {
    use serde_json::json;
    let get = |output: serde_json::Value, call: u64| {
        line(&[
            ("op", json!("get")),
            ("value", json!(null)),
            ("output", output),
            ("call", json!(call)),
            ("return", json!(call + 1)),
        ])
    };
    let forms: [(&str, Vec<String>, &str); 5] = [
        (
            "unknown-fields",
            vec![line(&[("latency_us", json!(40)), ("node", json!("n1"))])],
            "field `latency_us`: not a field of a history line",
        ),
        (
            "info-output",
            vec![line(&[
                ("status", json!("info")),
                ("return", json!(null)),
                ("output", json!("whatever")),
            ])],
            "field `output`: expected null",
        ),
        (
            "fail-without-return",
            vec![line(&[("status", json!("fail")), ("return", json!(null))])],
            "field `return`: is null, but status fail",
        ),
        (
            "string-client",
            vec![line(&[("client", json!("worker-3"))])],
            "field `client`: expected a non-negative integer, found a string",
        ),
        (
            "numeric-value",
            vec![line(&[("value", json!(5))]), get(json!(5), 3)],
            "field `value`: expected a string or null, found a non-negative integer",
        ),
    ];
    for (name, lines, strict_error) in forms {
        let tolerant = check_lines(name, &lines, false);
        assert_eq!(
            tolerant.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&tolerant),
            stderr(&tolerant)
        );
        let strict = check_lines(name, &lines, true);
        let message = stderr(&strict);
        assert_eq!(strict.status.code(), Some(2), "{name}: {message}");
        // The problem is said once, in one line.
        assert_eq!(
            message.matches(strict_error).count(),
            1,
            "{name}: {message}"
        );
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
    }

    // Values compare as JSON: the number 5 and the string "5" differ.
    let mixed = [line(&[("value", json!(5))]), get(json!("5"), 3)];
    let out = check_lines("mixed-values", &mixed, false);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // A string client id is a client of its own, named or numeric.
    let named = [
        line(&[("client", json!("a"))]),
        line(&[
            ("client", json!("7")),
            ("call", json!(3)),
            ("return", json!(4)),
        ]),
    ];
    assert_eq!(check_lines("named", &named, false).status.code(), Some(0));
}

#[test]
fn check_reads_jepsen_logs_of_one_register() {
    let path = scratch("etcd.log");
    std::fs::write(
        &path,
        "INFO  jepsen.util - 0\t:invoke\t:write\t3\n\
         INFO  jepsen.util - 0\t:ok\t:write\t3\n\
         INFO  jepsen.util - 1\t:invoke\t:cas\t[3 1]\n\
         INFO  jepsen.util - 1\t:ok\t:cas\t[3 1]\n\
         INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
         INFO  jepsen.util - 2\t:ok\t:read\t3\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let out = riptide(&["check", "--format", "jepsen", "--history", path]);
    assert_eq!(out.status.code(), Some(1), "a stale read: {}", stdout(&out));
    assert!(stdout(&out).contains("\"register\""), "{}", stdout(&out));
}

#[test]
fn a_reader_that_stops_early_ends_riptide_quietly_not_with_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_riptide"))
        .args(["sim", "--seed", "1", "--ops", "300", "--timeline"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{stderr}");
}

#[test]
fn doctor_on_this_machine_exits_non_zero_with_one_fix_per_failed_check() {
    // CI machines and this one have no Alveo board: the doctor must say so
    // plainly, line by line, and not panic.
    let output = riptide(&["doctor"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(!failed.is_empty(), "{out}");
    assert!(failed.iter().all(|l| l.contains("; fix: ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("FAIL  device")), "{out}");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn doctor_rejects_a_malformed_device_address() {
    let output = riptide(&["doctor", "--device", "3b:00"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("DDDD:BB:DD.F"),
        "{}",
        stderr(&output)
    );
}
