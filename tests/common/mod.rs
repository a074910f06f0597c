//! Helpers shared by the tests that run replica processes. The process group
//! itself is `riptide_bench::udp::group`, which the benchmark uses too.

use std::thread;
use std::time::{Duration, Instant};

/// Runs `check` every `every` until it returns `Ok`, and returns its value.
/// Once `deadline` has passed, the last `Err` is handed to `why` and the test
/// fails with its message: the explanation (often the replicas' logs) is only
/// built for a failure, not on every poll.
pub fn wait_until<T, E>(
    deadline: Instant,
    every: Duration,
    mut check: impl FnMut() -> Result<T, E>,
    why: impl FnOnce(E) -> String,
) -> T {
    let last = loop {
        match check() {
            Ok(done) => return done,
            Err(last) if Instant::now() >= deadline => break last,
            Err(_) => thread::sleep(every),
        }
    };
    panic!("{}", why(last));
}
