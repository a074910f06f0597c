//! The status dump of a running replica: asked for with a status datagram on
//! its client port, answered with JSON.
//!
//! The request is the ASCII text [`STATUS_REQUEST`]. It cannot be mistaken for
//! a riptide datagram: its first byte (`r`, 0x72) is not a wire version.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use riptide_control::Role;
use serde::{Deserialize, Serialize};

use super::ring::TransportStats;

/// The datagram that asks a replica for its [`StatusReport`].
pub const STATUS_REQUEST: &[u8] = b"riptide-status\n";

/// What the replica host did with what it received, beyond its NIC's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCounters {
    /// Datagrams on the replica port, handed to the NIC.
    pub peer_datagrams: u64,
    /// Frames the NIC punted that software could not decode: counted, dropped.
    pub malformed_punts: u64,
    /// Datagrams on the client port.
    pub client_datagrams: u64,
    /// Client-port datagrams that were neither a client request nor a
    /// status request: counted, dropped.
    pub malformed_client: u64,
    pub client_requests: u64,
    pub client_replies: u64,
    pub status_requests: u64,
    /// Log entries applied to the state machine.
    pub applied: u64,
    /// Messages the control plane asked to send that do not fit a datagram.
    pub oversize: u64,
    /// Replica-port datagrams too long to frame for the NIC (over IPv6 only).
    pub unframeable: u64,
    /// NIC commands the NIC backend failed to carry out.
    pub nic_errors: u64,
}

/// A replica's state and counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub id: u8,
    pub group: u16,
    /// `leader`, `follower`, `candidate` or `recovering`.
    pub role: String,
    /// The promised ballot: `round` and the `leader` it belongs to.
    pub ballot_round: u64,
    pub ballot_leader: u8,
    pub commit: u64,
    pub applied: u64,
    pub ticks: u64,
    /// The replica's incarnation: 0 on its group's first boot, higher after
    /// every restart.
    #[serde(default)]
    pub incarnation: u32,
    /// While recovering, the replicas whose answers it holds (the ones that
    /// serve); empty otherwise.
    #[serde(default)]
    pub recovery_answers: Vec<u8>,
    /// The NIC backend: `model` (the software fast path) or `vfio:…`.
    pub nic: String,
    /// Frames the NIC dropped in validation (bad headers, wrong group, …):
    /// every garbage datagram on the replica port lands here.
    pub nic_invalid_frames: u64,
    /// Every non-zero NIC counter by its register-map name.
    pub nic_counters: BTreeMap<String, u64>,
    pub host: HostCounters,
    pub transport: TransportStats,
}

impl StatusReport {
    /// Datagrams this replica counted and dropped as garbage, on both ports.
    pub fn garbage_dropped(&self) -> u64 {
        self.nic_invalid_frames + self.host.malformed_punts + self.host.malformed_client
    }

    pub fn is_leader(&self) -> bool {
        self.role == role_name(Role::Leader)
    }

