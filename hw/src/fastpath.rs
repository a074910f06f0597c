//! The fast-path rules of `docs/protocol.md` (the same table as
//! `riptide_driver::model::ModelNic`): one decision per received frame, in the
//! cycle its verdict arrives, plus the leader's slot assignment, commit
//! advance and the fence.
//!
//! Decisions only push commands: host records go to the card-to-host
//! writer's queue, frames to the transmit builder's queue. A decision that
//! needs a queue without room drops the frame as `drop_overflow` before it
//! changes any state, so nothing decided is ever lost (a leader retransmits).
//!
//! One push per queue per cycle; when several sources want one, frame
//! decisions go first, then a commit advance, then a submitted entry, then a
//! fence completion (those wait: their state is kept until pushed).

use crate::parser::Reason;
use crate::quorum::{Quorum, WINDOW_SLOTS};
use crate::store::Addr;
use riptide_wire::message::MsgType;
use riptide_wire::records;
use riptide_wire::regs::{self, Counter};
use rust_hdl::prelude::*;

/// Card-to-host record kinds ([`records`] codes).
pub type C2hKind = Bits<3>;
/// Frames to send: a [`MsgType`] code, or [`TX_RAW`] for a host datagram.
pub type TxKind = Bits<8>;
pub const TX_RAW: u64 = 0;

#[derive(LogicBlock)]
pub struct FastPath {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    // A parsed frame.
    pub done: Signal<In, Bit>,
    pub reason: Signal<In, Reason>,
    pub msg_type: Signal<In, Bits<8>>,
    pub sender: Signal<In, Bits<8>>,
    /// The frame's `LIFE` is older than the lives table's entry for its
    /// sender (registered by the parser).
    pub old_life: Signal<In, Bit>,
    pub ballot: Signal<In, Bits<64>>,
    pub slot: Signal<In, Bits<64>>,
    pub commit: Signal<In, Bits<64>>,
    pub payload_len: Signal<In, Bits<16>>,
    pub frame_len: Signal<In, Bits<17>>,
    pub overflow: Signal<In, Bit>,
    pub frame_start: Signal<In, Addr>,
    /// Keep the frame in the store (a host record will read it).
    pub keep: Signal<Out, Bit>,
    // Configuration.
    pub enable: Signal<In, Bit>,
    pub role: Signal<In, Bits<2>>,
    pub replica_id: Signal<In, Bits<8>>,
    pub replicas: Signal<In, Bits<4>>,
    pub window: Signal<In, Bits<16>>,
    pub cfg_ballot: Signal<In, Bits<64>>,
    pub configure: Signal<In, Bit>,
    pub cfg_next_slot: Signal<In, Bits<64>>,
    pub cfg_commit: Signal<In, Bits<64>>,
    pub fence_request: Signal<In, Bit>,
    pub fence_ballot: Signal<In, Bits<64>>,
    // Leader: an entry from the host asks for a slot.
    pub submit: Signal<In, Bit>,
    pub submit_len: Signal<In, Bits<17>>,
    pub submit_grant: Signal<Out, Bit>,
    /// Room for another slot in the window.
    pub window_open: Signal<Out, Bit>,
    // Card-to-host queue.
    pub c2h_room: Signal<In, Bit>,
    pub c2h_push: Signal<Out, Bit>,
    pub c2h_kind: Signal<Out, C2hKind>,
    /// The record's body is in the host-to-card store (a submitted entry).
    pub c2h_from_h2c: Signal<Out, Bit>,
    pub c2h_ballot: Signal<Out, Bits<64>>,
    pub c2h_slot: Signal<Out, Bits<64>>,
    pub c2h_commit: Signal<Out, Bits<64>>,
    /// An Accepted record is followed by Committed{ballot, commit}.
    pub c2h_then_commit: Signal<Out, Bit>,
    pub c2h_len: Signal<Out, Bits<17>>,
    pub c2h_start: Signal<Out, Addr>,
    // Transmit queue (frames this unit answers with).
    pub tx_room: Signal<In, Bit>,
    pub tx_push: Signal<Out, Bit>,
    pub tx_kind: Signal<Out, TxKind>,
    pub tx_to: Signal<Out, Bits<8>>,
    pub tx_ballot: Signal<Out, Bits<64>>,
    pub tx_slot: Signal<Out, Bits<64>>,
    /// The frame's fate: a counter code, `RxFrames` for none.
    pub fate: Signal<Out, Reason>,
    // State, for the register file and the leader unit.
    pub next_slot: Signal<Out, Bits<64>>,
    pub commit_index: Signal<Out, Bits<64>>,
    pub fence: Signal<Out, Bits<64>>,

