//! Values at the 16 KiB limit through elections and recoveries: a follower
//! holds several of them above its commit when the leader goes, so its
//! PROMISE (and a responder's RECOVERY_RESPONSE) does not fit one datagram
//! and goes in parts (`docs/protocol.md`, "Answers in parts"). Withheld, as
//! they were before, they stall: with this schedule a recovery never
//! completes (its answers are withheld), so the third crash is skipped.

use riptide_sim::faults::{Fault, FaultSchedule};
use riptide_sim::{FaultPlan, SimConfig};

use super::run;

/// Padded to just under the log's 16 KiB value limit with the key and the
/// request's framing.
const VALUE_LEN: usize = 16_000;

/// Every replica crashes once, with amnesia, while 32 clients write large
/// values and every message takes 0.3 ms longer: commits trail the
/// ACCEPTs, so followers hold many values above their commit. Whichever
/// leads when it crashes leaves an election behind it, and each restart a
/// recovery.
fn crashes_under_large_writes(seed: u64) -> SimConfig {
    let crash = |replica: u8, at_us: u64| Fault::Crash {
        replica,
        at_us,
        restart_us: at_us + 2_000,
    };
    let schedule = FaultSchedule {
        heal_us: 20_000,
        faults: vec![
            Fault::Delay {
                start_us: 0,
                end_us: 20_000,
                extra_us: 300,
                jitter_us: 0,
            },
            crash(0, 4_000),
            crash(1, 9_000),
            crash(2, 14_000),
        ],
    };
    let mut config = SimConfig::new(3, seed, 2_000);
    config.clients = 32;
    config.think_us = Some(100);
    config.value_len = VALUE_LEN;
    config.faults = FaultPlan::Explicit(schedule);
    config
}

#[test]
fn elections_and_recoveries_complete_with_values_at_the_limit_in_flight() {
    for seed in 0..3 {
        let report = run(&crashes_under_large_writes(seed));
        println!(
            "seed {seed}: {} elections, {} crashes, {:.1} ms",
            report.stats.elections,
            report.stats.crashes,
            report.stats.virtual_us as f64 / 1000.0
        );
        assert!(report.all_ok(), "{report}");
        assert_eq!(report.stats.crashes, 3, "{report}");
        assert!(report.stats.elections >= 2, "{report}");
        assert!(
            report.stats.virtual_us > 18_000,
            "ran past the crashes: {report}"
        );
    }
}
