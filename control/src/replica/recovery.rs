//! Recovery after amnesia, both sides (`docs/protocol.md`, "Crash with
//! amnesia"). The recovering replica asks every other for its state and
//! waits for `f+1` answers from replicas that hold their share and had not
//! known its incarnation before; each answer is given only after the
//! responder's NIC fenced above every ballot the former life can have voted
//! in, so the former life's votes are either unusable or backed by the new
//! life's log.

use std::collections::BTreeMap;

use riptide_wire::host::{NicCommand, NicRole};
use riptide_wire::{Ballot, Entry, Message};

use super::canonical::TimeView;
use super::{Replica, ReplicaConfig, Role, State, Variant, entries_fit};

/// What one responder reported.
#[derive(Debug, Clone)]
struct Reported {
    /// The responder's incarnation when it answered.
    life: u32,
    promised: Ballot,
    commit: u64,
    entries: Vec<Entry>,
}

/// The recovering side.
#[derive(Debug, Clone)]
pub(super) struct Recovery {
    /// Ties responses to this incarnation's requests.
    nonce: u64,
    responses: BTreeMap<u8, Reported>,
    /// When to (re)send the request; the first step sends it.
    next_request: u64,
    /// Whether the NIC was told to idle yet.
    nic_idled: bool,
}

impl Recovery {
    /// A nonce no other life of this replica uses: the incarnation in the
    /// high half (even if two lives drew the same random bits, a late answer
    /// to a former life's request never counts for this one).
    pub(super) fn nonce(incarnation: u32, random: u64) -> u64 {
        u64::from(incarnation) << 32 | (random & 0xffff_ffff)
    }

    pub(super) fn new(nonce: u64) -> Recovery {
        Recovery {
            nonce,
            responses: BTreeMap::new(),
            next_request: 0,
            nic_idled: false,
        }
    }

    /// Timestamps as `canonical.rs` writes them.
    pub(super) fn rebase_time(&mut self, time: &TimeView, retransmit_ticks: u64) {
        self.next_request = time.deadline(self.next_request, retransmit_ticks);
    }

    /// A newer life of `id` exists: its older life's answer no longer counts.
    pub(super) fn forget(&mut self, id: u8, incarnation: u32) {
        self.responses
            .retain(|&from, reported| from != id || reported.life >= incarnation);
    }
}

/// The answering side: a recovery this replica fenced for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Answering {
    nonce: u64,
    /// What this replica knew of the requester's incarnation before the
    /// request: the requester counts the answer only if it is below its own.
    knew: u32,
    /// The ballot fenced at; the answer goes out once its fence is done.
    fence: Ballot,
    fenced: bool,
}

impl Replica {
    /// Idle the NIC first (its former programming must not ack for us), then
    /// ask the others, every `retransmit_ticks` until enough answered.
    /// The replicas whose answers this recovery holds, in id order: the
    /// ones that serve. Empty unless recovering.
    pub fn recovery_answers(&self) -> Vec<u8> {
        match &self.state {
            State::Recovering(recovery) => recovery.responses.keys().copied().collect(),
            _ => Vec::new(),
        }
    }

    pub(super) fn recovery_requests(&mut self) {
        let now = self.now;
        let retransmit = self.cfg.retransmit_ticks;
        let State::Recovering(recovery) = &mut self.state else {
            return;
        };
        let idle_nic = !recovery.nic_idled;
        recovery.nic_idled = true;
        let ask = now >= recovery.next_request;
        if ask {
            recovery.next_request = now + retransmit;
        }
        let nonce = recovery.nonce;
        if idle_nic {
            self.configure_nic(NicRole::Idle, Ballot::ZERO, 1, 0);
        }
        if ask {
            let lives = self.lives.clone();
            self.broadcast(Message::RecoveryRequest { nonce, lives });
        }
    }

    pub(super) fn receive_while_recovering(&mut self, from: u8, message: Message) {
        let Message::RecoveryResponse {
            nonce,
            ballot,
            commit,
            lives,
            entries,
        } = message
        else {
            // No promises, no acceptances, no answers until recovered.
            return;
        };
        let quorum = self.cfg.quorum();
        let known_before = lives.get(usize::from(self.cfg.id)).copied();
        let ignores_lives = self.ignores_lives();
        let incarnation = self.incarnation();
        let responder_life = self.lives[usize::from(from)];
        let State::Recovering(recovery) = &mut self.state else {
            return;
        };
        if nonce != recovery.nonce {
            return;
        }
        if let Some(known) = known_before
            && known >= incarnation
            && !ignores_lives
        {
            // Our incarnation is not new to this responder (lost state
            // restarted with a guess): take the next one and ask again.
            return self.become_newer_life(known + 1);
        }
        recovery.responses.insert(
            from,
            Reported {
                life: responder_life,
                promised: ballot,
                commit,
                entries,
            },
        );
        let survivors = &self.cfg.survivors;
        let survivors_answered = !survivors.is_empty()
            && survivors
                .iter()
                .all(|id| recovery.responses.contains_key(id));
        if recovery.responses.len() >= quorum || survivors_answered {
            self.finish_recovery();
        }
    }