    // Codes.
    ok: Constant<Reason>,
    f_overflow: Constant<Reason>,
    f_stale: Constant<Reason>,
    f_phase2: Constant<Reason>,
    f_old_life: Constant<Reason>,
    f_rare: Constant<Reason>,
    f_idle: Constant<Reason>,
    f_higher: Constant<Reason>,
    f_slot: Constant<Reason>,
    f_accepted: Constant<Reason>,
    f_reacked: Constant<Reason>,
    f_ack: Constant<Reason>,
    t_accept: Constant<Bits<8>>,
    t_accepted: Constant<Bits<8>>,
    t_commit: Constant<Bits<8>>,
    t_nack: Constant<Bits<8>>,
    k_accepted: Constant<C2hKind>,
    k_committed: Constant<C2hKind>,
    k_fence_done: Constant<C2hKind>,
    k_punted: Constant<C2hKind>,
    role_follower: Constant<Bits<2>>,
    role_leader: Constant<Bits<2>>,
    max_window: Constant<Bits<16>>,
    one: Constant<Bits<8>>,

    quorum: Quorum,
    next_slot_reg: DFF<Bits<64>>,
    commit_reg: DFF<Bits<64>>,
    base: DFF<Bits<64>>,
    reported: DFF<Bits<64>>,
    fence_reg: DFF<Bits<64>>,
    fence_pending: DFF<Bit>,
    fence_done_ballot: DFF<Bits<64>>,
    commit_pending: DFF<Bit>,

    // Decision (combinational).
    ours: Signal<Local, Bits<64>>,
    is_follower: Signal<Local, Bit>,
    is_leader: Signal<Local, Bit>,
    from_peer: Signal<Local, Bit>,
    stale: Signal<Local, Bit>,
    higher: Signal<Local, Bit>,
    seen: Signal<Local, Bit>,
    outstanding: Signal<Local, Bit>,
    want_fate: Signal<Local, Reason>,
    want_c2h: Signal<Local, Bit>,
    want_kind: Signal<Local, C2hKind>,
    want_tx: Signal<Local, Bit>,
    want_tx_kind: Signal<Local, TxKind>,
    want_tx_ballot: Signal<Local, Bits<64>>,
    fits: Signal<Local, Bit>,
    act: Signal<Local, Bit>,
    in_flight: Signal<Local, Bits<64>>,
    window_limit: Signal<Local, Bits<64>>,
    grant: Signal<Local, Bit>,
    advance: Signal<Local, Bit>,
    c2h_busy: Signal<Local, Bit>,
    /// The first slot not yet committed.
    first_open: Signal<Local, Bits<64>>,
    /// Commit after this cycle's advance (the Committed record's value when
    /// the record leaves in the advance's own cycle).
    commit_next: Signal<Local, Bits<64>>,
}

fn code(c: Counter) -> Constant<Reason> {
    Constant::new(crate::beat::counter_code(c))
}

fn type_code(t: MsgType) -> Constant<Bits<8>> {
    Constant::new(u64::from(t.code()).into())
}

fn kind(k: u8) -> Constant<C2hKind> {
    Constant::new(u64::from(k).into())
}

