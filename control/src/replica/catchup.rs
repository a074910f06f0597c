//! Catch-up: fetching chosen entries this replica missed (lost ACCEPTs, a
//! partition, a new leader's re-proposals it never saw, or amnesia).
//!
//! A request goes out as soon as a gap is known and then at most once every
//! `retransmit_ticks`; a response that made progress is followed by the next
//! request at once. A request is answered with up to [`CATCHUP_RESPONSES`]
//! datagrams of up to [`CATCHUP_BATCH`] entries each, so a long gap (a leader
//! back from a partition, hundreds of thousands of slots behind) is fetched
//! at hundreds of entries per round trip, not one datagram's worth. An
//! unanswered request is retried at the next replica in turn: any replica can
//! answer, and the leader may be the one that is down.

use riptide_wire::message::body::ENTRY_FIXED_LEN;
use riptide_wire::{Entry, Message};

use super::canonical::TimeView;
use super::{ENTRIES_BUDGET, Replica, Role, entries_len};

/// Most entries one catch-up response carries.
pub(super) const CATCHUP_BATCH: usize = 64;

/// Most responses one catch-up request gets: a burst small enough for a
/// socket buffer, large enough that a round trip moves hundreds of entries.
pub(super) const CATCHUP_RESPONSES: usize = 8;

#[derive(Debug, Clone, Default)]
pub(super) struct Catchup {
    /// The replica to ask first: one known to hold what we miss.
    preferred: Option<u8>,
    /// Requests sent since the last progress: rotates the target.
    pub(super) unanswered: u8,
    /// When the last request went out.
    pub(super) last_sent: Option<u64>,
    /// A snapshot being received (`snapshot.rs`).
    pub(super) download: Option<super::snapshot::Download>,
}

impl Catchup {
    /// Timestamps as `canonical.rs` writes them.
    pub(super) fn rebase_time(&mut self, time: &TimeView, retransmit_ticks: u64) {
        self.last_sent = self.last_sent.map(|t| time.age(t, retransmit_ticks));
    }

    pub(super) fn prefer(&mut self, id: u8) {
        if self.preferred != Some(id) {
            self.preferred = Some(id);
            self.unanswered = 0;
        }
    }
}

impl Replica {
    pub(super) fn maybe_catch_up(&mut self) {
        if matches!(self.role(), Role::Recovering | Role::Leader)
            || self.log.commit() >= self.known_commit
        {
            return;
        }
        if let Some(last) = self.catchup.last_sent
            && self.now < last + self.cfg.retransmit_ticks
        {
            return;
        }
        if self.resume_download() {
            return;
        }
        let to = self.catchup_target();
        self.catchup.last_sent = Some(self.now);
        self.catchup.unanswered = self.catchup.unanswered.wrapping_add(1);
        let (ballot, from) = (self.promised, self.log.commit() + 1);
        self.send(to, Message::CatchupRequest { ballot, from });
    }

    fn catchup_target(&self) -> u8 {
        let n = self.cfg.replicas;
        let first = self.catchup.preferred.unwrap_or(self.promised.leader()) % n;
        // Skip ourselves: the k-th unanswered request goes to the k-th other
        // replica after the preferred one.
        let others: Vec<u8> = (0..n)
            .map(|k| (first + k) % n)
            .filter(|&id| id != self.cfg.id)
            .collect();
        others[usize::from(self.catchup.unanswered) % others.len()]
    }

    /// Answer with our chosen entries from `from` on: up to
    /// [`CATCHUP_RESPONSES`] responses, each as many entries as fit one
    /// datagram (at most [`CATCHUP_BATCH`]). Always at least one response,
    /// so a requester learns our commit even when we hold nothing it lacks.
    /// A slot we compacted is answered with our snapshot instead.
    pub(super) fn catchup_request(&mut self, requester: u8, from: u64) {
        if self.log.base() > 0 && from <= self.log.base() {
            return self.serve_snapshot(requester, 0);
        }
        let commit = self.log.commit();
        let ballot = self.promised;
        let mut next = from.max(1);
        for _ in 0..CATCHUP_RESPONSES {
            let entries = self.chosen_entries_from(next);
            let Some(last) = entries.last().map(|entry| entry.slot) else {
                if next == from.max(1) {
                    self.send(
                        requester,
                        Message::CatchupResponse {
                            ballot,
                            commit,
                            entries,
                        },
                    );
                }
                return;
            };
            next = last + 1;
            self.send(
                requester,
                Message::CatchupResponse {
                    ballot,
                    commit,
                    entries,
                },
            );
        }
    }

    /// Chosen entries from `from` on, as many as fit one datagram.
    fn chosen_entries_from(&self, from: u64) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut len = entries_len(&entries);
        for slot in from..=self.log.commit() {
            let Some(held) = self.log.get(slot) else {
                break;
            };
            let entry_len = ENTRY_FIXED_LEN + held.value.len();
            if entries.len() == CATCHUP_BATCH || len + entry_len > ENTRIES_BUDGET {
                break;
            }
            len += entry_len;
            entries.push(Entry {
                slot,
                ballot: held.ballot,
                value: held.value.clone(),
            });
        }
        entries
    }

    /// Entries up to the sender's commit are chosen: store them as such.
    pub(super) fn catchup_response(&mut self, sender: u8, commit: u64, entries: Vec<Entry>) {
        let before = self.log.commit();
        for entry in entries.into_iter().filter(|entry| entry.slot <= commit) {
            self.log.store_chosen(entry.slot, entry.ballot, entry.value);
        }
        self.known_commit = self.known_commit.max(commit);
        if self.log.commit() > before {
            self.catchup.prefer(sender);
            self.catchup.unanswered = 0;
            // Progress: ask for the next batch now rather than on the timer.
            self.catchup.last_sent = None;
        }
    }
}
