//! `riptide bench` against deployed groups. `--config`: three
//! `riptide replica` processes started by hand from one cluster file, as an
//! operator starts them on three hosts, and the benchmark driving that
//! running group: percentiles printed, the `.hgrm` distribution and its SVG
//! plot written and well-formed; a cluster file it cannot use, or a group
//! that is not running, is a clear error with exit 2. `--backend line-rate`:
//! entries injected into the leader NIC's host-to-card stream of simulated
//! boards, all committed, with entries/s and commit latency printed.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use riptide_bench::udp::group::free_ports;
use riptide_node::{ClusterConfig, Timing};

mod common;
use common::{Scratch, riptide, stderr, stdout};

/// `free_ports` leaves the ports free until a replica binds them; a
/// neighbouring test's status socket could take one in that window.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The replicas, killed and reaped however the test ends.
struct Replicas(Vec<Child>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A three-replica group on free loopback ports with fast elections, written
/// to `cluster.toml` in `dir`.
fn cluster_file(dir: &Scratch) -> String {
    let timing = Timing {
        tick_ms: 1,
        heartbeat_ticks: 10,
        election_ticks: [100, 200],
        retransmit_ticks: 20,
        window: 64,
        ..Timing::default()
    };
    let ports = free_ports(3).unwrap();
    let config = ClusterConfig::local(9, Ipv4Addr::LOCALHOST, &ports, timing).unwrap();
    dir.write("cluster.toml", &config.to_toml())
}

fn start_replica(config: &str, id: u8, dir: &Path) -> Child {
    let log = fs::File::create(dir.join(format!("replica-{id}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_riptide"))
        .args(["replica", "--config", config, "--id", &id.to_string()])
        .arg("--state-dir")
        .arg(dir.join(format!("state-{id}")))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The `.hgrm` rows (value, percentile, count): values and percentiles never
/// fall, the last percentile is 1; returns the samples the counts add up to.
fn check_hgrm(text: &str) -> u64 {
    let rows: Vec<(f64, f64, u64)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains("Value"))
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells.len(), 4, "row {l:?}");
            (
                cells[0].parse().unwrap(),
                cells[1].parse().unwrap(),
                cells[2].parse().unwrap(),
            )
        })
        .collect();
    assert!(!rows.is_empty(), "no rows in\n{text}");
    for pair in rows.windows(2) {
        assert!(pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1, "{pair:?}");
    }
    assert_eq!(rows.last().unwrap().1, 1.0);
    rows.iter().map(|r| r.2).sum()
}

/// Every tag of the SVG closes in order, the root is `<svg>`, and a line is
/// plotted.
fn check_svg(text: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("unterminated tag");
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "closing {name}");
        } else if !tag.ends_with('/') && !tag.starts_with('?') {
            open.push(tag.split_whitespace().next().unwrap());
        }
        if open.is_empty() {
            assert_eq!(tag, "/svg", "the root ends the document");
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    assert!(text.trim_start().starts_with("<svg"));
    assert!(
        text.contains("<polyline") || text.contains("<path"),
        "no line plotted"
    );
}

/// The sample count `(n = N)` that ends a latency line.
fn samples(latency: &str) -> u64 {
    latency
        .rsplit_once("(n = ")
        .and_then(|(_, n)| n.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no sample count in {latency}"))
}

/// The line of `out` starting with `prefix`, with every percentile on it.
fn latency_line<'a>(out: &'a str, prefix: &str) -> &'a str {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in\n{out}"));
    for percentile in ["p50 ", "p90 ", "p99 ", "p99.9 ", "max "] {
        assert!(line.contains(percentile), "{line}");
    }
    line
}