impl Default for FastPath {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            done: Default::default(),
            reason: Default::default(),
            msg_type: Default::default(),
            sender: Default::default(),
            old_life: Default::default(),
            ballot: Default::default(),
            slot: Default::default(),
            commit: Default::default(),
            payload_len: Default::default(),
            frame_len: Default::default(),
            overflow: Default::default(),
            frame_start: Default::default(),
            keep: Default::default(),
            enable: Default::default(),
            role: Default::default(),
            replica_id: Default::default(),
            replicas: Default::default(),
            window: Default::default(),
            cfg_ballot: Default::default(),
            configure: Default::default(),
            cfg_next_slot: Default::default(),
            cfg_commit: Default::default(),
            fence_request: Default::default(),
            fence_ballot: Default::default(),
            submit: Default::default(),
            submit_len: Default::default(),
            submit_grant: Default::default(),
            window_open: Default::default(),
            c2h_room: Default::default(),
            c2h_push: Default::default(),
            c2h_kind: Default::default(),
            c2h_from_h2c: Default::default(),
            c2h_ballot: Default::default(),
            c2h_slot: Default::default(),
            c2h_commit: Default::default(),
            c2h_then_commit: Default::default(),
            c2h_len: Default::default(),
            c2h_start: Default::default(),
            tx_room: Default::default(),
            tx_push: Default::default(),
            tx_kind: Default::default(),
            tx_to: Default::default(),
            tx_ballot: Default::default(),
            tx_slot: Default::default(),
            fate: Default::default(),
            next_slot: Default::default(),
            commit_index: Default::default(),
            fence: Default::default(),
            ok: code(Counter::RxFrames),
            f_overflow: code(Counter::DropOverflow),
            f_stale: code(Counter::DropStale),
            f_phase2: code(Counter::DropPhase2),
            f_old_life: code(Counter::DropOldLife),
            f_rare: code(Counter::PuntRare),
            f_idle: code(Counter::PuntIdle),
            f_higher: code(Counter::PuntHigherBallot),
            f_slot: code(Counter::PuntSlot),
            f_accepted: code(Counter::Accepted),
            f_reacked: code(Counter::Reacked),
            f_ack: code(Counter::AckCounted),
            t_accept: type_code(MsgType::Accept),
            t_accepted: type_code(MsgType::Accepted),
            t_commit: type_code(MsgType::Commit),
            t_nack: type_code(MsgType::Nack),
            k_accepted: kind(records::C2H_ACCEPTED),
            k_committed: kind(records::C2H_COMMITTED),
            k_fence_done: kind(records::C2H_FENCE_DONE),
            k_punted: kind(records::C2H_PUNTED),
            role_follower: Constant::new(u64::from(regs::ROLE_FOLLOWER).into()),
            role_leader: Constant::new(u64::from(regs::ROLE_LEADER).into()),
            max_window: Constant::new((WINDOW_SLOTS as u64).into()),
            one: Constant::new(1u64.into()),
            quorum: Default::default(),
            next_slot_reg: Default::default(),
            commit_reg: Default::default(),
            base: Default::default(),
            reported: Default::default(),
            fence_reg: Default::default(),
            fence_pending: Default::default(),
            fence_done_ballot: Default::default(),
            commit_pending: Default::default(),
            ours: Default::default(),
            is_follower: Default::default(),
            is_leader: Default::default(),
            from_peer: Default::default(),
            stale: Default::default(),
            higher: Default::default(),
            seen: Default::default(),
            outstanding: Default::default(),
            want_fate: Default::default(),
            want_c2h: Default::default(),
            want_kind: Default::default(),
            want_tx: Default::default(),
            want_tx_kind: Default::default(),
            want_tx_ballot: Default::default(),
            fits: Default::default(),
            act: Default::default(),
            in_flight: Default::default(),
            window_limit: Default::default(),
            grant: Default::default(),
            advance: Default::default(),
            c2h_busy: Default::default(),
            first_open: Default::default(),
            commit_next: Default::default(),
        }
    }
}

