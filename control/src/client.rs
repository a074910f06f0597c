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

/// First pause after a `Busy` answer; each further `Busy` for the same
/// request doubles it, up to [`BUSY_PAUSE_MAX`].
pub const BUSY_PAUSE: Duration = Duration::from_millis(1);

/// Longest pause after a `Busy` answer.
pub const BUSY_PAUSE_MAX: Duration = Duration::from_millis(128);

/// How many hints naming the replica that just timed out are disbelieved
/// before the session tries it again. After a leader dies, the others keep
/// naming it until their election timeout passes; believing them costs one
/// more attempt timeout per hint. 40 pauses of [`NO_LEADER_PAUSE`] (800 ms)
/// outlast the default election timeout (300 to 600 ms); a leader that was
/// only slow is tried again after that.
pub const SUSPECT_HINTS: u32 = 40;

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
    /// The pending request's number and encoded command.
    pending: Option<(u64, Vec<u8>)>,
    /// Each replica's cookie for this client's address (0: none yet):
    /// `riptide_node::cookie`.
    cookies: Vec<u64>,
    /// Whether any replica answered the pending request at all.
    answered: bool,
    /// The replica whose attempt last timed out for the pending request,
    /// and how many hints naming it are left to disbelieve.
    suspect: Option<(usize, u32)>,
    /// `Busy` answers to the pending request so far: the backoff's exponent.
    busy: u32,
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
            cookies: vec![0; replicas.max(1)],
            answered: false,
            suspect: None,
            busy: 0,
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
        self.pending = Some((request, command.encode()));
        self.answered = false;
        self.suspect = None;
        self.busy = 0;
        self.retry_datagram()
            .expect("a request is pending: it was just begun")
    }

    /// The pending request's datagram for [`Session::target`]: the same
    /// request number and command, with the target's cookie.
    pub fn retry_datagram(&self) -> Option<Vec<u8>> {
        let (request, command) = self.pending.as_ref()?;
        let envelope = Envelope {
            group: self.group,
            sender: CLIENT_SENDER,
            life: 0,
            message: Message::ClientRequest {
                client: self.client,
                request: *request,
                cookie: self.cookies[self.target],
                command: command.clone(),
            },
        };
        Some(envelope.encode())
    }

    /// The attempt timed out: the replica is suspected (probably down), and
    /// the next attempt goes to the next replica.
    pub fn timed_out(&mut self) {
        self.suspect = Some((self.target, SUSPECT_HINTS));
        self.move_on();
    }

    /// To the next replica that is not the suspect.
    fn move_on(&mut self) {
        self.target = (self.target + 1) % self.replicas;
        if self
            .suspect
            .is_some_and(|(suspect, _)| suspect == self.target)
            && self.replicas > 1
        {
            self.target = (self.target + 1) % self.replicas;
        }
    }

    /// Whether a hint naming `leader` is believed: not while it names the
    /// replica that just timed out, for [`SUSPECT_HINTS`] hints.
    fn believe(&mut self, leader: usize) -> bool {
        match &mut self.suspect {
            Some((suspect, left)) if *suspect == leader && *left > 0 => {
                *left -= 1;
                false
            }
            _ => true,
        }
    }

    /// A datagram arrived on the client's socket (untrusted bytes).
    pub fn on_datagram(&mut self, datagram: &[u8]) -> Progress {
        let Some((pending, _)) = self.pending else {
            return Progress::Ignored;
        };
        let Ok(envelope) = Envelope::decode(datagram, self.group) else {
            return Progress::Ignored;
        };
        let sender = envelope.sender;
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
            // The replica wants proof of our address before it answers
            // with more bytes than we sent: send the same request again,
            // with its cookie.
            Some(Ok(Reply::Cookie { cookie })) => {
                let from = usize::from(sender);
                if from >= self.replicas {
                    return Progress::Ignored;
                }
                self.cookies[from] = cookie;
                self.target = from;
                return Progress::Resend {
                    delay: Duration::ZERO,
                };
            }
            // The leader holds as many requests as it may: back off, then
            // ask it again (exponentially, so a crowd of clients thins out).
            Some(Ok(Reply::Busy)) => {
                let delay = BUSY_PAUSE
                    .saturating_mul(1 << self.busy.min(16))
                    .min(BUSY_PAUSE_MAX);
                self.busy += 1;
                return Progress::Resend { delay };
            }
            Some(Ok(reply)) => {
                self.pending = None;
                return Progress::Done(reply);
            }
            Some(Err(_)) => return Progress::Ignored,
        };
        match hint.map(usize::from).filter(|&l| l < self.replicas) {
            Some(leader) if leader != self.target && self.believe(leader) => {
                self.target = leader;
                Progress::Resend {
                    delay: Duration::ZERO,
                }
            }
            // No leader known, a stale view naming the replica asked, or the
            // replica that just timed out: ask the next one (not the
            // suspect) after a pause. It learns the new leader within a
            // heartbeat of the election.
            _ => {
                self.move_on();
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
        assert_eq!(s.retry_datagram(), Some(first.clone()));
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
    fn busy_answers_back_off_exponentially_at_the_same_replica() {
        let mut s = Session::new(1, GROUP, 3);
        s.begin(&put());
        let target = s.target();
        let busy = reply(1, 1, Some(target as u8), Some(Reply::Busy));
        let delays: Vec<Progress> = (0..9).map(|_| s.on_datagram(&busy)).collect();
        let ms = |n| Progress::Resend {
            delay: Duration::from_millis(n),
        };
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 128].map(ms).to_vec());
        assert_eq!((s.target(), s.pending()), (target, Some(1)));
        // A new request starts from the shortest pause again.
        s.begin(&put());
        assert_eq!(s.on_datagram(&reply(1, 2, None, Some(Reply::Busy))), ms(1));
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
    fn hints_naming_the_replica_that_timed_out_are_disbelieved_for_a_while() {
        // Replica 0 led and died: the request to it timed out.
        let mut s = Session::new(0, GROUP, 3);
        s.begin(&put());
        s.timed_out();
        assert_eq!(s.target(), 1);
        // The others still name 0 until their election timeout: the session
        // keeps asking them, never 0, so it hears of the new leader at once.
        for i in 0..SUSPECT_HINTS {
            assert_eq!(
                s.on_datagram(&reply(0, 1, Some(0), None)),
                Progress::Resend {
                    delay: NO_LEADER_PAUSE
                }
            );
            assert_eq!(s.target(), if i % 2 == 0 { 2 } else { 1 }, "hint {i}");
        }
        // After that long, 0 was only slow: its hint is believed again.
        assert_eq!(
            s.on_datagram(&reply(0, 1, Some(0), None)),
            Progress::Resend {
                delay: Duration::ZERO
            }
        );
        assert_eq!(s.target(), 0);
        // A hint naming a live replica is followed at once; a new request
        // suspects nobody.
        s.timed_out();
        assert_eq!(
            s.on_datagram(&reply(0, 1, Some(2), None)),
            Progress::Resend {
                delay: Duration::ZERO
            }
        );
        assert_eq!(s.target(), 2);
        s.begin(&put());
        assert_eq!(
            s.on_datagram(&reply(0, 2, Some(0), None)),
            Progress::Resend {
                delay: Duration::ZERO
            }
        );
    }

    #[test]
    fn a_cookie_is_kept_per_replica_and_sent_with_the_same_request() {
        let mut s = Session::new(1, GROUP, 3);
        s.begin(&put());
        let cookie = |datagram: &[u8]| match Envelope::decode(datagram, GROUP).unwrap().message {
            Message::ClientRequest {
                request, cookie, ..
            } => (request, cookie),
            other => panic!("{other:?}"),
        };
        assert_eq!(cookie(&s.retry_datagram().unwrap()), (1, 0));
        // Replica 1 (the sender of `reply`) asks for proof of our address.
        assert_eq!(
            s.on_datagram(&reply(1, 1, None, Some(Reply::Cookie { cookie: 77 }))),
            Progress::Resend {
                delay: Duration::ZERO
            }
        );
        assert_eq!(s.target(), 1);
        assert_eq!(cookie(&s.retry_datagram().unwrap()), (1, 77));
        // Another replica has its own key: no cookie for it yet.
        s.timed_out();
        assert_eq!(cookie(&s.retry_datagram().unwrap()), (1, 0));
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
