//! The leader's side of phase 2 in software: feeding the NIC within the
//! window, heartbeats, retransmission when commit stalls, and re-election when
//! it stalls for long (which also hands a recovered replica a ballot it may
//! vote for).

use std::collections::{BTreeMap, VecDeque};

use riptide_wire::host::NicCommand;
use riptide_wire::{Ballot, Message};

use super::canonical::TimeView;
use super::clients::MAX_VALUE_LEN;
use super::{Replica, ReplicaConfig, State};
use crate::kv::{LogValue, Write};

/// A value waiting for a slot. The queue holds one per slot to come, so the
/// slot of anything queued is known when it is queued (read barriers rely
/// on it).
#[derive(Debug, Clone)]
pub(super) enum Queued {
    /// Bytes with a slot of their own: a re-proposal, a read barrier.
    Value(Vec<u8>),
    /// Client writes that will share one slot. The last of the queue takes
    /// more while it has room: with `max_inflight` slots in flight, every
    /// write that arrives before one commits goes into the next slot.
    Writes {
        writes: Vec<Write>,
        /// Their encoded bytes in a batch.
        len: usize,
    },
}

impl Queued {
    pub(super) fn into_value(self) -> Vec<u8> {
        match self {
            Queued::Value(value) => value,
            Queued::Writes { mut writes, .. } if writes.len() == 1 => {
                let Write {
                    client,
                    request,
                    command,
                } = writes.remove(0);
                LogValue::Request {
                    client,
                    request,
                    command,
                }
                .encode()
            }
            Queued::Writes { writes, .. } => LogValue::Batch(writes).encode(),
        }
    }
}

/// A get waiting for its read-index barrier slot to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingRead {
    /// `None`: it arrived while another barrier was in flight, and waits to
    /// share the next one with every get that arrives meanwhile.
    pub(super) barrier: Option<u64>,
    pub(super) client: u64,
    pub(super) request: u64,
    pub(super) key: String,
}

/// State of our leadership of `ballot`.
#[derive(Debug, Clone)]
pub(super) struct Leadership {
    pub(super) ballot: Ballot,
    /// The slot the NIC assigns to the next `Submit`.
    pub(super) next_slot: u64,
    /// The NIC's commit index under our ballot.
    pub(super) nic_commit: u64,
    /// Values waiting for room in the window, one per slot, in slot order.
    pub(super) queue: VecDeque<Queued>,
    /// Submitted, not yet committed: kept to retransmit in software.
    proposals: BTreeMap<u64, Vec<u8>>,
    /// Per client, the write request submitted or queued and not yet applied.
    pub(super) writes_in_flight: BTreeMap<u64, u64>,
    pub(super) reads: Vec<PendingRead>,
    next_heartbeat: u64,
    /// Last tick commit advanced, or nothing was outstanding.
    last_progress: u64,
    last_retransmit: u64,
}

impl Leadership {
    pub(super) fn into_reads(self) -> Vec<PendingRead> {
        self.reads
    }

    /// The slot the last queued value will get: a read barrier. It is
    /// assigned after anything queued now, so it is at or after every write
    /// this leader knows of (after an election, the queue holds the merged
    /// values being re-proposed, which may include acknowledged writes).
    pub(super) fn last_queued_slot(&self) -> Option<u64> {
        (!self.queue.is_empty()).then(|| self.next_slot + self.queue.len() as u64 - 1)
    }

    /// Queue a client write whose value fits [`MAX_VALUE_LEN`] alone: into
    /// the open batch at the tail if it fits there too, else into a slot of
    /// its own.
    pub(super) fn queue_write(&mut self, write: Write) {
        let add = write.encoded_len();
        if let Some(Queued::Writes { writes, len }) = self.queue.back_mut()
            && LogValue::BATCH_HEADER_LEN + *len + add <= MAX_VALUE_LEN
        {
            writes.push(write);
            *len += add;
            return;
        }
        self.queue.push_back(Queued::Writes {
            writes: vec![write],
            len: add,
        });
    }