impl FastPath {
    /// Simulation view: an ack not yet counted, a commit advance or a fence
    /// completion not yet reported.
    pub fn in_flight(&self) -> bool {
        self.commit_pending.q.val()
            || self.fence_pending.q.val()
            || self.advance.val()
            || (self.is_leader.val() && self.quorum.advancing())
            || self.quorum.in_flight()
    }
}

impl Logic for FastPath {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            next_slot_reg,
            commit_reg,
            base,
            reported,
            fence_reg,
            fence_pending,
            fence_done_ballot,
            commit_pending
        );
        self.quorum.clock.next = self.clock.val();
        self.quorum.rst.next = self.rst.val();

        self.ours.next = self.cfg_ballot.val();
        self.is_follower.next = self.enable.val() && (self.role.val() == self.role_follower.val());
        self.is_leader.next = self.enable.val() && (self.role.val() == self.role_leader.val());
        self.from_peer.next = false;
        self.stale.next = false;
        self.higher.next = false;
        self.seen.next = false;
        self.outstanding.next = false;
        self.want_fate.next = self.ok.val();
        self.want_c2h.next = false;
        self.want_kind.next = self.k_punted.val();
        self.want_tx.next = false;
        self.want_tx_kind.next = self.t_accepted.val();
        self.want_tx_ballot.next = self.ballot.val();
        // Only a frame verdict needs the table (and the simulator the time).
        if self.done.val() {
            self.from_peer.next = (self.sender.val() != self.replica_id.val())
                && (self.sender.val() < bit_cast::<8, 4>(self.replicas.val()));
            self.stale.next = (self.ballot.val() < self.ours.val())
                || (self.ballot.val() < self.fence_reg.q.val());
            self.higher.next = self.ballot.val() > self.ours.val();
            self.seen.next = (self.base.q.val() <= self.slot.val())
                && (self.slot.val() < self.next_slot_reg.q.val());
            self.outstanding.next = (self.commit_reg.q.val() < self.slot.val())
                && (self.slot.val() < self.next_slot_reg.q.val());

            // The table of docs/protocol.md, row by row.
            if self.reason.val() != self.ok.val() {
                self.want_fate.next = self.reason.val();
            } else if self.overflow.val() {
                self.want_fate.next = self.f_overflow.val();
            } else if (self.msg_type.val() != self.t_accept.val())
                && (self.msg_type.val() != self.t_accepted.val())
                && (self.msg_type.val() != self.t_commit.val())
            {
                self.want_fate.next = self.f_rare.val();
                self.want_c2h.next = true;
            } else if !self.is_follower.val() && !self.is_leader.val() {
                self.want_fate.next = self.f_idle.val();
                self.want_c2h.next = true;
            } else if !self.from_peer.val() {
                self.want_fate.next = self.f_phase2.val();
            } else if self.old_life.val() {
                // A life of the sender that has since restarted.
                self.want_fate.next = self.f_old_life.val();
            } else if self.is_follower.val() {
                if self.msg_type.val() == self.t_accept.val() {
                    if self.stale.val() {
                        self.want_fate.next = self.f_stale.val();
                        self.want_tx.next = true;
                        self.want_tx_kind.next = self.t_nack.val();
                        self.want_tx_ballot.next = self.ours.val();
                        if self.fence_reg.q.val() > self.ours.val() {
                            self.want_tx_ballot.next = self.fence_reg.q.val();
                        }
                    } else if self.higher.val() {
                        self.want_fate.next = self.f_higher.val();
                        self.want_c2h.next = true;
                    } else if self.slot.val() == self.next_slot_reg.q.val() {
                        self.want_fate.next = self.f_accepted.val();
                        self.want_c2h.next = true;
                        self.want_kind.next = self.k_accepted.val();
                        self.want_tx.next = true;
                    } else if self.seen.val() {
                        self.want_fate.next = self.f_reacked.val();
                        self.want_tx.next = true;
                    } else {
                        self.want_fate.next = self.f_slot.val();
                        self.want_c2h.next = true;
                    }
                } else if (self.msg_type.val() == self.t_commit.val())
                    && (self.ballot.val() == self.ours.val())
                {
                    // A heartbeat of our leader: reported on every one.
                    self.want_c2h.next = true;
                    self.want_kind.next = self.k_committed.val();
                } else if (self.msg_type.val() == self.t_commit.val()) && self.higher.val() {
                    self.want_fate.next = self.f_higher.val();
                    self.want_c2h.next = true;
                } else {
                    self.want_fate.next = self.f_phase2.val();
                }
            } else if (self.msg_type.val() == self.t_accepted.val())
                && self.outstanding.val()
                && (self.ballot.val() == self.ours.val())
            {
                self.want_fate.next = self.f_ack.val();
            } else if self.higher.val() {
                self.want_fate.next = self.f_higher.val();
                self.want_c2h.next = true;
            } else {
                self.want_fate.next = self.f_phase2.val();
            }
        }
        self.fits.next = (!self.want_c2h.val() || self.c2h_room.val())
            && (!self.want_tx.val() || self.tx_room.val());
        self.act.next = self.done.val() && self.fits.val();

        // Frame decisions.
        self.keep.next = false;
        self.fate.next = self.ok.val();
        self.c2h_push.next = false;
        self.c2h_kind.next = self.want_kind.val();
        self.c2h_from_h2c.next = false;
        self.c2h_ballot.next = self.ballot.val();
        self.c2h_slot.next = self.slot.val();
        self.c2h_commit.next = self.commit.val();
        self.c2h_then_commit.next = false;
        self.c2h_len.next = self.frame_len.val();
        self.c2h_start.next = self.frame_start.val();
        self.tx_push.next = false;
        self.tx_kind.next = self.want_tx_kind.val();
        self.tx_to.next = self.sender.val();
        self.tx_ballot.next = self.want_tx_ballot.val();
        self.tx_slot.next = self.slot.val();
        self.quorum.mark.next = false;
        self.quorum.mark_at.next = bit_cast::<6, 64>(self.slot.val());
        self.quorum.mark_bit.next = self.one.val() << self.sender.val();
        if self.done.val() && !self.fits.val() {
            self.fate.next = self.f_overflow.val();
        }
        if self.act.val() {
            self.fate.next = self.want_fate.val();
            self.c2h_push.next = self.want_c2h.val();
            self.keep.next =
                self.want_c2h.val() && (self.want_kind.val() != self.k_committed.val());
            self.tx_push.next = self.want_tx.val();
            if self.want_kind.val() == self.k_accepted.val() {
                self.c2h_len.next = bit_cast::<17, 16>(self.payload_len.val());
                self.next_slot_reg.d.next = self.next_slot_reg.q.val() + 1;
                if self.commit.val() > self.reported.q.val() {
                    self.c2h_then_commit.next = true;
                    self.reported.d.next = self.commit.val();
                }
            }
            if (self.want_kind.val() == self.k_committed.val())
                && (self.commit.val() > self.reported.q.val())
            {
                self.reported.d.next = self.commit.val();
            }
            if self.want_fate.val() == self.f_ack.val() {
                self.quorum.mark.next = true;
            }
        }

        // Leader: commit advances over contiguous chosen slots; the record
        // waits for a free cycle of the queue.
        self.quorum.needed.next = (self.replicas.val() >> 1) + 1;
        self.first_open.next = self.commit_reg.q.val() + 1;
        self.quorum.first.next = bit_cast::<6, 64>(self.first_open.val());
        self.advance.next = self.is_leader.val() && (self.quorum.advance.val() != 0_u64);
        // Leader: slots for submitted entries, within the window.
        self.in_flight.next = self.next_slot_reg.q.val() - 1 - self.commit_reg.q.val();
        self.window_limit.next = bit_cast::<64, 16>(self.window.val());
        if self.window.val() > self.max_window.val() {
            self.window_limit.next = bit_cast::<64, 16>(self.max_window.val());
        }
        self.window_open.next =
            self.is_leader.val() && (self.in_flight.val() < self.window_limit.val());
        self.quorum.limit.next = bit_cast::<7, 64>(self.in_flight.val());
        if self.in_flight.val() > bit_cast::<64, 16>(self.max_window.val()) {
            self.quorum.limit.next = bit_cast::<7, 16>(self.max_window.val());
        }
        self.c2h_busy.next = self.act.val() && self.want_c2h.val();
        // A commit record goes before a new entry's (the window it opens
        // must be visible to the host first).
        self.grant.next = self.submit.val()
            && self.window_open.val()
            && !self.c2h_busy.val()
            && self.c2h_room.val()
            && !self.advance.val()
            && !self.commit_pending.q.val();
        self.submit_grant.next = self.grant.val();
        self.quorum.start.next = self.grant.val();
        self.quorum.start_at.next = bit_cast::<6, 64>(self.next_slot_reg.q.val());
        self.quorum.own_bit.next = self.one.val() << self.replica_id.val();
        if self.grant.val() {
            self.c2h_push.next = true;
            self.c2h_kind.next = self.k_accepted.val();
            self.c2h_from_h2c.next = true;
            self.c2h_ballot.next = self.ours.val();
            self.c2h_slot.next = self.next_slot_reg.q.val();
            self.c2h_len.next = self.submit_len.val();
            self.c2h_start.next = 0.into();
            self.next_slot_reg.d.next = self.next_slot_reg.q.val() + 1;
        }

        // The advance arrives registered (a cycle after its run was
        // counted); its record leaves in the same cycle when the queue is
        // free, with the moved commit, so that it keeps its place ahead of
        // the next frame's record.
        self.commit_next.next = self.commit_reg.q.val();
        if self.advance.val() {
            self.commit_next.next =
                self.commit_reg.q.val() + bit_cast::<64, 7>(self.quorum.advance.val());
            self.commit_reg.d.next = self.commit_next.val();
            self.commit_pending.d.next = true;
        }
        if (self.commit_pending.q.val() || self.advance.val())
            && !self.c2h_busy.val()
            && self.c2h_room.val()
        {
            self.c2h_push.next = true;
            self.c2h_kind.next = self.k_committed.val();
            self.c2h_ballot.next = self.ours.val();
            self.c2h_commit.next = self.commit_next.val();
            self.commit_pending.d.next = false;
        }

        // Fence: effective at once; its record after every earlier one.
        if self.fence_request.val() {
            if self.fence_ballot.val() > self.fence_reg.q.val() {
                self.fence_reg.d.next = self.fence_ballot.val();
            }
            self.fence_pending.d.next = true;
            self.fence_done_ballot.d.next = self.fence_ballot.val();
        }
        if self.fence_pending.q.val()
            && !self.c2h_busy.val()
            && !self.grant.val()
            && !self.commit_pending.q.val()
            && !self.advance.val()
            && self.c2h_room.val()
        {
            self.c2h_push.next = true;
            self.c2h_kind.next = self.k_fence_done.val();
            self.c2h_ballot.next = self.fence_done_ballot.q.val();
            self.fence_pending.d.next = self.fence_request.val();
        }

        if self.configure.val() {
            self.next_slot_reg.d.next = self.cfg_next_slot.val();
            self.base.d.next = self.cfg_next_slot.val();
            self.commit_reg.d.next = self.cfg_commit.val();
            self.reported.d.next = self.cfg_commit.val();
            self.commit_pending.d.next = false;
        }
        self.quorum.clear.next = self.configure.val();
        if self.rst.val() {
            self.next_slot_reg.d.next = 1.into();
            self.base.d.next = 1.into();
            self.commit_reg.d.next = 0.into();
            self.reported.d.next = 0.into();
            self.fence_reg.d.next = 0.into();
            self.fence_pending.d.next = false;
            self.commit_pending.d.next = false;
        }
        self.next_slot.next = self.next_slot_reg.q.val();
        self.commit_index.next = self.commit_reg.q.val();
        self.fence.next = self.fence_reg.q.val();
    }
}
