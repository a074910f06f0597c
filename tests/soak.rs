//! `riptide bench --backend udp --soak`: a short soak of real replica
//! processes samples every replica's memory, restarts a follower halfway,
//! and reports that it caught up; bad minutes are refused.

mod common;
use common::{riptide, stderr, stdout};

#[test]
fn a_short_soak_samples_memory_and_times_a_restarted_follower_catching_up() {
    let output = riptide(&[
        "bench",
        "--backend",
        "udp",
        "--soak",
        "0.1",
        "--rate",
        "2000",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(out.contains("bound 256 MiB: within"), "{out}");
    let restart = out
        .lines()
        .find(|l| l.starts_with("restart: replica"))
        .unwrap_or_else(|| panic!("no restart line: {out}"));
    assert!(restart.contains("applied the leader's commit"), "{restart}");

    let csv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/soak-3.csv"),
    )
    .unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("seconds,replica0_mib,replica1_mib,replica2_mib")
    );
    let samples: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert!(samples.len() >= 5, "{csv}");
    for sample in &samples {
        assert_eq!(sample.len(), 4, "{csv}");
        for mib in sample[1..].iter().filter(|m| !m.is_empty()) {
            let mib: f64 = mib.parse().unwrap();
            assert!(mib > 0.0 && mib <= 256.0, "{csv}");
        }
    }
}

#[test]
fn a_soak_of_no_time_is_refused() {
    for minutes in ["0", "-1", "NaN"] {
        let soak = format!("--soak={minutes}");
        let output = riptide(&["bench", "--backend", "udp", &soak]);
        assert_eq!(output.status.code(), Some(2), "{minutes}");
        assert!(
            stderr(&output).contains("must be a positive number of minutes"),
            "{}",
            stderr(&output)
        );
    }
}
