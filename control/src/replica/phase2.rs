//! Phase 2 as host software sees it: the NIC's records of what it accepted and
//! learned, and the phase-2 frames it punted (higher ballot, gaps, slots below
//! its base, or everything while it idles).

use riptide_wire::host::NicRole;
use riptide_wire::{Ballot, Message};

use super::{Replica, Role, Variant};

impl Replica {
    /// The NIC accepted `value` (on the leader: assigned it a slot).
    pub(super) fn nic_accepted(&mut self, ballot: Ballot, slot: u64, value: Vec<u8>) {
        self.store_accepted(ballot, slot, value);
        if self.nic.role == NicRole::Follower && ballot == self.nic.ballot {
            self.nic.next_slot = self.nic.next_slot.max(slot + 1);
        }
        self.sign_of_leader(ballot);
    }

    /// The NIC learned that every slot up to `commit` is chosen under `ballot`.
    pub(super) fn nic_committed(&mut self, ballot: Ballot, commit: u64) {
        if self.role() == Role::Recovering {
            // A record of the NIC of our former life: recovery rebuilds the log.
            return;
        }
        self.learn_commit(ballot, commit);
        if self.leading() == Some(ballot) {
            self.leader_committed(commit);
        }
        self.sign_of_leader(ballot);
    }

    /// An ACCEPT the fast path did not handle, or one sent by software.
    pub(super) fn punted_accept(
        &mut self,
        from: u8,
        ballot: Ballot,
        slot: u64,
        commit: u64,
        value: Vec<u8>,
    ) {
        if ballot.leader() != from || slot == 0 {
            return;
        }
        if ballot < self.promised || ballot <= self.vote_floor {
            if ballot == self.promised {
                // The leader we may not vote for (after amnesia) still tells us
                // what is chosen.
                self.learn_commit(ballot, commit);
                self.sign_of_leader(ballot);
            }
            return self.nack(from, slot);
        }
        if ballot == self.promised && self.role() != Role::Follower {
            // Our own ballot: only we propose at it.
            return;
        }
        // Accepting implies promising; the `Configure` below stops the NIC
        // acking anything lower, and no PROMISE is sent without a fence.
        self.observe_ballot(ballot);
        self.store_accepted(ballot, slot, value);
        self.send(from, Message::Accepted { ballot, slot });
        if self.nic.role != NicRole::Follower
            || self.nic.ballot < ballot
            || slot >= self.nic.next_slot
        {
            // Resume the fast path after a gap or a leader change.
            self.configure_nic(NicRole::Follower, ballot, slot + 1, self.log.commit());
        }
        self.learn_commit(ballot, commit);
        self.sign_of_leader(ballot);
    }

    /// A COMMIT (heartbeat) the fast path did not handle.
    pub(super) fn punted_commit(&mut self, from: u8, ballot: Ballot, commit: u64) {
        if ballot.leader() != from {
            return;
        }
        if ballot < self.promised {
            // A deposed leader: tell it, so it steps down.
            return self.nack(from, 0);
        }
        self.observe_ballot(ballot);
        self.learn_commit(ballot, commit);
        self.sign_of_leader(ballot);
    }

    /// Store a value accepted at `ballot`; if its ballot's leader already
    /// reported the slot committed, it is chosen.
    fn store_accepted(&mut self, ballot: Ballot, slot: u64, value: Vec<u8>) {
        self.log.store(slot, ballot, value);
        let (heard_ballot, heard_commit) = self.heard;
        if heard_ballot == ballot && slot <= heard_commit {
            self.log.mark_chosen(Some(ballot), heard_commit);
        }
    }

    /// The leader of `ballot` says every slot up to `commit` is chosen.
    pub(super) fn learn_commit(&mut self, ballot: Ballot, commit: u64) {
        self.known_commit = self.known_commit.max(commit);
        if ballot > self.heard.0 {
            self.heard = (ballot, commit);
        } else if ballot == self.heard.0 {
            self.heard.1 = self.heard.1.max(commit);
        }
        let only = (self.cfg.variant != Variant::CommitAcrossBallots).then_some(ballot);
        self.log.mark_chosen(only, commit);
    }

    /// Evidence that the leader of our promised ballot is alive.
    fn sign_of_leader(&mut self, ballot: Ballot) {
        if self.role() == Role::Follower && ballot == self.promised {
            self.arm_election_timer();
        }
    }
}
