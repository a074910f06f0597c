//! Faults as data: a [`FaultSchedule`] is a serializable list of timed fault
//! windows and events, either generated from the seed or given explicitly
//! (JSON), and a run with the same seed and schedule replays bit for bit.

use std::collections::BTreeMap;
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
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Drop,
        FaultKind::Dup,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Crash,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::Dup => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
        }
    }

    /// Parses a comma-separated list such as `drop,dup,crash`; `all` and
    /// `none` (or the empty string) are accepted too.
    pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, UnknownFaultKind> {
        match list.trim() {
            "all" => return Ok(FaultKind::ALL.to_vec()),
            "" | "none" => return Ok(Vec::new()),
            _ => {}
        }
        let mut kinds = list
            .split(',')
            .map(|name| name.trim().parse())
            .collect::<Result<Vec<FaultKind>, _>>()?;
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown fault kind {0:?} (expected drop, dup, reorder, partition, crash, all or none)")]
pub struct UnknownFaultKind(pub String);

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(name: &str) -> Result<FaultKind, UnknownFaultKind> {
        FaultKind::ALL
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
                } => {
                    replica_ok(*replica)?;
                    window_ok(*at_us, *restart_us)?;
                }
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
        for &kind in kinds {
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
                }
            }
        }
        if kinds.contains(&FaultKind::Crash) {
            faults.extend(generate_crashes(replicas, heal_us, recovery_us, rng));
        }
        FaultSchedule { heal_us, faults }
    }

    /// Every crash, as (replica, crash time, restart time).
    pub fn crashes(&self) -> impl Iterator<Item = (u8, Micros, Micros)> + '_ {
        self.faults.iter().filter_map(|fault| match *fault {
            Fault::Crash {
                replica,
                at_us,
                restart_us,
            } => Some((replica, at_us, restart_us)),
            _ => None,
        })
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
        assert_eq!(FaultKind::parse_list("all").unwrap().len(), 5);
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
        assert!(FaultKind::parse_list("drop,lightning").is_err());
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
