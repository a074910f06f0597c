//! The KV client: put, get, delete and cas against a replica group over UDP.
//!
//! [`Client`] runs one `riptide_control::client::Session` (the protocol,
//! without I/O) over a blocking socket, one request at a time.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use riptide_control::client::{Progress, Session};
use riptide_control::kv::{Command, Reply, TooLarge};
use thiserror::Error;

use crate::ClusterConfig;
use crate::status::{diagnose, sweep};

/// How long the replicas have to answer the status requests of a
/// diagnosis.
const DIAGNOSIS_WAIT: Duration = Duration::from_millis(500);

/// Why a request did not complete.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "no replica answered within {waited:?} (tried {tried}): is the group running? \
         `riptide status` shows each replica"
    )]
    NoAnswer { waited: Duration, tried: String },
    /// `diagnosis` is what the replicas report when asked for their status
    /// (`riptide status`), read for the operator.
    #[error("replicas answered, but none led within {waited:?}; {diagnosis}")]
    NoLeader { waited: Duration, diagnosis: String },
    /// Refused before it was sent, or by the replicas: the same either way.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("client socket")]
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
        let mut datagram = self.session.try_begin(command)?;
        let mut buf = vec![0; 1 << 16];
        loop {
            let attempt_end = (Instant::now() + self.options.attempt_timeout).min(deadline);
            let to = self.replicas[self.session.target()];
            retry_interrupted(|| self.socket.send_to(&datagram, to))?;
            let mut resend_at = None;
            while resend_at.is_none() {
                let now = Instant::now();
                if now >= attempt_end {
                    break;
                }
                self.socket.set_read_timeout(Some(attempt_end - now))?;
                let len = match self.socket.recv_from(&mut buf) {
                    Ok((len, _)) => len,
                    // A signal handler ran (the socket has a timeout, so the
                    // kernel never restarts the call): wait again for what
                    // is left of the attempt.
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
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
                    Progress::Done(Reply::TooLarge { max }) => {
                        return Err(ClientError::TooLarge(TooLarge {
                            len: command.log_len(),
                            max: max as usize,
                        }));
                    }
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
                    ClientError::NoLeader {
                        waited,
                        diagnosis: self.diagnose(),
                    }
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

    /// What the replicas say about themselves, after requests went
    /// unanswered by a leader: recovering, electing, not there.
    fn diagnose(&self) -> String {
        let ids = 0..u8::try_from(self.replicas.len()).unwrap_or(u8::MAX);
        match sweep(&self.replicas, DIAGNOSIS_WAIT) {
            Ok(reports) => {
                let by_id: Vec<_> = ids.zip(reports).collect();
                diagnose(by_id.len() as u8, &by_id).to_string()
            }
            Err(error) => format!(
                "an election may be stuck (is a majority running and reachable?); \
                 asking the replicas for their status failed: {error}"
            ),
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

/// Runs a blocking socket call again while a signal interrupts it: a
/// process with any signal handler (a benchmark's, a test harness's) would
/// otherwise fail a request on a signal meant for something else.
fn retry_interrupted<T>(mut call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// A client id for a process that has no assigned one: unique in practice
/// (not for replay: a client's id must differ from every earlier client's,
/// which no fixed seed can promise).
pub fn fresh_client_id() -> u64 {
    crate::fresh_seed()
}

#[cfg(test)]
mod tests {
    use riptide_wire::{Envelope, Message};

    use super::*;

    const GROUP: u16 = 7;

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
    fn a_signal_during_the_wait_for_a_reply_does_not_fail_the_request() {
        use std::os::unix::thread::JoinHandleExt;

        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: the handler does nothing, which is async-signal-safe; a
        // zeroed sigaction has no flags, so no call is restarted.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as *const () as libc::sighandler_t;
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0
            );
        }
        let replica = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = replica.local_addr().unwrap().port();
        let config = ClusterConfig::local(
            GROUP,
            std::net::Ipv4Addr::LOCALHOST,
            &[(port.wrapping_add(1), port)],
            Default::default(),
        )
        .unwrap();
        let options = ClientOptions {
            attempt_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(10),
        };
        let mut client = Client::new(&config, 1, options).unwrap();
        let waiting = std::thread::spawn(move || client.put("k", "v"));
        let mut buf = vec![0; 1 << 16];
        let (len, from) = replica.recv_from(&mut buf).unwrap();
        let Message::ClientRequest {
            client, request, ..
        } = Envelope::decode(&buf[..len], GROUP).unwrap().message
        else {
            panic!("not a client request");
        };
        // The client is (or is about to be) blocked in recv_from: interrupt
        // it several times before it is answered.
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: the thread is joined below, so its handle is live.
            assert_eq!(
                unsafe { libc::pthread_kill(waiting.as_pthread_t(), libc::SIGUSR1) },
                0
            );
        }
        let reply = Envelope {
            group: GROUP,
            sender: 0,
            life: 0,
            message: Message::ClientReply {
                client,
                request,
                leader: Some(0),
                result: Some(Reply::Done.encode()),
            },
        };
        replica.send_to(&reply.encode(), from).unwrap();
        assert_eq!(waiting.join().unwrap().unwrap(), Reply::Done);
    }

    #[test]
    fn fresh_ids_differ() {
        assert_ne!(fresh_client_id(), fresh_client_id());
    }
}
