//! The KV client: put, get, delete and cas against a replica group over UDP.
//!
//! [`Session`] is the protocol without I/O (`docs/protocol.md`, "Clients"): one
//! request at a time, numbered upwards; a retry re-sends the *same* number, so
//! the leader's session table executes it at most once; `NotLeader` hints
//! steer the next attempt, timeouts move on to the next replica. [`Client`]
//! runs a session over a blocking socket; the benchmark runs many sessions on
//! one io_uring.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use riptide_wire::{Envelope, Message};
use thiserror::Error;

use crate::kv::{Command, Reply};
use crate::runtime::ClusterConfig;

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

/// Why a request did not complete.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "no replica answered within {waited:?} (tried {tried}): is the group running? \
         `riptide status` shows each replica"
    )]
    NoAnswer { waited: Duration, tried: String },
    #[error(
        "replicas answered, but none was the leader within {waited:?}: an election may be \
         stuck (is a majority running and reachable?)"
    )]
    NoLeader { waited: Duration },
    #[error("client socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Timing of a blocking client.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// How long one attempt waits for its reply before trying the next replica.
    pub attempt_timeout: Duration,
    /// How long a request is retried in all.
    pub deadline: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            attempt_timeout: Duration::from_millis(300),
            deadline: Duration::from_secs(5),
        }
    }
}

/// A blocking KV client: one request at a time.
pub struct Client {
    session: Session,
    socket: UdpSocket,
    replicas: Vec<SocketAddr>,
    options: ClientOptions,
}

impl Client {
    pub fn new(
        config: &ClusterConfig,
        client: u64,
        options: ClientOptions,
    ) -> std::io::Result<Client> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        let replicas = config.client_addrs();
        Ok(Client {
            session: Session::new(client, config.group, replicas.len()),
            socket,
            replicas,
            options,
        })
    }

    pub fn id(&self) -> u64 {
        self.session.client()
    }

    /// Runs `command` to completion, retrying (same request number) until
    /// the deadline. On an error the outcome is unknown: the command may
    /// still take effect.
    pub fn execute(&mut self, command: &Command) -> Result<Reply, ClientError> {
        let start = Instant::now();
        let deadline = start + self.options.deadline;
        let mut datagram = self.session.begin(command);
        let mut buf = vec![0; 1 << 16];
        loop {
            let attempt_end = (Instant::now() + self.options.attempt_timeout).min(deadline);
            self.socket
                .send_to(&datagram, self.replicas[self.session.target()])?;
            let mut resend_at = None;
            while resend_at.is_none() {
                let now = Instant::now();
                if now >= attempt_end {
                    break;
                }
                self.socket.set_read_timeout(Some(attempt_end - now))?;
                let len = match self.socket.recv_from(&mut buf) {
                    Ok((len, _)) => len,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                match self.session.on_datagram(&buf[..len]) {
                    Progress::Done(reply) => return Ok(reply),
                    Progress::Resend { delay } => resend_at = Some(Instant::now() + delay),
                    Progress::Ignored => {}
                }
            }
            match resend_at {
                Some(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
                None => self.session.timed_out(),
            }
            if Instant::now() >= deadline {
                let waited = start.elapsed();
                return Err(if self.session.answered() {
                    ClientError::NoLeader { waited }
                } else {
                    let tried: Vec<String> =
                        self.replicas.iter().map(ToString::to_string).collect();
                    ClientError::NoAnswer {
                        waited,
                        tried: tried.join(", "),
                    }
                });
            }
            datagram = self
                .session
                .retry_datagram()
                .expect("a request is pending until it completes")
                .to_vec();
        }
    }

    pub fn put(&mut self, key: &str, value: &str) -> Result<Reply, ClientError> {
        self.execute(&Command::Put {
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    pub fn get(&mut self, key: &str) -> Result<Reply, ClientError> {
        self.execute(&Command::Get {
            key: key.to_string(),
        })
    }

    pub fn delete(&mut self, key: &str) -> Result<Reply, ClientError> {
        self.execute(&Command::Delete {
            key: key.to_string(),
        })
    }

    pub fn cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<Reply, ClientError> {
        self.execute(&Command::Cas {
            key: key.to_string(),
            expected: expected.map(str::to_string),
            new: new.to_string(),
        })
    }
}

/// A client id for a process that has no assigned one: unique in practice
/// (not for replay: a client's id must differ from every earlier client's,
/// which no fixed seed can promise).
pub fn fresh_client_id() -> u64 {
    crate::runtime::fresh_seed()
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

    #[test]
    fn a_client_without_replicas_reports_no_answer_naming_the_addresses() {
        // Sockets that never answer: every attempt times out.
        let sockets: Vec<UdpSocket> = (0..6)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let port = |i: usize| sockets[i].local_addr().unwrap().port();
        let ports: Vec<(u16, u16)> = (0..3).map(|i| (port(2 * i), port(2 * i + 1))).collect();
        let config = ClusterConfig::local(
            GROUP,
            std::net::Ipv4Addr::LOCALHOST,
            &ports,
            Default::default(),
        )
        .unwrap();
        let options = ClientOptions {
            attempt_timeout: Duration::from_millis(20),
            deadline: Duration::from_millis(100),
        };
        let mut client = Client::new(&config, 1, options).unwrap();
        let error = client.get("k").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ClientError::NoAnswer { .. }), "{message}");
        let second = format!("127.0.0.1:{}", port(3));
        assert!(message.contains(&second), "{message}");
    }

    #[test]
    fn fresh_ids_differ() {
        assert_ne!(fresh_client_id(), fresh_client_id());
    }
}
