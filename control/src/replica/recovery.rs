//! Recovery after amnesia (after Viewstamped Replication Revisited): before a
//! restarted replica votes, it learns from `f+1` others, none of them
//! recovering, the highest ballot any of them promised (its vote floor: it may
//! have promised up to there in its former life) and every value they accepted
//! (so it again holds every value a quorum may have chosen with its help).
//! See `docs/protocol.md` for the argument and its known limit.

use std::collections::BTreeMap;

use riptide_wire::host::NicRole;
use riptide_wire::{Ballot, Entry, Message};

use super::{Replica, Role, entries_fit};

/// What one responder reported.
#[derive(Debug, Clone)]
struct Reported {
    promised: Ballot,
    commit: u64,
    entries: Vec<Entry>,
}

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
    pub(super) fn new(nonce: u64) -> Recovery {
        Recovery {
            nonce,
            responses: BTreeMap::new(),
            next_request: 0,
            nic_idled: false,
        }
    }
}

impl Replica {
    /// Idle the NIC first (its former programming must not ack for us), then
    /// ask the others, every `retransmit_ticks` until enough answered.
    pub(super) fn recovery_requests(&mut self) {
        let now = self.now;
        let retransmit = self.cfg.retransmit_ticks;
        let Some(recovery) = &mut self.recovery else {
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
            self.broadcast(Message::RecoveryRequest { nonce });
        }
    }

    pub(super) fn receive_while_recovering(&mut self, from: u8, message: Message) {
        let Message::RecoveryResponse {
            nonce,
            ballot,
            commit,
            entries,
        } = message
        else {
            // No promises, no acceptances, no answers until recovered.
            return;
        };
        let quorum = self.cfg.quorum();
        let Some(recovery) = &mut self.recovery else {
            return;
        };
        if nonce != recovery.nonce {
            return;
        }
        recovery.responses.insert(
            from,
            Reported {
                promised: ballot,
                commit,
                entries,
            },
        );
        if recovery.responses.len() >= quorum {
            self.finish_recovery();
        }
    }

    fn finish_recovery(&mut self) {
        let Some(recovery) = self.recovery.take() else {
            return;
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
        self.role = Role::Follower;
        self.arm_election_timer();
    }

    /// Tell a recovering replica our promise, commit and the entries above it.
    pub(super) fn recovery_request(&mut self, from: u8, nonce: u64) {
        if !self.recovered() {
            // Not a full copy of the state yet (recovering, or not caught
            // up): answering could let two such replicas rebuild a third
            // without a chosen entry. Silence costs only availability.
            return;
        }
        let commit = self.log.commit();
        let entries = self.log.entries_above(commit);
        if !entries_fit(&entries) {
            // Too much undecided state for one datagram: withholding the answer
            // only delays the recovery (it needs f+1 others).
            return;
        }
        let ballot = self.promised;
        self.send(
            from,
            Message::RecoveryResponse {
                nonce,
                ballot,
                commit,
                entries,
            },
        );
    }
}
