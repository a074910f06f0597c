//! Check-quorum: a leader that has not heard from a majority for
//! `check_quorum_ticks` steps down, so the clients it holds go and find the
//! leader the others elected. What the leader's host can observe of its
//! followers is its NIC's commit: the NIC counts the ACCEPTEDs itself, and a
//! `Committed` record under our ballot says a majority acked a slot we
//! submitted. An idle leader submits nothing, so it submits a no-op to ask.
//! See `docs/protocol.md`, "Check-quorum".

use crate::kv::LogValue;

use super::leader::Queued;
use super::{Replica, State, Variant};

impl Replica {
    /// Our NIC committed a slot under our ballot: a majority heard us.
    pub(super) fn quorum_heard(&mut self) {
        self.quorum_seen = self.now;
    }

    /// Step down when no majority answered for `check_quorum_ticks`; probe
    /// with a no-op when idle for half of it.
    pub(super) fn check_quorum_tick(&mut self) {
        let variant = self.cfg.variant;
        if variant == Variant::NoCheckQuorum || variant.keeps_former_elections() {
            return;
        }
        let limit = self.cfg.check_quorum_ticks;
        let silent = self.now - self.quorum_seen;
        if silent >= limit {
            // Phase 1 with the replicas we still reach (they grant a
            // pre-vote to the leader they follow), or silence if we are cut off.
            return self.stand_or_ask();
        }
        let State::Leader(leadership) = &mut self.state else {
            return;
        };
        let idle = leadership.next_slot - 1 == leadership.nic_commit && leadership.queue.is_empty();
        if idle && silent >= limit / 2 {
            leadership
                .queue
                .push_back(Queued::Value(LogValue::Noop.encode()));
        }
    }
}
