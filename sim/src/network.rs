//! The simulated network (Verdi-style semantics): every message may be lost,
//! duplicated, delayed or reordered, and partitions cut replicas apart, all as
//! the [`FaultSchedule`] says; outside fault windows delivery is reliable.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::faults::FaultSchedule;
use crate::latency::{LatencyModel, Micros};
use crate::rng::{self, Rng};

/// What happened to messages, counted separately for replica-to-replica
/// frames and client-to-host traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrafficStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Lost to a partition (counted apart from random drops).
    pub partitioned: u64,
    /// Lost to an explicit omission fault.
    pub omitted: u64,
}

#[derive(Debug, Clone)]
pub struct Network {
    latency: LatencyModel,
    rng: Rng,
    /// Frames put on each directed link so far: names messages for omissions.
    link_seq: BTreeMap<(u8, u8), u64>,
    pub frames: TrafficStats,
    pub client: TrafficStats,
}

impl Network {
    pub fn new(latency: LatencyModel, rng: Rng) -> Network {
        Network {
            latency,
            rng,
            link_seq: BTreeMap::new(),
            frames: TrafficStats::default(),
            client: TrafficStats::default(),
        }
    }

    /// Arrival times of a frame that replica `from`'s NIC sends to replica
    /// `to` at `now`: none if lost, two if duplicated.
    pub fn send_frame(
        &mut self,
        schedule: &FaultSchedule,
        from: u8,
        to: u8,
        now: Micros,
    ) -> Vec<Micros> {
        self.frames.sent += 1;
        let seq = self.link_seq.entry((from, to)).or_default();
        *seq += 1;
        let seq = *seq;
        if schedule.omitted(from, to, seq) {
            self.frames.omitted += 1;
            return Vec::new();
        }
        if schedule.separated(from, to, now) {
            self.frames.partitioned += 1;
            return Vec::new();
        }
        let base = self.latency.network_us;
        let jitter = self.latency.network_jitter_us;
        let held = schedule.held_us(from, to, seq);
        let mut arrivals = fate(&mut self.rng, &mut self.frames, schedule, now, base, jitter);
        for arrival in &mut arrivals {
            *arrival += held;
        }
        arrivals
    }

    /// Whether a frame from `from` due at `to` at `now` gets there: a
    /// partition that started while it was in flight cuts it off.
    pub fn frame_arrives(
        &mut self,
        schedule: &FaultSchedule,
        from: u8,
        to: u8,
        now: Micros,
    ) -> bool {
        if schedule.separated(from, to, now) {
            self.frames.partitioned += 1;
            return false;
        }
        self.frames.delivered += 1;
        true
    }

    /// Arrival times of a message between a client and a replica's host.
    pub fn send_client(&mut self, schedule: &FaultSchedule, now: Micros) -> Vec<Micros> {
        self.client.sent += 1;
        let arrivals = fate(
            &mut self.rng,
            &mut self.client,
            schedule,
            now,
            self.latency.client_us,
            self.latency.network_jitter_us,
        );
        self.client.delivered += arrivals.len() as u64;
        arrivals
    }
}

/// Draws loss, duplication and latency for one message sent at `now`.
fn fate(
    rng: &mut Rng,
    stats: &mut TrafficStats,
    schedule: &FaultSchedule,
    now: Micros,
    base: Micros,
    jitter: Micros,
) -> Vec<Micros> {
    if rng::chance(rng, schedule.drop_rate(now)) {
        stats.dropped += 1;
        return Vec::new();
    }
    let copies = if rng::chance(rng, schedule.dup_rate(now)) {
        stats.duplicated += 1;
        2
    } else {
        1
    };
    let (extra, extra_jitter) = schedule.delay(now);
    (0..copies)
        .map(|_| now + base + extra + rng.range_inclusive(0, jitter + extra_jitter))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;

    fn network() -> Network {
        Network::new(LatencyModel::default(), Rng::new(3))
    }

    #[test]
    fn without_faults_every_frame_arrives_once_within_the_latency_bounds() {
        let mut net = network();
        let none = FaultSchedule::none();
        for t in 0..1000 {
            let arrivals = net.send_frame(&none, 0, 1, t);
            assert_eq!(arrivals.len(), 1);
            assert!((t + 5..=t + 7).contains(&arrivals[0]));
        }
        assert_eq!(net.frames.dropped + net.frames.duplicated, 0);
    }

    #[test]
    fn windows_drop_duplicate_delay_and_partition() {
        let schedule = FaultSchedule {
            heal_us: 400,
            faults: vec![
                Fault::Drop {
                    start_us: 0,
                    end_us: 100,
                    rate: 1.0,
                },
                Fault::Dup {
                    start_us: 100,
                    end_us: 200,
                    rate: 1.0,
                },
                Fault::Delay {
                    start_us: 200,
                    end_us: 300,
                    extra_us: 1000,
                    jitter_us: 0,
                },
                Fault::Partition {
                    start_us: 300,
                    end_us: 400,
                    side: vec![1],
                },
                Fault::Omit {
                    from: 2,
                    to: 0,
                    seq: 2,
                },
            ],
        };
        let mut net = network();
        assert!(net.send_frame(&schedule, 0, 1, 50).is_empty());
        assert_eq!(net.send_frame(&schedule, 0, 1, 150).len(), 2);
        assert!(net.send_frame(&schedule, 0, 1, 250)[0] >= 1250);
        assert!(net.send_frame(&schedule, 0, 1, 350).is_empty());
        assert_eq!(net.send_frame(&schedule, 0, 2, 350).len(), 1);
        assert!(!net.frame_arrives(&schedule, 0, 1, 399));
        assert!(net.frame_arrives(&schedule, 0, 1, 400));
        assert_eq!(net.send_frame(&schedule, 2, 0, 500).len(), 1);
        assert!(net.send_frame(&schedule, 2, 0, 500).is_empty());
        assert_eq!(net.send_frame(&schedule, 2, 0, 500).len(), 1);
        assert_eq!(net.frames.omitted, 1);
        assert_eq!(net.frames.partitioned, 2);
    }
}
