//! Pre-vote (Raft thesis §9.6): a replica whose election timeout expired
//! first asks the others whether they would vote for it, and stands only if
//! a majority would. A replica cut off from the group never gathers one, so
//! its ballot stays where it was, and when it returns it cannot depose a
//! leader the others still hear from. See `docs/protocol.md`, "Pre-vote".

use std::collections::BTreeSet;

use riptide_wire::{Ballot, Message};

use super::canonical::TimeView;
use super::{Replica, Role, Variant};

/// The question asked: would you vote for us at `ballot`?
#[derive(Debug, Clone)]
pub(super) struct PreVote {
    ballot: Ballot,
    grants: BTreeSet<u8>,
    next_ask: u64,
}

impl PreVote {
    /// Timestamps as `canonical.rs` writes them.
    pub(super) fn rebase_time(&mut self, time: &TimeView, retransmit_ticks: u64) {
        self.next_ask = time.deadline(self.next_ask, retransmit_ticks);
    }
}

impl Variant {
    /// The planted bugs of phase 1 and recovery were found, and are caught
    /// by the simulator's campaigns, LDFI and the model checker, under the
    /// election rules they were planted in: every timeout stands at once,
    /// and a leader never checks its quorum. Pre-vote and check-quorum take
    /// away the disruptive elections their schedules need (a replica cut
    /// off from the leader alone no longer starts one), so these variants
    /// keep the former rules (`docs/protocol.md`, "Pre-vote").
    pub(super) fn keeps_former_elections(self) -> bool {
        matches!(
            self,
            Variant::PromiseBeforeFence
                | Variant::LeaderLogWins
                | Variant::StaleIncarnation
                | Variant::UnfencedRecovery
        )
    }
}

impl Replica {
    /// Our election timeout expired (as follower or candidate), or as leader
    /// we lost sight of a majority: ask before standing.
    pub(super) fn stand_or_ask(&mut self) {
        let variant = self.cfg.variant;
        if variant == Variant::NoPreVote || variant.keeps_former_elections() {
            return self.start_election();
        }
        self.leave_role();
        let ballot = self.own_next_ballot();
        self.pre_vote = Some(PreVote {
            ballot,
            grants: BTreeSet::new(),
            next_ask: self.now + self.cfg.retransmit_ticks,
        });
        self.arm_election_timer();
        let commit = self.log.commit();
        self.broadcast(Message::PreVote { ballot, commit });
        // A group of one needs nobody's grant.
        self.stand_if_granted();
    }

    /// Ask again those that have not granted: a lost question or answer must
    /// not cost a whole election timeout.
    pub(super) fn pre_vote_tick(&mut self) {
        let commit = self.log.commit();
        let (me, replicas, now) = (self.cfg.id, self.cfg.replicas, self.now);
        let Some(pre_vote) = &mut self.pre_vote else {
            return;
        };
        if now < pre_vote.next_ask {
            return;
        }
        pre_vote.next_ask = now + self.cfg.retransmit_ticks;
        let ballot = pre_vote.ballot;
        let silent: Vec<u8> = (0..replicas)
            .filter(|id| *id != me && !pre_vote.grants.contains(id))
            .collect();
        for to in silent {
            self.send(to, Message::PreVote { ballot, commit });
        }
    }

    /// A PRE_VOTE from `from`: grant it if we would promise its ballot, its
    /// commit is at least ours, and no leader is alive for us — we have not
    /// heard from the leader of our ballot for an election timeout, or the
    /// asker is that leader (a leader that lost sight of a majority asks
    /// too, and the replicas it still reaches let it stand again).
    pub(super) fn pre_vote_asked(&mut self, from: u8, ballot: Ballot, commit: u64) {
        if ballot.leader() != from || !self.may_vote() || self.role() == Role::Leader {
            return;
        }
        if ballot < self.promised {
            // Stale: it would be NACKed. Tell it the ballot to stand above.
            let promised = self.promised;
            return self.send(
                from,
                Message::Nack {
                    ballot: promised,
                    slot: 0,
                },
            );
        }
        let leader_alive = self
            .leader_seen
            .is_some_and(|seen| self.now - seen < self.cfg.election_ticks.0);
        let asker_is_our_leader = self.promised.leader() == from;
        if ballot == self.promised
            || ballot <= self.vote_floor
            || commit < self.log.commit()
            || (leader_alive && !asker_is_our_leader)
        {
            return;
        }
        self.send(from, Message::PreVoteGrant { ballot });
    }

    pub(super) fn pre_vote_granted(&mut self, from: u8, ballot: Ballot) {
        if let Some(pre_vote) = &mut self.pre_vote
            && pre_vote.ballot == ballot
        {
            pre_vote.grants.insert(from);
            self.stand_if_granted();
        }
    }

    /// With a majority's grants (ours included) for the ballot we would
    /// still stand at, run the real election.
    fn stand_if_granted(&mut self) {
        let Some(pre_vote) = &self.pre_vote else {
            return;
        };
        let current = pre_vote.ballot == self.own_next_ballot() && self.role() == Role::Follower;
        if !current {
            // Our promise moved since we asked: the grants were for a ballot
            // we would no longer stand at.
            self.pre_vote = None;
            return;
        }
        if pre_vote.grants.len() + 1 >= self.cfg.quorum() && self.may_vote() {
            self.start_election();
        }
    }

    /// Evidence that the leader of our promised ballot is alive: no
    /// election, and no grant to anyone else's pre-vote, for a while.
    pub(super) fn heard_from_leader(&mut self) {
        self.leader_seen = Some(self.now);
        self.pre_vote = None;
        self.arm_election_timer();
    }
}
