//! Failure detection, elections and phase 1 with the NIC fence.
//!
//! A promise is never sent before the NIC confirmed the fence at its ballot
//! (`FenceDone`): only then has host software seen every ACCEPT the NIC acked
//! below it, so the promise reports every value this replica accepted.

use std::collections::BTreeMap;

use riptide_wire::host::{NicCommand, NicRole};
use riptide_wire::{Ballot, Entry, Message};

use super::canonical::TimeView;
use super::leader::Leadership;
use super::{Replica, Role, State, Variant, entries_fit};
use crate::kv::{LogValue, Reply};

/// A promise at `ballot` to `candidate`, whose PREPARE carried `commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PromiseMade {
    ballot: Ballot,
    candidate: u8,
    commit: u64,
}

/// A PROMISE received: the promiser's commit and its entries above the
/// larger of that commit and ours.
#[derive(Debug, Clone)]
struct Promised {
    /// The promiser's incarnation when it promised.
    life: u32,
    commit: u64,
    entries: Vec<Entry>,
}

/// Phase 1 in progress for our own ballot.
#[derive(Debug, Clone)]
pub(super) struct Candidacy {
    ballot: Ballot,
    /// Our commit when we sent PREPARE: the new leader starts at the next slot.
    commit: u64,
    /// Our own promise counts once our NIC's fence is done.
    fenced: bool,
    promises: BTreeMap<u8, Promised>,
    next_prepare: u64,
}

impl Candidacy {
    /// Timestamps as `canonical.rs` writes them.
    pub(super) fn rebase_time(&mut self, time: &TimeView, retransmit_ticks: u64) {
        self.next_prepare = time.deadline(self.next_prepare, retransmit_ticks);
    }

    /// A newer life of `id` exists: its older life's promise no longer counts.
    pub(super) fn forget(&mut self, id: u8, incarnation: u32) {
        self.promises
            .retain(|&from, promised| from != id || promised.life >= incarnation);
    }
}

impl Replica {
    pub(super) fn follower_tick(&mut self) {
        if self.now < self.election_deadline {
            return;
        }
        if self.may_vote() {
            self.start_election();
        } else {
            // A recovered replica still catching up may not stand; it keeps
            // catching up and tries again later.
            self.arm_election_timer();
        }
    }

    pub(super) fn candidate_tick(&mut self) {
        if self.now >= self.election_deadline {
            return self.start_election();
        }
        let State::Candidate(candidacy) = &mut self.state else {
            return;
        };
        if self.now < candidacy.next_prepare {
            return;
        }
        candidacy.next_prepare = self.now + self.cfg.retransmit_ticks;
        let (ballot, commit) = (candidacy.ballot, candidacy.commit);
        let silent: Vec<u8> = (0..self.cfg.replicas)
            .filter(|id| *id != self.cfg.id && !candidacy.promises.contains_key(id))
            .collect();
        for to in silent {
            let lives = self.lives.clone();
            self.send(
                to,
                Message::Prepare {
                    ballot,
                    commit,
                    lives,
                },
            );
        }
    }

    /// Become a candidate at the smallest ballot of ours above everything we
    /// promised (which, after amnesia, is at least the vote floor).
    pub(super) fn start_election(&mut self) {
        let ballot = self.promised.max(self.vote_floor).next_for(self.cfg.id);
        self.leave_role();
        self.promised = ballot;
        self.pending_promise = None;
        let commit = self.log.commit();
        self.state = State::Candidate(Candidacy {
            ballot,
            commit,
            fenced: self.cfg.variant == Variant::PromiseBeforeFence,
            promises: BTreeMap::new(),
            next_prepare: self.now + self.cfg.retransmit_ticks,
        });
        self.nic_command(NicCommand::Fence { ballot });
        let lives = self.lives.clone();
        self.broadcast(Message::Prepare {
            ballot,
            commit,
            lives,
        });
        self.arm_election_timer();
    }

    pub(super) fn prepare(&mut self, from: u8, ballot: Ballot, commit: u64) {
        self.known_commit = self.known_commit.max(commit);
        if ballot.leader() != from {
            return;
        }
        if ballot <= self.promised || ballot <= self.vote_floor {
            let again = PromiseMade {
                ballot,
                candidate: from,
                commit,
            };
            if ballot == self.promised && self.promise_made.is_some_and(|p| p.ballot == ballot) {
                // A retransmitted PREPARE: our promise was lost; send it again.
                self.send_promise(again);
            } else if ballot < self.promised {
                self.nack(from, 0);
            }
            return;
        }
        if !self.may_vote() {
            return;
        }
        self.leave_role();
        self.promised = ballot;
        self.arm_election_timer();
        let promise = PromiseMade {
            ballot,
            candidate: from,
            commit,
        };
        self.nic_command(NicCommand::Fence { ballot });
        if self.cfg.variant == Variant::PromiseBeforeFence {
            self.make_promise(promise);
        } else {
            self.pending_promise = Some(promise);
        }
    }

    pub(super) fn fence_done(&mut self, ballot: Ballot) {
        if let Some(pending) = self.pending_promise
            && pending.ballot == ballot
        {
            self.pending_promise = None;
            if self.promised == ballot && self.role() == Role::Follower {
                self.make_promise(pending);
            }
        }
        if let State::Candidate(candidacy) = &mut self.state
            && candidacy.ballot == ballot
        {
            candidacy.fenced = true;
        }
    }

