//! Faults as data: a [`FaultSchedule`] is a serializable list of timed fault
//! windows and events, either generated from the seed or given explicitly
//! (JSON), and a run with the same seed and schedule replays bit for bit.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::latency::{Micros, ms};
use crate::rng::{self, Rng};

/// The kinds of fault a generated schedule may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Drop,
    Dup,
    Reorder,
    Partition,
    Crash,
    /// Crashes whose restart has lost its state record too, so it does not
    /// know its incarnation.
    Wipe,
    /// Crashes of the host alone: the NIC keeps its programming and its traffic.
    HostCrash,
    /// Every replica's clock runs fast or slow by its own factor.
    Drift,
    /// Crashes are carried out even past f replicas without state (opt-in:
    /// not in `all`, since the group then stops by design).
    BeyondF,
}

impl FaultKind {
    /// Every kind a group survives: what `all` means. `BeyondF` is left out
    /// because a group that lost f+1 replicas' state stops for good.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Drop,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Wipe,
        FaultKind::HostCrash,
        FaultKind::Drift,
    ];

    /// The kinds the planted-bug seeds and the throughput figures of
    /// `docs/simulator.md` were first measured with.
    pub const CLASSIC: [FaultKind; 5] = [
        FaultKind::Drop,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Crash,
    ];

    /// Every kind there is, `BeyondF` included.
    pub const EVERY: [FaultKind; 9] = [
        FaultKind::Drop,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Wipe,
        FaultKind::HostCrash,
        FaultKind::Drift,
        FaultKind::BeyondF,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::Dup => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Wipe => "wipe",
            FaultKind::HostCrash => "host_crash",
            FaultKind::Drift => "drift",
            FaultKind::BeyondF => "beyond_f",
        }
    }

    /// Parses a comma-separated list such as `drop,dup,crash`; `none` (or
    /// the empty string) is no kind, and `all` in the list stands for
    /// [`FaultKind::ALL`] (so `all,beyond_f` is every kind).
    pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, UnknownFaultKind> {
        if matches!(list.trim(), "" | "none") {
            return Ok(Vec::new());
        }
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim) {
            if name == "all" {
                kinds.extend(FaultKind::ALL);
            } else {
                kinds.push(name.parse()?);
            }
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }

    /// Kinds that crash replicas (each generated crash takes one of these
    /// flavours).
    fn crashes(self) -> bool {
        matches!(
            self,
            FaultKind::Crash | FaultKind::Wipe | FaultKind::HostCrash
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown fault kind {0:?} (expected drop, dup, reorder, partition, crash, wipe, host_crash, drift, beyond_f, all or none)"
)]
pub struct UnknownFaultKind(pub String);

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(name: &str) -> Result<FaultKind, UnknownFaultKind> {
        FaultKind::EVERY
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownFaultKind(name.to_string()))
    }
}

