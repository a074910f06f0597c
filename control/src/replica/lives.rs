//! Lives: which incarnation of each replica this one knows (its crash
//! vector), and the messages it therefore admits. A message from an older
//! life of its sender is dropped; a newer life learned from any message
//! discards the votes collected from the older one. See `docs/protocol.md`,
//! "Crash with amnesia".

use riptide_wire::Message;
use riptide_wire::life::{is_older, life};
use riptide_wire::regs::MAX_REPLICAS;

use super::{Replica, Role, State, Variant};

/// The crash vector a message carries, if its type carries one.
fn carried(message: &Message) -> Option<&[u32]> {
    match message {
        Message::Prepare { lives, .. }
        | Message::Promise { lives, .. }
        | Message::RecoveryRequest { lives, .. }
        | Message::RecoveryResponse { lives, .. } => Some(lives),
        _ => None,
    }
}

impl Replica {
    /// This replica's incarnation: 0 on a group's first boot, higher with
    /// every restart.
    pub fn incarnation(&self) -> u32 {
        self.lives[usize::from(self.cfg.id)]
    }

    /// The `LIFE` byte of the datagrams this replica sends.
    pub fn life(&self) -> u8 {
        if self.ignores_lives() {
            0
        } else {
            life(self.incarnation())
        }
    }

    /// The crash vector: the highest incarnation known of each replica.
    pub fn lives(&self) -> &[u32] {
        &self.lives
    }

    pub(super) fn ignores_lives(&self) -> bool {
        self.cfg.variant == Variant::StaleIncarnation
    }

    /// The NIC's lives table: the `LIFE` byte of every known life.
    pub(super) fn nic_lives(&self) -> [u8; MAX_REPLICAS] {
        let mut table = [0; MAX_REPLICAS];
        if !self.ignores_lives() && self.cfg.variant != Variant::NicIgnoresLives {
            for (entry, &incarnation) in table.iter_mut().zip(&self.lives) {
                *entry = life(incarnation);
            }
        }
        table
    }

    /// Whether a message from `from` (whose header said `header_life`) comes
    /// from its sender's newest known life; merges what it teaches. Our own
    /// entry of a carried vector is left to the caller: a recovery response
    /// reports there what the responder knew before our request.
    pub(super) fn admit(&mut self, from: u8, header_life: u8, message: &Message) -> bool {
        if self.ignores_lives() {
            return true;
        }
        let sender = usize::from(from);
        let Some(vector) = carried(message) else {
            return !is_older(header_life, life(self.lives[sender]));
        };
        if vector.len() != self.lives.len() || vector[sender] < self.lives[sender] {
            return false;
        }
        let me = usize::from(self.cfg.id);
        for (id, &incarnation) in vector.iter().enumerate() {
            if id != me && incarnation > self.lives[id] {
                self.lives[id] = incarnation;
                self.forget_votes_of(id as u8, incarnation);
            }
        }
        let about_me = vector[me];
        if about_me > self.incarnation()
            && self.role() != Role::Recovering
            && !matches!(message, Message::RecoveryResponse { .. })
        {
            // Someone knows a newer life of us: we are the stale twin of a
            // copied state (two processes with one id). Our votes must not
            // count beside the newer life's: recover as a newer one still.
            self.become_newer_life(about_me + 1);
            return false;
        }
        true
    }

    /// Votes collected from lives of `id` older than `incarnation` no longer
    /// count.
    fn forget_votes_of(&mut self, id: u8, incarnation: u32) {
        if let State::Candidate(candidacy) = &mut self.state {
            candidacy.forget(id, incarnation);
        }
        if let State::Recovering(recovery) = &mut self.state {
            recovery.forget(id, incarnation);
        }
    }
}
