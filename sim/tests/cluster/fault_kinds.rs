//! The fault kinds beyond network faults and plain crashes, each on an
//! explicit schedule where it must bite: a restart without its state record,
//! a NIC that outlives its host, more than f replicas losing their state at
//! once, and clocks that drift apart.

use riptide_sim::faults::{Fault, FaultKind, FaultSchedule};
use riptide_sim::{FaultPlan, SimConfig, SimReport};

use super::{HEAL_US, run};

fn explicit(replicas: u8, seed: u64, ops: u64, faults: Vec<Fault>) -> SimConfig {
    let schedule = FaultSchedule {
        heal_us: HEAL_US,
        faults,
    };
    schedule.validate(replicas).expect("a valid schedule");
    let mut config = SimConfig::new(replicas, seed, ops);
    config.clients = 4;
    config.faults = FaultPlan::Explicit(schedule);
    config
}

fn crash(replica: u8, at_us: u64, restart_us: u64) -> Fault {
    Fault::Crash {
        replica,
        at_us,
        restart_us,
    }
}

fn wipe(replica: u8, at_us: u64, restart_us: u64) -> Fault {
    Fault::Wipe {
        replica,
        at_us,
        restart_us,
    }
}

fn host_crash(replica: u8, at_us: u64, restart_us: u64) -> Fault {
    Fault::HostCrash {
        replica,
        at_us,
        restart_us,
    }
}

#[test]
fn a_restart_without_its_state_record_is_raised_to_its_true_incarnation() {
    // Replica 1 restarts three times; the last restart guesses life 1, which
    // every other replica knows is long gone.
    for replicas in [3, 5] {
        let config = explicit(
            replicas,
            4,
            300,
            vec![
                crash(1, 3_000, 5_000),
                crash(1, 14_000, 16_000),
                wipe(1, 25_000, 27_000),
            ],
        );
        let report = run(&config);
        assert!(report.all_ok(), "{report}");
        assert_eq!(
            (report.stats.crashes, report.stats.wipes),
            (3, 1),
            "{report}"
        );
        let r1 = &report.nodes[1];
        assert_eq!((r1.restarts, r1.incarnation), (3, 3), "{report}");
        assert_eq!(r1.role, "follower", "{report}");
    }
}

#[test]
fn a_nic_that_outlives_its_host_keeps_acking_and_the_log_stays_safe() {
    // Under load, each replica's host in turn (so the leader's too) crashes
    // while its NIC goes on handling phase 2.
    for replicas in [3u8, 5] {
        for victim in 0..replicas {
            let mut config = explicit(replicas, 9, 600, vec![host_crash(victim, 10_000, 18_000)]);
            config.think_us = Some(100);
            let report = run(&config);
            assert!(report.all_ok(), "r{victim} of {replicas}: {report}");
            assert_eq!(report.stats.host_crashes, 1, "{report}");
            assert!(
                report.stats.frames_to_orphan_nics > 0,
                "r{victim}'s NIC saw no frame while its host was down: {report}"
            );
            assert_eq!(report.nodes[usize::from(victim)].incarnation, 1);
        }
    }
}

fn beyond_f(replicas: u8, with_marker: bool) -> SimReport {
    let f = (replicas - 1) / 2;
    let mut faults: Vec<Fault> = (0..=f)
        .map(|r| crash(r, 20_000 + 500 * u64::from(r), 25_000))
        .collect();
    if with_marker {
        faults.push(Fault::BeyondF);
    }
    run(&explicit(replicas, 2, 300, faults))
}

#[test]
fn losing_f_plus_one_replicas_state_stops_the_group_safely_as_documented() {
    for replicas in [3u8, 5] {
        let f = (replicas - 1) / 2;
        let report = beyond_f(replicas, true);
        assert!(report.all_ok(), "{report}");
        assert_eq!(report.stats.crashes_beyond_f, 1, "{report}");
        let stall = report
            .checks
            .stall
            .as_ref()
            .unwrap_or_else(|| panic!("no stall reported:\n{report}"));
        assert_eq!(stall.without_state, (0..=f).collect::<Vec<u8>>());
        assert!(report.stats.ops_completed < 300, "{report}");
        let text = report.to_string();
        assert!(
            text.contains("liveness         ok, expected stall: "),
            "{text}"
        );
        for node in &report.nodes[..=usize::from(f)] {
            assert_eq!(node.role, "recovering", "{report}");
        }
    }
}

#[test]
fn without_the_opt_in_the_crash_past_f_is_skipped_and_the_group_lives() {
    for replicas in [3u8, 5] {
        let report = beyond_f(replicas, false);
        assert!(report.all_ok(), "{report}");
        assert!(report.checks.stall.is_none(), "{report}");
        assert_eq!(report.stats.crashes_skipped, 1, "{report}");
        assert_eq!(report.stats.ops_completed, 300, "{report}");
    }
}

#[test]
fn generated_schedules_past_f_stay_safe_and_stop_only_as_documented() {
    let kinds = [&FaultKind::ALL[..], &[FaultKind::BeyondF]].concat();
    let config = |replicas: u8, seed: u64| {
        let mut config = SimConfig::new(replicas, seed, 200).with_faults(&kinds, HEAL_US);
        config.clients = 4;
        config
    };
    let runs = (0..60)
        .map(|seed| (3, seed))
        .chain((0..40).map(|seed| (5, seed)));
    let (mut stalls, mut failures) = (0, Vec::new());
    for (replicas, seed) in runs {
        let report = run(&config(replicas, seed));
        stalls += usize::from(report.checks.stall.is_some());
        if !report.all_ok() {
            failures.push(report.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        stalls >= 50,
        "only {stalls} of 100 runs lost f+1 replicas' state"
    );
}

#[test]
fn a_fast_clock_wins_the_first_election() {
    // Election timeouts are 30..=60 ticks: a clock twice as fast as the
    // others' times out first whatever the draws.
    for seed in 0..5 {
        let faults = vec![
            Fault::Drift {
                replica: 0,
                permille: 400,
            },
            Fault::Drift {
                replica: 1,
                permille: 300,
            },
            Fault::Drift {
                replica: 2,
                permille: -400,
            },
        ];
        let mut config = explicit(3, seed, 100, faults);
        config.faults = match config.faults {
            FaultPlan::Explicit(mut schedule) => {
                schedule.heal_us = 0;
                FaultPlan::Explicit(schedule)
            }
            other => other,
        };
        let report = run(&config);
        assert!(report.all_ok(), "{report}");
        assert_eq!(report.stats.elections, 1, "{report}");
        assert_eq!(report.nodes[2].role, "leader", "seed {seed}: {report}");
        let again = run(&config);
        assert_eq!(again.stats.trace_hash, report.stats.trace_hash);
    }
}
