//! Child processes of a benchmark: started so that they die with the
//! benchmark, killed and reaped on drop, and their CPU time read from
//! `/proc/PID/stat` so a report can say what each process spent per
//! operation.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::Context;

/// Asks the kernel to kill the child when the thread that started it dies
/// (`PR_SET_PDEATHSIG`), so a crashed or killed benchmark leaves no process.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe, and nothing else runs between
    // fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Named children, killed and reaped on drop.
#[derive(Default)]
pub struct Children {
    children: Vec<(String, Child)>,
}

impl Children {
    /// Starts `command` (which dies with its parent) as `name`.
    pub fn spawn(&mut self, name: &str, mut command: Command) -> anyhow::Result<()> {
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// (name, pid) of every child, in start order.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.children
            .iter()
            .map(|(name, child)| (name.clone(), child.id()))
            .collect()
    }

    /// The first child that has exited, with how.
    pub fn exited(&mut self) -> Option<(String, String)> {
        self.children.iter_mut().find_map(|(name, child)| {
            child
                .try_wait()
                .ok()
                .flatten()
                .map(|status| (name.clone(), status.to_string()))
        })
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// CPU time (user + system) process `pid` has used so far, or `None` if it
/// is gone or its stat line does not parse.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_micros(ticks * 1_000_000 / hz)
    })
}

/// Resident memory of process `pid` in bytes (`VmRSS` of
/// `/proc/PID/status`), or `None` if it is gone or the line does not parse.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(kib * 1024)
}

/// utime + stime, in clock ticks, from a `/proc/PID/stat` line. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3) ... utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time each of `pids` spent between two samples, as µs per operation
/// over `ops` operations.
pub fn cpu_us_per_op(
    before: &[Option<Duration>],
    after: &[Option<Duration>],
    ops: u64,
) -> Vec<f64> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| match (b, a) {
            (Some(b), Some(a)) => a.saturating_sub(*b).as_micros() as f64 / ops.max(1) as f64,
            _ => f64::NAN,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 99 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(22));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn resident_memory_is_read_in_bytes_and_a_bad_line_is_none() {
        let status = "Name:\triptide\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("VmRSS:\t12 MB\n"), None);
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(resident_bytes(std::process::id()).is_some_and(|b| b > 0));
    }

    #[test]
    fn this_process_has_a_cpu_time_that_grows() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        // Spins until a clock tick of CPU time is charged (on a loaded
        // machine that can take more wall time than CPU time).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_time(pid).unwrap() <= before && start.elapsed() < Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert!(cpu_time(pid).unwrap() > before);
    }
}