/// One fault. Windows are active for `start_us <= t < end_us`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Each replica-to-replica or client message sent in the window is lost
    /// with probability `rate`.
    Drop {
        start_us: Micros,
        end_us: Micros,
        rate: f64,
    },
    /// Each message sent in the window is delivered twice with probability `rate`.
    Dup {
        start_us: Micros,
        end_us: Micros,
        rate: f64,
    },
    /// Messages sent in the window take `extra_us` longer plus up to
    /// `jitter_us` more, drawn per message: a large jitter reorders them.
    Delay {
        start_us: Micros,
        end_us: Micros,
        extra_us: Micros,
        jitter_us: Micros,
    },
    /// Replicas in `side` cannot exchange messages with the others; a message
    /// is lost if the partition separates its ends when sent or when due.
    Partition {
        start_us: Micros,
        end_us: Micros,
        side: Vec<u8>,
    },
    /// The link between replicas `a` and `b` is down both ways, while both
    /// still reach everyone else: a partial (non-transitive) partition, as
    /// when two replicas lose sight of each other but not of a third.
    Cut {
        start_us: Micros,
        end_us: Micros,
        a: u8,
        b: u8,
    },
    /// Replica `replica` crashes at `at_us`, losing all its state and its NIC's,
    /// and restarts with amnesia (`Replica::restarted`, a fresh NIC) at `restart_us`.
    Crash {
        replica: u8,
        at_us: Micros,
        restart_us: Micros,
    },
    /// A `Crash` whose restart has lost the state record as well (a deleted
    /// state directory): it passes `Replica::restarted` the guess 1 instead of
    /// its true incarnation, which recovery must raise.
    Wipe {
        replica: u8,
        at_us: Micros,
        restart_us: Micros,
    },
    /// Replica `replica`'s host crashes at `at_us` and restarts with amnesia
    /// at `restart_us`, while its NIC survives: it keeps its programming and
    /// keeps handling frames, and the card-to-host records it produces
    /// meanwhile are lost.
    HostCrash {
        replica: u8,
        at_us: Micros,
        restart_us: Micros,
    },
    /// Replica `replica`'s clock is off by `permille` thousandths for the
    /// whole run: its tick period is `tick * (1000 + permille) / 1000`
    /// (positive: a slow clock, negative: a fast one). Clocks keep drifting after the heal
    /// time; liveness must hold all the same.
    Drift { replica: u8, permille: i32 },
    /// Crashes (of any flavour) are carried out even when they leave more
    /// than f replicas without state, which the simulator otherwise skips.
    /// The group may then stop for good (`docs/protocol.md`), and liveness
    /// accepts that outcome; safety must hold regardless.
    BeyondF,
    /// The `seq`-th frame (counting from 1) that replica `from`'s NIC puts on
    /// the wire for replica `to` is lost: one specific message, for fault search.
    Omit { from: u8, to: u8, seq: u64 },
    /// The `seq`-th frame `from`'s NIC puts on the wire for `to` (numbered as
    /// for `Omit`) arrives `by_us` later than it would have: one specific
    /// message held back, for fault search into races (a message landing
    /// inside another replica's window, e.g. between a PREPARE and the
    /// fence that must precede the PROMISE).
    Hold {
        from: u8,
        to: u8,
        seq: u64,
        by_us: Micros,
    },
}

/// How far an explicit schedule may set a clock off, in thousandths: a
/// clock at half or twice the speed of the others is broken hardware, not drift.
pub const MAX_DRIFT_PERMILLE: i32 = 500;

/// How far a generated schedule sets each clock off (±10%), in thousandths.
const GENERATED_DRIFT_PERMILLE: u64 = 100;

/// What a crash takes with it, and what the restart knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Host and NIC; the restart knows its incarnation.
    Full,
    /// Host and NIC; the restart guesses incarnation 1.
    Wipe,
    /// The host only; the NIC survives with its programming.
    HostOnly,
}

/// One crash of any flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashEvent {
    pub replica: u8,
    pub at_us: Micros,
    pub restart_us: Micros,
    pub mode: CrashMode,
}

/// Everything that goes wrong in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSchedule {
    /// No fault is active from this time on: the network is reliable (no loss,
    /// no duplication, ordinary latency) and every replica is up.
    pub heal_us: Micros,
    pub faults: Vec<Fault>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    #[error("fault {index}: replica {replica} does not exist in a group of {replicas}")]
    NoSuchReplica {
        index: usize,
        replica: u8,
        replicas: u8,
    },
    #[error(
        "fault {index}: window {start_us}..{end_us} us is empty or ends after the heal time {heal_us} us"
    )]
    BadWindow {
        index: usize,
        start_us: Micros,
        end_us: Micros,
        heal_us: Micros,
    },
    #[error("fault {index}: rate {rate} is not within 0..=1")]
    BadRate { index: usize, rate: f64 },
    #[error(
        "fault {index}: a partition side must be a non-empty proper subset of the replicas, a cut must join two different replicas"
    )]
    BadPartition { index: usize },
    #[error(
        "fault {index}: an omission or a hold needs two different replicas, seq >= 1 (and a hold by_us >= 1)"
    )]
    BadOmission { index: usize },
    #[error(
        "fault {index}: a drift must be within -{MAX_DRIFT_PERMILLE}..={MAX_DRIFT_PERMILLE} permille, one per replica"
    )]
    BadDrift { index: usize },
    #[error("schedule is not valid JSON: {0}")]
    Json(String),
}

impl FaultSchedule {
    /// A schedule without faults.
    pub fn none() -> FaultSchedule {
        FaultSchedule {
            heal_us: 0,
            faults: Vec::new(),
        }
    }

    /// Reads an explicit schedule (untrusted text) and validates it for a
    /// group of `replicas`.
    pub fn from_json(text: &str, replicas: u8) -> Result<FaultSchedule, ScheduleError> {
        let schedule: FaultSchedule =
            serde_json::from_str(text).map_err(|e| ScheduleError::Json(e.to_string()))?;
        schedule.validate(replicas)?;
        Ok(schedule)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a fault schedule always serializes")
    }

