//! Helpers shared by the end-to-end tests: running the `riptide` binary,
//! scratch directories, a three-replica `cluster.toml`, and polling until a
//! condition holds. The process group itself is
//! `riptide_bench::udp::group`, which the benchmark uses too.
//!
//! Each test file is its own crate and uses a subset of these.
#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

/// Runs the `riptide` binary built for these tests.
pub fn riptide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riptide"))
        .args(args)
        .output()
        .expect("the riptide binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A three-replica group on 127.0.0.1 with peer ports 7100–7102 and client
/// ports 7200–7202: for tests that never start it.
pub const THREE_REPLICAS: &str = r#"
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

/// A directory for one test, named by the test binary's process and `name`,
/// empty when made and removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("riptide-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `content` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `check` every `every` until it says `Break`, and returns its value.
/// `Continue` carries what the check saw; once `deadline` has passed, the last
/// of those is handed to `why` and the test fails with its message: the
/// explanation (often the replicas' logs) is only built for a failure, not on
/// every poll.
pub fn wait_until<T, S>(
    deadline: Instant,
    every: Duration,
    mut check: impl FnMut() -> ControlFlow<T, S>,
    why: impl FnOnce(S) -> String,
) -> T {
    let last = loop {
        match check() {
            ControlFlow::Break(done) => return done,
            ControlFlow::Continue(seen) if Instant::now() >= deadline => break seen,
            ControlFlow::Continue(_) => thread::sleep(every),
        }
    };
    panic!("{}", why(last));
}