    /// Start over as a recovering replica with `incarnation`: what this life
    /// collected or voted no longer counts. The pending outputs of this step
    /// stay.
    pub(super) fn become_newer_life(&mut self, incarnation: u32) {
        let cfg = ReplicaConfig {
            incarnation,
            seed: self.rng.next_u64(),
            ..self.cfg.clone()
        };
        let out = std::mem::take(&mut self.out);
        let lives = std::mem::take(&mut self.lives);
        *self = Replica::restarted(cfg);
        // What we knew of the others stays true.
        for (id, incarnation) in lives.into_iter().enumerate() {
            if id != usize::from(self.cfg.id) {
                self.lives[id] = incarnation;
            }
        }
        self.out = out;
    }

    fn finish_recovery(&mut self) {
        let State::Recovering(recovery) = std::mem::replace(&mut self.state, State::Follower)
        else {
            unreachable!("only a recovering replica finishes recovery");
        };
        let floor = recovery
            .responses
            .values()
            .map(|reported| reported.promised)
            .max()
            .unwrap_or(Ballot::ZERO);
        self.vote_floor = floor;
        self.promised = self.promised.max(floor);
        // The ballot rule keeps, per slot, the highest-ballot value reported.
        for reported in recovery.responses.values() {
            for entry in &reported.entries {
                self.log
                    .store(entry.slot, entry.ballot, entry.value.clone());
            }
        }
        if let Some((&id, reported)) = recovery
            .responses
            .iter()
            .max_by_key(|(id, reported)| (reported.commit, std::cmp::Reverse(**id)))
        {
            self.recovered_commit = reported.commit;
            self.known_commit = self.known_commit.max(reported.commit);
            self.catchup.prefer(id);
        }
        self.arm_election_timer();
    }

    /// A recovering replica asks for our state. The first request of a nonce
    /// fences: we promise a ballot of the requester's (above everything we
    /// promised) and answer once our NIC has shown us every entry it acked
    /// below it. `knew` is what we knew of its incarnation before the request.
    pub(super) fn recovery_request(&mut self, from: u8, nonce: u64, knew: u32) {
        if !self.recovered() {
            // Not a full copy of the state yet (recovering, or not caught
            // up): answering could let two such replicas rebuild a third
            // without a chosen entry. Silence costs only availability.
            return;
        }
        if self.ignores_lives() || self.cfg.variant == Variant::UnfencedRecovery {
            // A planted variant: answer at once, fence nothing.
            return self.send_recovery_response(from, nonce, knew);
        }
        match self.answering.get(&from) {
            Some(answering) if answering.nonce == nonce => {
                if answering.fenced {
                    // A retransmitted request: the fence is done, and what we
                    // hold now includes what we held then.
                    self.send_recovery_response(from, nonce, answering.knew);
                }
                return;
            }
            _ => {}
        }
        let fence = self.promised.max(self.vote_floor).next_for(from);
        let was_leading = self.role() == Role::Leader;
        self.leave_role();
        self.promised = fence;
        self.pending_promise = None;
        self.arm_election_timer();
        self.answering.insert(
            from,
            Answering {
                nonce,
                knew,
                fence,
                fenced: false,
            },
        );
        self.nic_command(NicCommand::Fence { ballot: fence });
        if was_leading {
            // The fence deposes us (and our followers NACK our ballot): stand
            // again at once rather than leave the group leaderless for an
            // election timeout. The answer still waits for the first fence.
            self.start_election();
        }
    }

    /// Our NIC's fence at `ballot` is done: answer every recovery that waited
    /// for a fence at or below it (the card-to-host stream is FIFO).
    pub(super) fn answer_fenced_recoveries(&mut self, ballot: Ballot) {
        let ready: Vec<(u8, Answering)> = self
            .answering
            .iter_mut()
            .filter(|(_, answering)| !answering.fenced && answering.fence <= ballot)
            .map(|(&from, answering)| {
                answering.fenced = true;
                (from, *answering)
            })
            .collect();
        for (from, answering) in ready {
            self.send_recovery_response(from, answering.nonce, answering.knew);
        }
    }

    /// Whether a recovery request comes from a life of `from` older than one
    /// we know: a restart that lost its state record and guessed low, or a
    /// request of a former life still in flight.
    pub(super) fn asks_from_a_gone_life(&self, from: u8, lives: &[u32]) -> bool {
        !self.ignores_lives()
            && lives
                .get(usize::from(from))
                .is_some_and(|&life| life < self.lives[usize::from(from)])
    }

    /// Dropping such a request, as any older life's message is dropped,
    /// would leave a restart that guessed low asking forever. Telling it the
    /// life we know makes it take the next one and ask again; it never
    /// counts this answer (its life is not new to us), so the answer needs
    /// no fence and deposes nobody. A former life's request in flight gets
    /// an answer its successor's nonce ignores.
    pub(super) fn tell_gone_life(&mut self, to: u8, nonce: u64, knew: u32) {
        if self.recovered() {
            self.send_recovery_response(to, nonce, knew);
        }
    }

    /// Tell a recovering replica our promise, commit and the entries above it.
    fn send_recovery_response(&mut self, to: u8, nonce: u64, knew: u32) {
        let commit = self.log.commit();
        let entries = self.log.entries_above(commit);
        if !entries_fit(&entries) {
            // Too much undecided state for one datagram: withholding the answer
            // only delays the recovery (it needs f+1 others).
            return;
        }
        let mut lives = self.lives.clone();
        lives[usize::from(to)] = knew;
        let ballot = self.promised;
        self.send(
            to,
            Message::RecoveryResponse {
                nonce,
                ballot,
                commit,
                lives,
                entries,
            },
        );
    }
}
