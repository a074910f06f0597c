//! Helpers shared by the tests that run replica processes. The process group
//! itself is `riptide_bench::udp::group`, which the benchmark uses too.

use std::ops::ControlFlow;
use std::thread;
use std::time::{Duration, Instant};

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