    /// Send the promise and point the NIC's fast path at the new ballot,
    /// expecting the new leader's first slot.
    fn make_promise(&mut self, promise: PromiseMade) {
        self.send_promise(promise);
        self.promise_made = Some(promise);
        self.configure_nic(
            NicRole::Follower,
            promise.ballot,
            promise.commit + 1,
            self.log.commit(),
        );
    }

    /// Entries above the candidate's commit and ours: below ours everything is
    /// chosen, and the candidate catches those up instead (which keeps a
    /// PROMISE to a lagging candidate small).
    fn send_promise(&mut self, promise: PromiseMade) {
        let commit = self.log.commit();
        let entries = self.log.entries_above(promise.commit.max(commit));
        // A promise that does not fit a datagram cannot be sent; withholding
        // it is safe (the candidate just lacks our vote).
        if entries_fit(&entries) {
            let lives = self.lives.clone();
            self.send(
                promise.candidate,
                Message::Promise {
                    ballot: promise.ballot,
                    commit,
                    lives,
                    entries,
                },
            );
        }
    }

    pub(super) fn promise(&mut self, from: u8, ballot: Ballot, commit: u64, entries: Vec<Entry>) {
        let State::Candidate(candidacy) = &mut self.state else {
            return;
        };
        if candidacy.ballot != ballot {
            return;
        }
        let life = self.lives[usize::from(from)];
        candidacy.promises.insert(
            from,
            Promised {
                life,
                commit,
                entries,
            },
        );
    }

    /// With a quorum of promises (ours included), catch up to the highest
    /// commit a promiser reported, then merge and lead.
    pub(super) fn try_finish_phase1(&mut self) {
        let State::Candidate(candidacy) = &self.state else {
            return;
        };
        if !candidacy.fenced || candidacy.promises.len() + 1 < self.cfg.quorum() {
            return;
        }
        let best = candidacy
            .promises
            .iter()
            .max_by_key(|(id, promised)| (promised.commit, std::cmp::Reverse(**id)))
            .map(|(&id, promised)| (id, promised.commit));
        if let Some((id, their_commit)) = best
            && their_commit > self.log.commit()
        {
            // Slots up to their commit are chosen but unreported: fetch them.
            self.known_commit = self.known_commit.max(their_commit);
            self.catchup.prefer(id);
            return;
        }
        self.become_leader();
    }

    fn become_leader(&mut self) {
        let State::Candidate(candidacy) = std::mem::replace(&mut self.state, State::Follower)
        else {
            unreachable!("only a candidate finishes phase 1");
        };
        // Re-propose from our PREPARE's commit on, or from our snapshot's
        // slot if catch-up (an install, or our own compaction) moved the
        // log's base past it: slots at or below the base are chosen, but
        // their values are in the snapshot only, and the merge must not
        // take them for holes.
        let from = candidacy.commit.max(self.log.base());
        let values = self.merge(&candidacy, from);
        self.configure_nic(NicRole::Leader, candidacy.ballot, from + 1, from);
        self.start_leading(candidacy.ballot, from, values);
    }

    /// The values to re-propose in slots `from+1 ..`: per slot, a value we
    /// know chosen, else the promised value of the highest ballot, else a no-op.
    fn merge(&self, candidacy: &Candidacy, from: u64) -> Vec<Vec<u8>> {
        let mut reported: BTreeMap<u64, (Ballot, &[u8])> = BTreeMap::new();
        for promised in candidacy.promises.values() {
            for entry in &promised.entries {
                let best = reported
                    .entry(entry.slot)
                    .or_insert((entry.ballot, &entry.value));
                if entry.ballot > best.0 {
                    *best = (entry.ballot, &entry.value);
                }
            }
        }
        let top = self
            .log
            .last_slot()
            .max(reported.last_key_value().map_or(0, |(&slot, _)| slot));
        let own_log_wins = self.cfg.variant == Variant::LeaderLogWins;
        (from + 1..=top)
            .map(|slot| {
                let own = self.log.get(slot);
                let theirs = reported.get(&slot);
                match (own, theirs) {
                    (Some(own), _) if own.chosen || own_log_wins => own.value.clone(),
                    (Some(own), Some((ballot, _))) if own.ballot >= *ballot => own.value.clone(),
                    (_, Some((_, value))) => value.to_vec(),
                    (Some(own), None) => own.value.clone(),
                    (None, None) => LogValue::Noop.encode(),
                }
            })
            .collect()
    }

    /// A message carried a ballot above our promise: someone else is running
    /// or has won an election. Adopt it (raising a promise is always safe) and
    /// follow.
    pub(super) fn observe_ballot(&mut self, ballot: Ballot) {
        if ballot <= self.promised {
            return;
        }
        self.leave_role();
        self.promised = ballot;
        self.arm_election_timer();
    }

    /// Stop leading or campaigning: follow. Gets waiting on this leadership
    /// are told to go elsewhere; writes in flight are not (they may still be
    /// chosen, and the client's retry is answered from the session table).
    pub(super) fn leave_role(&mut self) {
        match std::mem::replace(&mut self.state, State::Follower) {
            State::Recovering(recovery) => {
                unreachable!("a recovering replica takes no role: {recovery:?}")
            }
            State::Follower | State::Candidate(_) => {}
            State::Leader(leadership) => self.answer_reads_elsewhere(leadership),
        }
    }

    fn answer_reads_elsewhere(&mut self, leadership: Leadership) {
        for read in leadership.into_reads() {
            self.out.push(super::Output::Reply {
                client: read.client,
                request: read.request,
                reply: Reply::NotLeader { leader: None },
            });
        }
    }
}
