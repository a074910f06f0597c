//! Clients: at-most-once writes through the log, read-index gets, applying
//! chosen entries in order and answering.

use riptide_wire::Ballot;

use super::leader::{PendingRead, Queued};
use super::{Output, Replica, Role, State};
use crate::kv::{Command, LogValue, Reply, Write};

/// Largest encoded write accepted from a client: a log value must fit one
/// entry of a catch-up or promise datagram with room to spare.
pub const MAX_VALUE_LEN: usize = crate::kv::MAX_LOG_VALUE_LEN;

impl Replica {
    pub(super) fn client_request(&mut self, client: u64, request: u64, command: Command) {
        // Refused the same way by every replica and every time, before
        // anything else: dropping it would leave the client retrying until
        // its deadline, with nothing to tell it why.
        if let Err(too_large) = command.check_size() {
            let max = u32::try_from(too_large.max).unwrap_or(u32::MAX);
            return self.reply(client, request, Reply::TooLarge { max });
        }
        if self.role() != Role::Leader {
            let leader = self.leader_hint();
            return self.reply(client, request, Reply::NotLeader { leader });
        }
        if let Some((last, reply)) = self.kv.last_executed(client) {
            if request < last {
                return; // A stale duplicate: the client has moved on.
            }
            if request == last {
                let reply = reply.clone();
                return self.reply(client, request, reply);
            }
        }
        let max_pending = self.cfg.max_pending;
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        let full = leadership.writes_in_flight.len() + leadership.reads.len() >= max_pending;
        match command {
            Command::Get { key } => {
                if leadership
                    .reads
                    .iter()
                    .any(|read| read.client == client && read.request == request)
                {
                    return;
                }
                if full {
                    return self.reply(client, request, Reply::Busy);
                }
                // Read-index: answer once the last value queued when the get
                // arrived is applied. Its slot is assigned after the get
                // arrived, so its being chosen at our ballot proves we were
                // still the leader then, and it follows every write we know
                // of (queued re-proposals included). With nothing queued a
                // no-op serves, shared by every get that arrives before it
                // is chosen.
                let barrier = if !leadership.queue.is_empty() {
                    leadership.last_queued_slot()
                } else if leadership.reads.iter().any(|read| read.barrier.is_some()) {
                    None
                } else {
                    leadership
                        .queue
                        .push_back(Queued::Value(LogValue::Noop.encode()));
                    leadership.last_queued_slot()
                };
                leadership.reads.push(PendingRead {
                    barrier,
                    client,
                    request,
                    key,
                });
            }
            command => {
                if leadership.writes_in_flight.get(&client) == Some(&request) {
                    return; // Already submitted: the leader proposes it once.
                }
                if full {
                    return self.reply(client, request, Reply::Busy);
                }
                let write = Write {
                    client,
                    request,
                    command,
                };
                debug_assert!(
                    write.command.log_len() <= MAX_VALUE_LEN,
                    "checked on arrival"
                );
                leadership.writes_in_flight.insert(client, request);
                leadership.queue_write(write);
            }
        }
    }

    /// Apply every chosen entry not applied yet, in slot order.
    pub(super) fn apply_chosen(&mut self) {
        while self.applied < self.log.commit() {
            let slot = self.applied + 1;
            let Some(entry) = self.log.get(slot) else {
                return;
            };
            let value = entry.value.clone();
            self.applied = slot;
            // Bytes that are not a log value (only a faulty proposer makes
            // them) are applied as a no-op, the same way on every replica.
            let replies = LogValue::decode(&value)
                .map(|decoded| self.kv.apply(&decoded))
                .unwrap_or_default();
            self.out.push(Output::Applied { slot, value });
            for (client, request, reply) in replies {
                self.applied_write(client, request, reply);
            }
        }
    }

    fn applied_write(&mut self, client: u64, request: u64, reply: Reply) {
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        if leadership.writes_in_flight.get(&client) == Some(&request) {
            leadership.writes_in_flight.remove(&client);
        }
        self.reply(client, request, reply);
    }

    /// Answer the gets whose barrier is applied; give the gets that waited for
    /// it one new barrier.
    pub(super) fn answer_reads(&mut self) {
        let applied = self.applied;
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) =
            std::mem::take(&mut leadership.reads)
                .into_iter()
                .partition(|read| read.barrier.is_some_and(|barrier| barrier <= applied));
        leadership.reads = waiting;
        if leadership.reads.iter().all(|read| read.barrier.is_none())
            && !leadership.reads.is_empty()
        {
            if leadership.queue.is_empty() {
                leadership
                    .queue
                    .push_back(Queued::Value(LogValue::Noop.encode()));
            }
            let barrier = leadership.last_queued_slot();
            for read in &mut leadership.reads {
                read.barrier = barrier;
            }
        }
        for read in ready {
            let value = self.kv.read(&read.key).map(str::to_owned);
            self.reply(read.client, read.request, Reply::Value(value));
        }
    }

    fn reply(&mut self, client: u64, request: u64, reply: Reply) {
        self.out.push(Output::Reply {
            client,
            request,
            reply,
        });
    }

    /// The ballot we lead, if we lead.
    pub(super) fn leading(&self) -> Option<Ballot> {
        match &self.state {
            State::Leader(leadership) => Some(leadership.ballot),
            _ => None,
        }
    }
}
