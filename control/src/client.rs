//! The KV client's protocol without I/O.
//!
//! [`Session`] follows `docs/protocol.md`, "Clients": one request at a time,
//! numbered upwards; a retry re-sends the *same* number, so the leader's
//! session table executes it at most once; `NotLeader` hints steer the next
//! attempt, timeouts move on to the next replica. The sockets live elsewhere:
//! `riptide_node::client::Client` runs a session over a blocking socket, and
//! the benchmark runs many sessions on one io_uring.

use std::time::Duration;

use riptide_wire::{Envelope, Message};

use crate::kv::{Command, Reply, TooLarge};

/// The sender id clients put in their datagrams' headers: not a replica.
pub const CLIENT_SENDER: u8 = 0xFF;

/// What a reply datagram means for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The pending request completed with this reply.
    Done(Reply),
    /// Not executed where it was sent; send it again to [`Session::target`]
    /// after `delay` (zero when a leader was named).
    Resend { delay: Duration },
    /// Not about the pending request (a late reply to an earlier attempt,
    /// another client's, garbage).
    Ignored,
}

/// Pause before retrying when a replica knows no leader (an election is on):
/// about one heartbeat, so the client does not spin.
pub const NO_LEADER_PAUSE: Duration = Duration::from_millis(20);

/// One client session without I/O.
#[derive(Debug, Clone)]
pub struct Session {
    client: u64,
    group: u16,
    replicas: usize,
    /// Index of the replica the next attempt goes to: the leader, as far as
    /// this session knows.
    target: usize,
    next_request: u64,
    pending: Option<(u64, Vec<u8>)>,
    /// Whether any replica answered the pending request at all.
    answered: bool,
}

impl Session {
    /// Client `client` of a group of `replicas` with id `group`. Client ids must
    /// be unique among the group's clients: the leader keeps one session per
    /// id, and a reused id's request numbers would collide.
    pub fn new(client: u64, group: u16, replicas: usize) -> Session {
        Session {
            client,
            group,
            replicas: replicas.max(1),
            target: (client % replicas.max(1) as u64) as usize,
            next_request: 1,
            pending: None,
            answered: false,
        }
    }

    pub fn client(&self) -> u64 {
        self.client
    }

    /// The replica (index in the config) to send the pending request to.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The pending request's number.
    pub fn pending(&self) -> Option<u64> {
        self.pending.as_ref().map(|(request, _)| *request)
    }

    /// Whether some replica answered the pending request (even if only to
    /// say it is not the leader).
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Starts a request; returns the datagram to send to [`Session::target`].
    /// A request still pending is given up (its outcome stays unknown).
    /// A command the replicas would refuse ([`Command::check_size`]) is
    /// refused here, before anything is sent.
    pub fn try_begin(&mut self, command: &Command) -> Result<Vec<u8>, TooLarge> {
        command.check_size()?;
        Ok(self.begin(command))
    }

    /// [`Session::try_begin`] for a command known to fit.
    ///
    /// # Panics
    /// If the command does not fit one datagram (far above
    /// [`crate::kv::MAX_LOG_VALUE_LEN`]).
    pub fn begin(&mut self, command: &Command) -> Vec<u8> {
        let request = self.next_request;
        self.next_request += 1;
        let datagram = Envelope {
            group: self.group,
            sender: CLIENT_SENDER,
            life: 0,
            message: Message::ClientRequest {
                client: self.client,
                request,
                command: command.encode(),
            },
        }
        .encode();
        self.pending = Some((request, datagram.clone()));
        self.answered = false;
        datagram
    }

    /// The pending request's datagram, unchanged (same request number).
    pub fn retry_datagram(&self) -> Option<&[u8]> {
        self.pending
            .as_ref()
            .map(|(_, datagram)| datagram.as_slice())
    }

    /// The attempt timed out: the next one goes to the next replica.
    pub fn timed_out(&mut self) {
        self.target = (self.target + 1) % self.replicas;
    }