    /// Checks that every fault names existing replicas and ends by the heal time.
    pub fn validate(&self, replicas: u8) -> Result<(), ScheduleError> {
        for (index, fault) in self.faults.iter().enumerate() {
            let replica_ok = |replica: u8| {
                if replica < replicas {
                    Ok(())
                } else {
                    Err(ScheduleError::NoSuchReplica {
                        index,
                        replica,
                        replicas,
                    })
                }
            };
            let window_ok = |start_us: Micros, end_us: Micros| {
                if start_us < end_us && end_us <= self.heal_us {
                    Ok(())
                } else {
                    Err(ScheduleError::BadWindow {
                        index,
                        start_us,
                        end_us,
                        heal_us: self.heal_us,
                    })
                }
            };
            let rate_ok = |rate: f64| {
                if (0.0..=1.0).contains(&rate) {
                    Ok(())
                } else {
                    Err(ScheduleError::BadRate { index, rate })
                }
            };
            match fault {
                Fault::Drop {
                    start_us,
                    end_us,
                    rate,
                }
                | Fault::Dup {
                    start_us,
                    end_us,
                    rate,
                } => {
                    window_ok(*start_us, *end_us)?;
                    rate_ok(*rate)?;
                }
                Fault::Delay {
                    start_us, end_us, ..
                } => window_ok(*start_us, *end_us)?,
                Fault::Partition {
                    start_us,
                    end_us,
                    side,
                } => {
                    window_ok(*start_us, *end_us)?;
                    side.iter().try_for_each(|&r| replica_ok(r))?;
                    let mut distinct = side.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    if distinct.is_empty() || distinct.len() >= usize::from(replicas) {
                        return Err(ScheduleError::BadPartition { index });
                    }
                }
                Fault::Cut {
                    start_us,
                    end_us,
                    a,
                    b,
                } => {
                    window_ok(*start_us, *end_us)?;
                    replica_ok(*a)?;
                    replica_ok(*b)?;
                    if a == b {
                        return Err(ScheduleError::BadPartition { index });
                    }
                }
                Fault::Crash {
                    replica,
                    at_us,
                    restart_us,
                }
                | Fault::Wipe {
                    replica,
                    at_us,
                    restart_us,
                }
                | Fault::HostCrash {
                    replica,
                    at_us,
                    restart_us,
                } => {
                    replica_ok(*replica)?;
                    window_ok(*at_us, *restart_us)?;
                }
                Fault::Drift { replica, permille } => {
                    replica_ok(*replica)?;
                    let twice = self.faults[..index]
                        .iter()
                        .any(|f| matches!(f, Fault::Drift { replica: r, .. } if r == replica));
                    if permille.abs() > MAX_DRIFT_PERMILLE || twice {
                        return Err(ScheduleError::BadDrift { index });
                    }
                }
                Fault::BeyondF => {}
                Fault::Omit { from, to, seq } => {
                    replica_ok(*from)?;
                    replica_ok(*to)?;
                    if from == to || *seq == 0 {
                        return Err(ScheduleError::BadOmission { index });
                    }
                }
                Fault::Hold {
                    from,
                    to,
                    seq,
                    by_us,
                } => {
                    replica_ok(*from)?;
                    replica_ok(*to)?;
                    if from == to || *seq == 0 || *by_us == 0 {
                        return Err(ScheduleError::BadOmission { index });
                    }
                }
            }
        }
        Ok(())
    }

