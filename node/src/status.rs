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
    #[error("the answer is not a status report")]
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

/// The first of `addrs` to answer a status request within `within`, if any.
/// Every address is asked at once and asked again every `within / 5`, so a
/// lost datagram does not hide a live replica; any reply from one of them
/// counts, whatever it holds.
pub fn first_to_answer(
    addrs: &[SocketAddr],
    within: Duration,
) -> std::io::Result<Option<SocketAddr>> {
    if addrs.is_empty() {
        return Ok(None);
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
        if now >= end {
            return Ok(None);
        }
        for &addr in addrs {
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
        loop {
            let left = round_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv_from(&mut buf) {
                Ok((_, from)) if addrs.contains(&from) => return Ok(Some(from)),
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
    fn a_probe_finds_the_one_address_that_answers_and_not_a_silent_one() {
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let live = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let live_addr = live.local_addr().unwrap();
        let answer = std::thread::spawn(move || {
            let mut buf = [0; 64];
            let (len, from) = live.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], STATUS_REQUEST);
            live.send_to(b"{}", from).unwrap();
        });
        let found = first_to_answer(&[silent_addr, live_addr], Duration::from_secs(5)).unwrap();
        assert_eq!(found, Some(live_addr));
        answer.join().unwrap();

        let started = Instant::now();
        let found = first_to_answer(&[silent_addr], Duration::from_millis(100)).unwrap();
        assert_eq!(found, None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