    /// A datagram arrived on the client's socket (untrusted bytes).
    pub fn on_datagram(&mut self, datagram: &[u8]) -> Progress {
        let Some((pending, _)) = self.pending else {
            return Progress::Ignored;
        };
        let Ok(envelope) = Envelope::decode(datagram, self.group) else {
            return Progress::Ignored;
        };
        let Message::ClientReply {
            client,
            request,
            leader,
            result,
        } = envelope.message
        else {
            return Progress::Ignored;
        };
        if client != self.client || request != pending {
            return Progress::Ignored;
        }
        self.answered = true;
        let hint = match result.map(|bytes| Reply::decode(&bytes)) {
            None => leader,
            Some(Ok(Reply::NotLeader { leader })) => leader,
            Some(Ok(reply)) => {
                self.pending = None;
                return Progress::Done(reply);
            }
            Some(Err(_)) => return Progress::Ignored,
        };
        match hint.map(usize::from).filter(|&l| l < self.replicas) {
            Some(leader) if leader != self.target => {
                self.target = leader;
                Progress::Resend {
                    delay: Duration::ZERO,
                }
            }
            _ => {
                self.timed_out();
                Progress::Resend {
                    delay: NO_LEADER_PAUSE,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: u16 = 7;

    fn reply(client: u64, request: u64, leader: Option<u8>, result: Option<Reply>) -> Vec<u8> {
        Envelope {
            group: GROUP,
            sender: 1,
            life: 0,
            message: Message::ClientReply {
                client,
                request,
                leader,
                result: result.map(|r| r.encode()),
            },
        }
        .encode()
    }

    fn put() -> Command {
        Command::Put {
            key: "k".into(),
            value: "v".into(),
        }
    }

    #[test]
    fn requests_are_numbered_upwards_and_retries_repeat_the_number() {
        let mut s = Session::new(5, GROUP, 3);
        let first = s.begin(&put());
        assert_eq!(s.pending(), Some(1));
        assert_eq!(s.retry_datagram(), Some(first.as_slice()));
        let decoded = Envelope::decode(&first, GROUP).unwrap();
        assert!(matches!(
            decoded.message,
            Message::ClientRequest {
                client: 5,
                request: 1,
                ..
            }
        ));
        assert_eq!(decoded.sender, CLIENT_SENDER);
        assert_eq!(
            s.on_datagram(&reply(5, 1, Some(1), Some(Reply::Done))),
            Progress::Done(Reply::Done)
        );
        s.begin(&put());
        assert_eq!(s.pending(), Some(2));
    }

    #[test]
    fn a_leader_hint_redirects_and_no_hint_moves_on_after_a_pause() {
        let mut s = Session::new(0, GROUP, 3);
        s.begin(&put());
        assert_eq!(s.target(), 0);
        assert_eq!(
            s.on_datagram(&reply(0, 1, Some(2), None)),
            Progress::Resend {
                delay: Duration::ZERO
            }
        );
        assert_eq!(s.target(), 2);
        assert_eq!(
            s.on_datagram(&reply(0, 1, None, None)),
            Progress::Resend {
                delay: NO_LEADER_PAUSE
            }
        );
        assert_eq!(s.target(), 0);
        assert!(s.answered());
        // A hint naming the replica just asked (a stale view) moves on too.
        assert_eq!(
            s.on_datagram(&reply(0, 1, Some(0), None)),
            Progress::Resend {
                delay: NO_LEADER_PAUSE
            }
        );
        assert_eq!(s.target(), 1);
        s.timed_out();
        assert_eq!(s.target(), 2);
    }

    #[test]
    fn unrelated_and_malformed_datagrams_are_ignored() {
        let mut s = Session::new(3, GROUP, 3);
        assert_eq!(
            s.on_datagram(&reply(3, 1, Some(0), Some(Reply::Done))),
            Progress::Ignored
        );
        s.begin(&put());
        for datagram in [
            reply(4, 1, Some(0), Some(Reply::Done)),
            reply(3, 0, Some(0), Some(Reply::Done)),
            vec![],
            vec![0xAB; 100],
            reply(3, 1, Some(0), None)[..40].to_vec(),
        ] {
            assert_eq!(s.on_datagram(&datagram), Progress::Ignored);
        }
        assert!(!s.answered());
        assert_eq!(s.pending(), Some(1));
    }
}