    /// Draws a schedule of the given kinds for a group of `replicas`, with
    /// every fault over by `heal_us`. At most f replicas are down or
    /// recovering at once (a restarted replica is given `recovery_us` to
    /// rebuild its state before another replica may lose its own), since
    /// losing the state of f+1 replicas can lose chosen values in any protocol.
    pub fn generate(
        kinds: &[FaultKind],
        replicas: u8,
        heal_us: Micros,
        recovery_us: Micros,
        rng: &mut Rng,
    ) -> FaultSchedule {
        let mut faults = Vec::new();
        if heal_us < 100 {
            return FaultSchedule { heal_us, faults };
        }
        let window = |rng: &mut Rng| {
            let start = rng.below(heal_us * 9 / 10);
            let len = rng.range_inclusive(heal_us / 20, heal_us / 3);
            (start, (start + len).min(heal_us))
        };
        for &kind in kinds
            .iter()
            .filter(|kind| FaultKind::CLASSIC.contains(kind))
        {
            let count = rng.range_inclusive(1, 3);
            for _ in 0..count {
                match kind {
                    FaultKind::Drop => {
                        let (start_us, end_us) = window(rng);
                        let rate = if rng::chance(rng, 0.2) {
                            1.0
                        } else {
                            rng.range_inclusive(5, 50) as f64 / 100.0
                        };
                        faults.push(Fault::Drop {
                            start_us,
                            end_us,
                            rate,
                        });
                    }
                    FaultKind::Dup => {
                        let (start_us, end_us) = window(rng);
                        let rate = rng.range_inclusive(5, 50) as f64 / 100.0;
                        faults.push(Fault::Dup {
                            start_us,
                            end_us,
                            rate,
                        });
                    }
                    FaultKind::Reorder => {
                        let (start_us, end_us) = window(rng);
                        let extra_us = if rng::chance(rng, 0.3) {
                            rng.range_inclusive(100, 3000)
                        } else {
                            0
                        };
                        faults.push(Fault::Delay {
                            start_us,
                            end_us,
                            extra_us,
                            jitter_us: rng.range_inclusive(10, 2000),
                        });
                    }
                    FaultKind::Partition if rng.below(3) == 0 => {
                        let (start_us, end_us) = window(rng);
                        let a = rng.below(u64::from(replicas)) as u8;
                        let b =
                            (a + rng.range_inclusive(1, u64::from(replicas) - 1) as u8) % replicas;
                        faults.push(Fault::Cut {
                            start_us,
                            end_us,
                            a: a.min(b),
                            b: a.max(b),
                        });
                    }
                    FaultKind::Partition => {
                        let (start_us, end_us) = window(rng);
                        let size = rng.range_inclusive(1, u64::from(replicas) - 1) as usize;
                        let mut members: Vec<u8> = (0..replicas).collect();
                        let mut side = Vec::with_capacity(size);
                        for _ in 0..size {
                            side.push(members.remove(rng.below(members.len() as u64) as usize));
                        }
                        side.sort_unstable();
                        faults.push(Fault::Partition {
                            start_us,
                            end_us,
                            side,
                        });
                    }
                    FaultKind::Crash => {}
                    FaultKind::Wipe
                    | FaultKind::HostCrash
                    | FaultKind::Drift
                    | FaultKind::BeyondF => unreachable!("drawn after the crashes, below"),
                }
            }
        }
        // Every draw for a kind added after the first five comes after the
        // crashes: a schedule of those five kinds stays what it was, so
        // seeds recorded before (planted bugs, LDFI comparisons) still mean
        // the same schedule.
        if kinds.contains(&FaultKind::Crash) {
            faults.extend(generate_crashes(replicas, heal_us, recovery_us, rng));
        }
        let flavours: Vec<FaultKind> = kinds.iter().copied().filter(|k| k.crashes()).collect();
        if flavours != [FaultKind::Crash] && !flavours.is_empty() {
            if !kinds.contains(&FaultKind::Crash) {
                faults.extend(generate_crashes(replicas, heal_us, recovery_us, rng));
            }
            give_crashes_flavours(&mut faults, &flavours, rng);
        }
        if kinds.contains(&FaultKind::Drift) {
            for replica in 0..replicas {
                let span = 2 * GENERATED_DRIFT_PERMILLE + 1;
                let permille = rng.below(span) as i32 - GENERATED_DRIFT_PERMILLE as i32;
                faults.push(Fault::Drift { replica, permille });
            }
        }
        if kinds.contains(&FaultKind::BeyondF) {
            faults.push(Fault::BeyondF);
            faults.extend(generate_majority_crash(replicas, heal_us, rng));
        }
        FaultSchedule { heal_us, faults }
    }