#[test]
fn bench_drives_a_group_started_by_hand_from_its_cluster_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("bench-group");
    let config = cluster_file(&dir);
    let _replicas = Replicas((0..3).map(|id| start_replica(&config, id, &dir)).collect());
    let hgrm = dir.join("out").join("group.hgrm");
    let hgrm_arg = hgrm.to_str().unwrap();
    let args = ["bench", "--config", &config, "--duration", "1"];
    let closed = riptide(&[&args[..], &["--clients", "2", "--hgrm", hgrm_arg]].concat());
    let out = stdout(&closed);
    let logs = || -> String {
        (0..3)
            .map(|id| fs::read_to_string(dir.join(format!("replica-{id}.log"))).unwrap_or_default())
            .collect()
    };
    assert_eq!(
        closed.status.code(),
        Some(0),
        "{out}\n{}\n{}",
        stderr(&closed),
        logs()
    );
    assert!(
        out.contains(&format!("the running group of {config} (3 replicas)")),
        "{out}"
    );
    assert!(out.contains("closed loop, 2 clients"), "{out}");
    let n = samples(latency_line(&out, "commit latency"));
    assert!(n > 0, "{out}");
    assert!(out.contains("garbage datagrams counted: 0"), "{out}");
    assert!(out.contains("CPU not measured"), "{out}");
    assert_eq!(check_hgrm(&fs::read_to_string(&hgrm).unwrap()), n);
    check_svg(&fs::read_to_string(hgrm.with_extension("svg")).unwrap());

    // Open loop against the same group, written where it is told.
    let open_hgrm = dir.join("open.hgrm");
    let open = riptide(
        &[
            &args[..],
            &["--rate", "500", "--hgrm", open_hgrm.to_str().unwrap()],
        ]
        .concat(),
    );
    let out = stdout(&open);
    assert_eq!(open.status.code(), Some(0), "{out}\n{}", stderr(&open));
    assert!(out.contains("open loop, 500 ops/s"), "{out}");
    let n = samples(latency_line(&out, "commit latency"));
    assert_eq!(check_hgrm(&fs::read_to_string(&open_hgrm).unwrap()), n);
    check_svg(&fs::read_to_string(open_hgrm.with_extension("svg")).unwrap());
}

#[test]
fn a_cluster_file_the_bench_cannot_use_is_a_clear_error() {
    let dir = Scratch::new("bench-bad-config");
    let missing = dir.join("missing.toml");
    let missing = missing.to_str().unwrap();
    let broken = dir.write("broken.toml", "group = 3\n[[replica]\nid = 0\n");
    let unknown = dir.write(
        "unknown.toml",
        &common::THREE_REPLICAS.replace("group = 3", "group = 3\nreplicas = 3"),
    );
    for (file, says) in [
        (missing, "cannot read"),
        (broken.as_str(), "line 2"),
        (unknown.as_str(), "replicas"),
    ] {
        let output = riptide(&["bench", "--config", file, "--duration", "1"]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The file sets the group's size and window; the comparisons and the
    // soak start groups of their own; the other backends do not use UDP.
    let good = dir.write("cluster.toml", common::THREE_REPLICAS);
    for (extra, says) in [
        (&["--replicas", "5"][..], "cannot be used with"),
        (&["--window", "8"], "cannot be used with"),
        (&["--peer", "openraft"], "cannot be used with"),
        (&["--baseline"], "cannot be used with"),
        (&["--soak", "1"], "cannot be used with"),
        (&["--backend", "line-rate"], "implies --backend udp"),
    ] {
        let output = riptide(&[&["bench", "--config", good.as_str()][..], extra].concat());
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}

#[test]
fn a_group_that_is_not_running_is_a_clear_error() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("bench-no-group");
    let config = cluster_file(&dir);
    let output = riptide(&["bench", "--config", &config, "--duration", "1"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("no leader within"), "{err}");
    assert!(
        err.contains(&format!("are the replicas of {config} running")),
        "{err}"
    );
}

#[test]
fn line_rate_injection_commits_every_entry_and_prints_its_figures() {
    let dir = Scratch::new("bench-line-rate");
    let hgrm = dir.join("line-rate.hgrm");
    let output = riptide(&[
        "bench",
        "--backend",
        "line-rate",
        "--nic",
        "model",
        "--ops",
        "3000",
        "--window",
        "32",
        "--hgrm",
        hgrm.to_str().unwrap(),
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{}", stderr(&output));
    assert!(out.contains("model card"), "{out}");
    assert!(
        out.contains("3000 submitted, 3000 accepted records, 3000 committed"),
        "{out}"
    );
    let throughput = out
        .lines()
        .find(|l| l.starts_with("throughput: "))
        .unwrap_or_else(|| panic!("no throughput in\n{out}"));
    let per_second: f64 = throughput["throughput: ".len()..]
        .split_once(" entries/s")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{throughput}"));
    assert!(per_second > 0.0, "{throughput}");
    assert_eq!(samples(latency_line(&out, "commit latency")), 3000);
    assert_eq!(check_hgrm(&fs::read_to_string(&hgrm).unwrap()), 3000);
}