    /// Timestamps as `canonical.rs` writes them, capped at the thresholds
    /// `leader_tick` compares them with.
    pub(super) fn rebase_time(&mut self, time: &TimeView, cfg: &ReplicaConfig) {
        self.next_heartbeat = time.deadline(self.next_heartbeat, cfg.heartbeat_ticks);
        self.last_progress = time.age(self.last_progress, 4 * cfg.retransmit_ticks);
        self.last_retransmit = time.age(self.last_retransmit, cfg.retransmit_ticks);
    }

    fn outstanding(&self) -> bool {
        self.next_slot - 1 > self.nic_commit || !self.queue.is_empty()
    }
}

impl Replica {
    /// Phase 1 is won: the NIC was configured as leader at `commit + 1`; queue
    /// the merged values so they are re-proposed under our ballot first.
    pub(super) fn start_leading(&mut self, ballot: Ballot, commit: u64, values: Vec<Vec<u8>>) {
        self.state = State::Leader(Leadership {
            ballot,
            next_slot: commit + 1,
            nic_commit: commit,
            queue: values.into_iter().map(Queued::Value).collect(),
            proposals: BTreeMap::new(),
            writes_in_flight: BTreeMap::new(),
            reads: Vec::new(),
            next_heartbeat: self.now + self.cfg.heartbeat_ticks,
            last_progress: self.now,
            last_retransmit: self.now,
        });
        // Announce the new ballot at once: followers reset their timers.
        self.nic_command(NicCommand::Heartbeat);
    }

    /// Submit queued values while the window has room, except the open
    /// batch (the queue's last value, if it is writes): that one waits while
    /// `max_inflight` slots are in flight, taking every write that arrives
    /// until a slot commits, so a batch grows with the load. A closed batch,
    /// a re-proposal or a barrier cannot grow and goes out at once.
    pub(super) fn submit_ready(&mut self) {
        let (window, max_inflight) = (self.cfg.window, self.cfg.max_inflight.max(1));
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        let mut submitted = Vec::new();
        loop {
            let in_flight = leadership.next_slot - 1 - leadership.nic_commit;
            let open_batch =
                leadership.queue.len() == 1 && matches!(leadership.queue[0], Queued::Writes { .. });
            if in_flight >= window || (open_batch && in_flight >= max_inflight) {
                break;
            }
            let Some(value) = leadership.queue.pop_front().map(Queued::into_value) else {
                break;
            };
            leadership
                .proposals
                .insert(leadership.next_slot, value.clone());
            leadership.next_slot += 1;
            submitted.push(value);
        }
        for value in submitted {
            self.nic_command(NicCommand::Submit { value });
        }
    }

    /// Our NIC counted a quorum up to `commit` under our ballot.
    pub(super) fn leader_committed(&mut self, commit: u64) {
        let now = self.now;
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        if commit <= leadership.nic_commit {
            return;
        }
        leadership.nic_commit = commit.min(leadership.next_slot - 1);
        leadership.proposals = leadership.proposals.split_off(&(commit + 1));
        leadership.last_progress = now;
    }

    pub(super) fn leader_tick(&mut self) {
        let now = self.now;
        let (heartbeat, retransmit) = (self.cfg.heartbeat_ticks, self.cfg.retransmit_ticks);
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        if now >= leadership.next_heartbeat {
            leadership.next_heartbeat = now + heartbeat;
            self.nic_command(NicCommand::Heartbeat);
        }
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        if !leadership.outstanding() {
            leadership.last_progress = now;
            return;
        }
        let stalled = now - leadership.last_progress;
        if stalled >= 4 * retransmit {
            // Some quorum will not answer this ballot (a partition, or a
            // recovered replica that may not vote at it): try a new one.
            return self.start_election();
        }
        if stalled >= retransmit && now - leadership.last_retransmit >= retransmit {
            leadership.last_retransmit = now;
            let (ballot, commit) = (leadership.ballot, leadership.nic_commit);
            let resend: Vec<(u64, Vec<u8>)> = leadership
                .proposals
                .iter()
                .map(|(&slot, value)| (slot, value.clone()))
                .collect();
            for (slot, value) in resend {
                self.broadcast(Message::Accept {
                    ballot,
                    slot,
                    commit,
                    value,
                });
            }
        }
    }
}