    /// Every crash of any flavour, as (replica, crash time, restart time).
    pub fn crashes(&self) -> impl Iterator<Item = (u8, Micros, Micros)> + '_ {
        self.crash_events()
            .map(|crash| (crash.replica, crash.at_us, crash.restart_us))
    }

    /// Every crash of any flavour, with what it takes and what its restart knows.
    pub fn crash_events(&self) -> impl Iterator<Item = CrashEvent> + '_ {
        self.faults.iter().filter_map(|fault| {
            let (replica, at_us, restart_us, mode) = match *fault {
                Fault::Crash {
                    replica,
                    at_us,
                    restart_us,
                } => (replica, at_us, restart_us, CrashMode::Full),
                Fault::Wipe {
                    replica,
                    at_us,
                    restart_us,
                } => (replica, at_us, restart_us, CrashMode::Wipe),
                Fault::HostCrash {
                    replica,
                    at_us,
                    restart_us,
                } => (replica, at_us, restart_us, CrashMode::HostOnly),
                _ => return None,
            };
            Some(CrashEvent {
                replica,
                at_us,
                restart_us,
                mode,
            })
        })
    }

    /// Whether crashes past f replicas without state are carried out.
    pub fn beyond_f(&self) -> bool {
        self.faults.contains(&Fault::BeyondF)
    }

    /// Replica `replica`'s clock error in thousandths (0: on time).
    pub fn drift_permille(&self, replica: u8) -> i32 {
        self.faults
            .iter()
            .find_map(|fault| match *fault {
                Fault::Drift {
                    replica: r,
                    permille,
                } if r == replica => Some(permille),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The loss probability for a message sent at `now`.
    pub fn drop_rate(&self, now: Micros) -> f64 {
        self.faults
            .iter()
            .filter_map(|fault| match *fault {
                Fault::Drop {
                    start_us,
                    end_us,
                    rate,
                } if (start_us..end_us).contains(&now) => Some(rate),
                _ => None,
            })
            .fold(0.0, f64::max)
    }

    /// The duplication probability for a message sent at `now`.
    pub fn dup_rate(&self, now: Micros) -> f64 {
        self.faults
            .iter()
            .filter_map(|fault| match *fault {
                Fault::Dup {
                    start_us,
                    end_us,
                    rate,
                } if (start_us..end_us).contains(&now) => Some(rate),
                _ => None,
            })
            .fold(0.0, f64::max)
    }

    /// Extra delay and extra jitter for a message sent at `now`.
    pub fn delay(&self, now: Micros) -> (Micros, Micros) {
        self.faults
            .iter()
            .filter_map(|fault| match *fault {
                Fault::Delay {
                    start_us,
                    end_us,
                    extra_us,
                    jitter_us,
                } if (start_us..end_us).contains(&now) => Some((extra_us, jitter_us)),
                _ => None,
            })
            .fold((0, 0), |(e, j), (extra, jitter)| (e + extra, j.max(jitter)))
    }

    /// Whether an active partition or cut separates replicas `a` and `b` at `now`.
    pub fn separated(&self, a: u8, b: u8, now: Micros) -> bool {
        self.faults.iter().any(|fault| match fault {
            Fault::Partition {
                start_us,
                end_us,
                side,
            } => (*start_us..*end_us).contains(&now) && (side.contains(&a) != side.contains(&b)),
            Fault::Cut {
                start_us,
                end_us,
                a: x,
                b: y,
            } => (*start_us..*end_us).contains(&now) && ((a, b) == (*x, *y) || (b, a) == (*x, *y)),
            _ => false,
        })
    }

    /// Whether the `seq`-th frame from `from` to `to` is to be lost.
    pub fn omitted(&self, from: u8, to: u8, seq: u64) -> bool {
        self.faults.contains(&Fault::Omit { from, to, seq })
    }

    /// How much longer the `seq`-th frame from `from` to `to` takes (0 unless held).
    pub fn held_us(&self, from: u8, to: u8, seq: u64) -> Micros {
        self.faults
            .iter()
            .map(|fault| match *fault {
                Fault::Hold {
                    from: f,
                    to: t,
                    seq: s,
                    by_us,
                } if (f, t, s) == (from, to, seq) => by_us,
                _ => 0,
            })
            .sum()
    }
}

/// Crashes with restarts such that at most f replicas are down or recovering
/// at once and no replica crashes again while down or recovering.
fn generate_crashes(
    replicas: u8,
    heal_us: Micros,
    recovery_us: Micros,
    rng: &mut Rng,
) -> Vec<Fault> {
    let f = usize::from((replicas - 1) / 2);
    let mut taken: Vec<(u8, Micros, Micros)> = Vec::new();
    let wanted = rng.range_inclusive(1, 2 * f as u64);
    for _ in 0..wanted * 4 {
        if taken.len() as u64 == wanted {
            break;
        }
        let replica = rng.below(u64::from(replicas)) as u8;
        let at_us = rng.below(heal_us * 4 / 5);
        let restart_us =
            (at_us + rng.range_inclusive(heal_us / 50 + 1, heal_us / 5 + 1)).min(heal_us);
        let busy_until = restart_us + recovery_us;
        let overlapping = |&&(_, a, b): &&(u8, Micros, Micros)| a < busy_until && at_us < b;
        let clash = taken
            .iter()
            .filter(overlapping)
            .any(|&(r, _, _)| r == replica);
        if !clash && taken.iter().filter(overlapping).count() < f {
            taken.push((replica, at_us, busy_until));
        }
    }
    taken
        .into_iter()
        .map(|(replica, at_us, busy_until)| Fault::Crash {
            replica,
            at_us,
            restart_us: busy_until - recovery_us,
        })
        .collect()
}

/// Turns each generated crash into one of `flavours`. A second crash of a
/// replica is where a lost state record matters (the first restart guesses
/// its incarnation right by luck), so it is a wipe more often.
fn give_crashes_flavours(faults: &mut [Fault], flavours: &[FaultKind], rng: &mut Rng) {
    let mut crashed_before = BTreeSet::new();
    let mut order: Vec<usize> = (0..faults.len())
        .filter(|&i| matches!(faults[i], Fault::Crash { .. }))
        .collect();
    order.sort_by_key(|&i| match faults[i] {
        Fault::Crash { at_us, .. } => at_us,
        _ => unreachable!("only crashes were kept"),
    });
    for i in order {
        let Fault::Crash {
            replica,
            at_us,
            restart_us,
        } = faults[i]
        else {
            unreachable!("only crashes were kept")
        };
        let again = !crashed_before.insert(replica);
        let flavour = if again && flavours.contains(&FaultKind::Wipe) && rng.below(2) == 0 {
            FaultKind::Wipe
        } else {
            flavours[rng.below(flavours.len() as u64) as usize]
        };
        faults[i] = match flavour {
            FaultKind::Wipe => Fault::Wipe {
                replica,
                at_us,
                restart_us,
            },
            FaultKind::HostCrash => Fault::HostCrash {
                replica,
                at_us,
                restart_us,
            },
            _ => faults[i].clone(),
        };
    }
}

/// f+1 replicas crashing within a short span late in the fault window, so
/// that the group loses f+1 replicas' state at once (the run has its
/// ordinary faults first); all restart before the heal time.
fn generate_majority_crash(replicas: u8, heal_us: Micros, rng: &mut Rng) -> Vec<Fault> {
    let f = (replicas - 1) / 2;
    let mut members: Vec<u8> = (0..replicas).collect();
    let first = heal_us / 2 + rng.below(heal_us / 4);
    (0..=f)
        .map(|_| {
            let replica = members.remove(rng.below(members.len() as u64) as usize);
            let at_us = first + rng.below(heal_us / 20 + 1);
            let restart_us = (at_us + rng.range_inclusive(heal_us / 20, heal_us / 5)).min(heal_us);
            Fault::Crash {
                replica,
                at_us,
                restart_us,
            }
        })
        .collect()
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return write!(f, "no faults");
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for fault in &self.faults {
            let name = match fault {
                Fault::Drop { .. } => "drop",
                Fault::Dup { .. } => "dup",
                Fault::Delay { .. } => "delay",
                Fault::Partition { .. } => "partition",
                Fault::Cut { .. } => "cut",
                Fault::Crash { .. } => "crash",
                Fault::Wipe { .. } => "wipe",
                Fault::HostCrash { .. } => "host_crash",
                Fault::Drift { .. } => "drift",
                Fault::BeyondF => "beyond_f",
                Fault::Omit { .. } => "omit",
                Fault::Hold { .. } => "hold",
            };
            *counts.entry(name).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        write!(
            f,
            "{} faults ({}), healed at {}",
            self.faults.len(),
            counts.join(", "),
            ms(self.heal_us)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(seed: u64, replicas: u8) -> FaultSchedule {
        FaultSchedule::generate(
            &FaultKind::ALL,
            replicas,
            50_000,
            5_000,
            &mut Rng::new(seed),
        )
    }

    #[test]
    fn kinds_parse_from_a_list() {
        assert_eq!(
            FaultKind::parse_list("crash,drop").unwrap(),
            vec![FaultKind::Drop, FaultKind::Crash]
        );
        assert_eq!(FaultKind::parse_list("all").unwrap(), FaultKind::ALL);
        assert_eq!(
            FaultKind::parse_list("beyond_f, all").unwrap(),
            FaultKind::EVERY
        );
        assert_eq!(
            FaultKind::parse_list("host_crash,wipe").unwrap(),
            vec![FaultKind::Wipe, FaultKind::HostCrash]
        );
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
        assert!(FaultKind::parse_list("drop,lightning").is_err());
        for kind in FaultKind::EVERY {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        }
    }

    #[test]
    fn the_first_five_kinds_draw_what_they_drew_before_the_others_existed() {
        // Printed by `riptide sim --seed 3 --faults drop,dup,reorder,partition,crash
        // --heal-us 40000` before the newer kinds existed: planted-bug seeds
        // and LDFI comparisons name schedules by seed.
        let before = r#"{"heal_us": 40000, "faults": [
            {"kind": "drop", "start_us": 14223, "end_us": 22939, "rate": 0.48},
            {"kind": "drop", "start_us": 12714, "end_us": 22089, "rate": 1.0},
            {"kind": "dup", "start_us": 32023, "end_us": 38007, "rate": 0.2},
            {"kind": "dup", "start_us": 33891, "end_us": 40000, "rate": 0.41},
            {"kind": "dup", "start_us": 4906, "end_us": 15796, "rate": 0.05},
            {"kind": "delay", "start_us": 1048, "end_us": 6796, "extra_us": 435, "jitter_us": 1594},
            {"kind": "delay", "start_us": 29324, "end_us": 31903, "extra_us": 0, "jitter_us": 1066},
            {"kind": "partition", "start_us": 17868, "end_us": 25741, "side": [1]},
            {"kind": "partition", "start_us": 11192, "end_us": 18935, "side": [1, 2]},
            {"kind": "crash", "replica": 0, "at_us": 24691, "restart_us": 30820},
            {"kind": "crash", "replica": 2, "at_us": 1361, "restart_us": 3309}]}"#;
        let before = FaultSchedule::from_json(before, 3).unwrap();
        let draw = |kinds: &[FaultKind]| {
            FaultSchedule::generate(kinds, 3, 40_000, 5_000, &mut rng::stream(3, "faults"))
        };
        assert_eq!(draw(&FaultKind::CLASSIC), before);
        // With every kind, the same windows and crash times come first; the
        // crashes only change flavour.
        let every = draw(&FaultKind::EVERY);
        let n = before.faults.len();
        assert_eq!(every.faults[..n - 2], before.faults[..n - 2]);
        let crashes: Vec<_> = every.crashes().take(2).collect();
        assert_eq!(crashes, before.crashes().collect::<Vec<_>>());
    }

    #[test]
    fn generated_new_kinds_are_valid_and_present() {
        let (mut wipes, mut host_crashes) = (0, 0);
        for seed in 0..200 {
            for replicas in [3u8, 5] {
                let schedule = FaultSchedule::generate(
                    &FaultKind::EVERY,
                    replicas,
                    40_000,
                    5_000,
                    &mut Rng::new(seed),
                );
                schedule.validate(replicas).unwrap();
                assert!(schedule.beyond_f());
                for replica in 0..replicas {
                    let drift = schedule.drift_permille(replica);
                    assert!((-100..=100).contains(&drift), "{drift}");
                }
                let crashes: Vec<CrashEvent> = schedule.crash_events().collect();
                wipes += crashes.iter().filter(|c| c.mode == CrashMode::Wipe).count();
                host_crashes += crashes
                    .iter()
                    .filter(|c| c.mode == CrashMode::HostOnly)
                    .count();
                // The majority crash: f+1 replicas down at one instant.
                let f = usize::from((replicas - 1) / 2);
                let most_down = crashes
                    .iter()
                    .map(|c| {
                        crashes
                            .iter()
                            .filter(|d| d.at_us <= c.at_us && c.at_us < d.restart_us)
                            .count()
                    })
                    .max()
                    .unwrap();
                assert!(most_down > f, "seed {seed}: {schedule:?}");
            }
        }
        assert!(wipes > 50 && host_crashes > 50, "{wipes} {host_crashes}");
    }

    #[test]
    fn generated_schedules_are_valid_and_respect_the_crash_budget() {
        for seed in 0..300 {
            for replicas in [3u8, 5] {
                let schedule = generated(seed, replicas);
                schedule.validate(replicas).unwrap();
                let crashes: Vec<_> = schedule.crashes().collect();
                assert!(!crashes.is_empty());
                for &(_, at, _) in &crashes {
                    let down = crashes
                        .iter()
                        .filter(|&&(_, a, b)| a <= at && at < b + 5_000)
                        .count();
                    assert!(
                        down <= usize::from((replicas - 1) / 2),
                        "seed {seed}: {down} down"
                    );
                }
            }
        }
    }

    #[test]
    fn schedules_round_trip_through_json_and_generation_replays() {
        let schedule = generated(11, 5);
        assert_eq!(schedule, generated(11, 5));
        assert_eq!(
            FaultSchedule::from_json(&schedule.to_json(), 5).unwrap(),
            schedule
        );
    }

    #[test]
    fn new_kinds_read_from_json() {
        let text = r#"{"heal_us":100,"faults":[
            {"kind":"wipe","replica":1,"at_us":5,"restart_us":9},
            {"kind":"host_crash","replica":2,"at_us":1,"restart_us":2},
            {"kind":"drift","replica":0,"permille":-80},
            {"kind":"beyond_f"}]}"#;
        let schedule = FaultSchedule::from_json(text, 3).unwrap();
        assert!(schedule.beyond_f());
        assert_eq!(schedule.drift_permille(0), -80);
        assert_eq!(schedule.drift_permille(1), 0);
        let modes: Vec<CrashMode> = schedule.crash_events().map(|c| c.mode).collect();
        assert_eq!(modes, [CrashMode::Wipe, CrashMode::HostOnly]);
        assert_eq!(
            schedule.to_string(),
            "4 faults (beyond_f x1, drift x1, host_crash x1, wipe x1), healed at 0.1 ms"
        );
        assert_eq!(
            FaultSchedule::from_json(&schedule.to_json(), 3).unwrap(),
            schedule
        );
    }

    #[test]
    fn bad_explicit_schedules_are_rejected_not_panicked_on() {
        let bad = [
            r#"{"heal_us":10,"faults":[{"kind":"crash","replica":7,"at_us":1,"restart_us":2}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"drop","start_us":5,"end_us":50,"rate":0.1}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"dup","start_us":1,"end_us":5,"rate":3}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"partition","start_us":1,"end_us":5,"side":[0,1,2]}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"omit","from":1,"to":1,"seq":1}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"hold","from":0,"to":1,"seq":1,"by_us":0}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"cut","start_us":1,"end_us":5,"a":2,"b":2}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"meteor"}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"wipe","replica":1,"at_us":5,"restart_us":5}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"host_crash","replica":3,"at_us":1,"restart_us":2}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"drift","replica":0,"permille":501}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"drift","replica":0,"permille":5},{"kind":"drift","replica":0,"permille":-5}]}"#,
            r#"{"heal_us":10,"faults":[{"kind":"drift","replica":9,"permille":0}]}"#,
            "not json",
        ];
        for text in bad {
            assert!(FaultSchedule::from_json(text, 3).is_err(), "{text}");
        }
    }

    #[test]
    fn queries_see_only_active_windows() {
        let schedule = FaultSchedule {
            heal_us: 100,
            faults: vec![
                Fault::Drop {
                    start_us: 10,
                    end_us: 20,
                    rate: 0.5,
                },
                Fault::Partition {
                    start_us: 30,
                    end_us: 40,
                    side: vec![2],
                },
                Fault::Omit {
                    from: 0,
                    to: 1,
                    seq: 3,
                },
                Fault::Cut {
                    start_us: 50,
                    end_us: 60,
                    a: 0,
                    b: 1,
                },
                Fault::Hold {
                    from: 1,
                    to: 2,
                    seq: 4,
                    by_us: 70,
                },
            ],
        };
        assert_eq!(schedule.held_us(1, 2, 4), 70);
        assert_eq!(schedule.held_us(1, 2, 3) + schedule.held_us(2, 1, 4), 0);
        assert!(schedule.separated(1, 0, 55) && !schedule.separated(1, 2, 55));
        assert_eq!(schedule.drop_rate(15), 0.5);
        assert_eq!(schedule.drop_rate(20), 0.0);
        assert!(schedule.separated(0, 2, 35) && !schedule.separated(0, 1, 35));
        assert!(!schedule.separated(0, 2, 40));
        assert!(schedule.omitted(0, 1, 3) && !schedule.omitted(1, 0, 3));
    }
}