    /// The promised ballot as one comparable number (round, then leader).
    pub fn ballot(&self) -> u64 {
        riptide_wire::Ballot::new(self.ballot_round, self.ballot_leader).0
    }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Recovering => "recovering",
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// Why a status query got no report.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no answer after {tries} tries (is it running?)")]
    NoAnswer { tries: u32 },
    #[error("the answer is not a status report: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Asks the replica whose client address is `addr` for its status, over
/// `socket` (whose read timeout bounds each of a few tries).
pub fn query(socket: &UdpSocket, addr: SocketAddr) -> Result<StatusReport, QueryError> {
    const TRIES: u32 = 3;
    let mut buf = vec![0; 1 << 16];
    for _ in 0..TRIES {
        socket.send_to(STATUS_REQUEST, addr)?;
        loop {
            match socket.recv_from(&mut buf) {
                Ok((len, from)) if from == addr => return Ok(serde_json::from_slice(&buf[..len])?),
                // A late answer from another replica asked earlier.
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Err(QueryError::NoAnswer { tries: TRIES })
}

/// What one replica answered a [`probe`].
#[derive(Debug)]
pub enum Answer {
    Report(Box<StatusReport>),
    /// It answered, but not with a report this version reads: something
    /// runs there, and nothing more is known.
    Unreadable,
}

impl Answer {
    /// Why this answer shows a group that has run before (and so has votes
    /// and values a fresh replica must not ignore), if it does.
    pub fn history(&self) -> Option<String> {
        let Answer::Report(report) = self else {
            return Some("its answer is not a status report this version reads".to_string());
        };
        if report.role == role_name(Role::Recovering) {
            Some("it is recovering".to_string())
        } else if report.incarnation > 0 {
            Some(format!("it is in incarnation {}", report.incarnation))
        } else if report.commit > 0 {
            Some(format!("it committed up to slot {}", report.commit))
        } else {
            None
        }
    }
}

/// Asks every one of `addrs` for its status and waits until all answered or
/// `within` passed. Every address is asked again every `within / 5`, so a
/// lost datagram does not hide a live replica.
pub fn probe(
    addrs: &[SocketAddr],
    within: Duration,
) -> std::io::Result<BTreeMap<SocketAddr, Answer>> {
    let mut answers = BTreeMap::new();
    if addrs.is_empty() {
        return Ok(answers);
    }
    let unspecified: SocketAddr = if addrs[0].is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(unspecified)?;
    let resend = (within / 5).max(Duration::from_millis(1));
    let end = Instant::now() + within;
    let mut buf = vec![0; 1 << 16];
    loop {
        let now = Instant::now();
        if now >= end || answers.len() == addrs.len() {
            return Ok(answers);
        }
        for &addr in addrs.iter().filter(|a| !answers.contains_key(*a)) {
            // A peer that is down can make the kernel report ECONNREFUSED
            // on a later call: that is an answer of "nobody here", not an
            // error of the probe.
            match socket.send_to(STATUS_REQUEST, addr) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
        let round_end = (now + resend).min(end);
        while answers.len() < addrs.len() {
            let left = round_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv_from(&mut buf) {
                Ok((len, from)) if addrs.contains(&from) => {
                    let answer = match serde_json::from_slice(&buf[..len]) {
                        Ok(report) => Answer::Report(Box::new(report)),
                        Err(_) => Answer::Unreadable,
                    };
                    answers.insert(from, answer);
                }
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_hears_every_address_that_answers_and_not_a_silent_one() {
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let live = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let garbled = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let [silent_addr, live_addr, garbled_addr] =
            [&silent, &live, &garbled].map(|s| s.local_addr().unwrap());
        let answer = |socket: UdpSocket, reply: Vec<u8>| {
            std::thread::spawn(move || {
                let mut buf = [0; 64];
                let (len, from) = socket.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..len], STATUS_REQUEST);
                socket.send_to(&reply, from).unwrap();
            })
        };
        let mut report = StatusReport {
            id: 1,
            group: 3,
            role: "follower".to_string(),
            ballot_round: 0,
            ballot_leader: 0,
            commit: 0,
            applied: 0,
            ticks: 0,
            incarnation: 0,
            recovery_answers: vec![],
            nic: "model".to_string(),
            nic_invalid_frames: 0,
            nic_counters: BTreeMap::new(),
            host: HostCounters::default(),
            transport: TransportStats::default(),
        };
        let threads = [
            answer(live, serde_json::to_vec(&report).unwrap()),
            answer(garbled, b"{".to_vec()),
        ];
        let answers = probe(
            &[silent_addr, live_addr, garbled_addr],
            Duration::from_millis(500),
        )
        .unwrap();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(answers[&live_addr].history(), None, "a newborn group");
        assert!(answers[&garbled_addr].history().is_some());

        report.incarnation = 2;
        assert_eq!(
            Answer::Report(Box::new(report.clone())).history().unwrap(),
            "it is in incarnation 2"
        );
        report.incarnation = 0;
        report.commit = 4;
        assert!(Answer::Report(Box::new(report.clone())).history().is_some());
        report.commit = 0;
        report.role = "recovering".to_string();
        assert!(Answer::Report(Box::new(report)).history().is_some());
    }
}
