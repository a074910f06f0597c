//! The status dump of a running replica: asked for with a status datagram on
//! its client port, answered with JSON.
//!
//! The request is the ASCII text `riptide-status\n` and an 8-byte cookie
//! ([`status_request`]; [`STATUS_REQUEST`] has none). It cannot be mistaken
//! for a riptide datagram: its first byte (`r`, 0x72) is not a wire version.
//! The report is far larger than the request, so a replica sends it only to
//! an address that proved it receives there ([`crate::cookie`]): a request
//! without a valid cookie is answered with `riptide-cookie\n` and the
//! cookie, as many bytes as the request; the asker sends the request again
//! with it. [`query`] and [`sweep`] do that round trip.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use riptide_control::Role;
use serde::{Deserialize, Serialize};

use super::ring::TransportStats;

/// A status request without a cookie: any replica answers it with a
/// cookie (so any answer shows a live replica), none with its report.
pub const STATUS_REQUEST: &[u8] = b"riptide-status\n\0\0\0\0\0\0\0\0";

const STATUS_PREFIX: &[u8] = b"riptide-status\n";
const COOKIE_PREFIX: &[u8] = b"riptide-cookie\n";

/// The datagram that asks a replica for its [`StatusReport`], with the
/// replica's cookie for the asker's address (0: none yet).
pub fn status_request(cookie: u64) -> Vec<u8> {
    [STATUS_PREFIX, &cookie.to_be_bytes()].concat()
}

/// The cookie a status request carries, if `datagram` is one.
pub fn parse_status_request(datagram: &[u8]) -> Option<u64> {
    parse_tagged(datagram, STATUS_PREFIX)
}

/// A replica's answer to a status request without a valid cookie: exactly
/// as long as the request.
pub fn cookie_reply(cookie: u64) -> Vec<u8> {
    [COOKIE_PREFIX, &cookie.to_be_bytes()].concat()
}

/// The cookie in a [`cookie_reply`], if `datagram` is one.
pub fn parse_cookie_reply(datagram: &[u8]) -> Option<u64> {
    parse_tagged(datagram, COOKIE_PREFIX)
}

fn parse_tagged(datagram: &[u8], prefix: &[u8]) -> Option<u64> {
    let cookie = datagram.strip_prefix(prefix)?;
    Some(u64::from_be_bytes(cookie.try_into().ok()?))
}

/// What the replica host did with what it received, beyond its NIC's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCounters {
    /// Datagrams on the replica port, handed to the NIC.
    pub peer_datagrams: u64,
    /// Frames the NIC punted that software could not decode: counted, dropped.
    pub malformed_punts: u64,
    /// Datagrams on the client port.
    pub client_datagrams: u64,
    /// Cookies sent instead of an answer larger than its request, to an
    /// address not proven yet (`riptide_node::cookie`): status requests and
    /// client requests alike.
    #[serde(default)]
    pub cookies_sent: u64,
    /// Client-port datagrams that were neither a client request nor a
    /// status request: counted, dropped.
    pub malformed_client: u64,
    pub client_requests: u64,
    pub client_replies: u64,
    pub status_requests: u64,
    /// Log entries applied to the state machine.
    pub applied: u64,
    /// Snapshots installed in place of applying entries (catch-up of a
    /// replica too far behind, `docs/protocol.md`).
    #[serde(default)]
    pub snapshot_installs: u64,
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
    #[error("the answer is not a status report")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Asks the replica whose client address is `addr` for its status, over
/// `socket` (whose read timeout bounds each of a few tries), with the
/// cookie round trip when the replica asks for it.
pub fn query(socket: &UdpSocket, addr: SocketAddr) -> Result<StatusReport, QueryError> {
    const TRIES: u32 = 3;
    // A replica rotates its cookie key now and then: a fresh cookie is
    // taken a few times, not forever.
    const COOKIES: u32 = 3;
    let mut buf = vec![0; 1 << 16];
    let mut cookie = 0;
    let (mut tries, mut cookies) = (0, 0);
    while tries < TRIES {
        socket.send_to(&status_request(cookie), addr)?;
        loop {
            match socket.recv_from(&mut buf) {
                Ok((len, from)) if from == addr => match parse_cookie_reply(&buf[..len]) {
                    Some(fresh) if cookies < COOKIES => {
                        cookie = fresh;
                        cookies += 1;
                        break;
                    }
                    Some(_) => return Err(QueryError::NoAnswer { tries }),
                    None => return Ok(serde_json::from_slice(&buf[..len])?),
                },
                // A late answer from another replica asked earlier.
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    tries += 1;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Err(QueryError::NoAnswer { tries: TRIES })
}

/// Asks every one of `addrs` for its report at once and waits until all
/// answered or `within` passed; `None` for a replica that did not answer.
/// Each address is asked again every `within / 5`, so a lost datagram does
/// not hide a live replica.
pub fn sweep(addrs: &[SocketAddr], within: Duration) -> std::io::Result<Vec<Option<StatusReport>>> {
    let mut reports: Vec<Option<StatusReport>> = vec![None; addrs.len()];
    let Some(first) = addrs.first() else {
        return Ok(reports);
    };
    let socket = UdpSocket::bind(unspecified_like(first))?;
    let mut cookies = vec![0; addrs.len()];
    let resend = (within / 5).max(Duration::from_millis(1));
    let end = Instant::now() + within;
    let mut buf = vec![0; 1 << 16];
    let mut next_round = Instant::now();
    loop {
        let now = Instant::now();
        if now >= end || reports.iter().all(Option::is_some) {
            return Ok(reports);
        }
        if now >= next_round {
            for (i, &addr) in addrs
                .iter()
                .enumerate()
                .filter(|(i, _)| reports[*i].is_none())
            {
                send_ignoring_refusal(&socket, &status_request(cookies[i]), addr)?;
            }
            next_round = now + resend;
        }
        socket.set_read_timeout(Some(
            next_round
                .min(end)
                .saturating_duration_since(now)
                .max(Duration::from_micros(100)),
        ))?;
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                let Some(i) = addrs.iter().position(|&a| a == from) else {
                    continue;
                };
                if let Some(cookie) = parse_cookie_reply(&buf[..len]) {
                    cookies[i] = cookie;
                    send_ignoring_refusal(&socket, &status_request(cookie), from)?;
                } else if let Ok(report) = serde_json::from_slice(&buf[..len]) {
                    reports[i] = Some(report);
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn unspecified_like(addr: &SocketAddr) -> SocketAddr {
    if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}

/// A peer that is down can make the kernel report ECONNREFUSED on a later
/// call: that is an answer of "nobody here", not an error of the asker.
fn send_ignoring_refusal(
    socket: &UdpSocket,
    datagram: &[u8],
    addr: SocketAddr,
) -> std::io::Result<()> {
    match socket.send_to(datagram, addr) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why `report` shows a group that has run before (and so has votes and
/// values a fresh replica must not ignore), if it does.
pub fn history(report: &StatusReport) -> Option<String> {
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

/// [`sweep`], keyed by the address of each replica that answered.
pub fn probe(
    addrs: &[SocketAddr],
    within: Duration,
) -> std::io::Result<BTreeMap<SocketAddr, StatusReport>> {
    let reports = sweep(addrs, within)?;
    Ok(addrs
        .iter()
        .zip(reports)
        .filter_map(|(&addr, report)| Some((addr, report?)))
        .collect())
}

/// Whether a group can serve clients, from what its replicas report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// A replica leads and a majority answers and is not recovering.
    Serving { leader: u8 },
    /// Serving, but some replica does not answer or is recovering.
    Degraded { leader: u8 },
    /// No request can complete now.
    Down,
}

/// What a group's replicas report, read for an operator: a verdict and the
/// reasons, replica by replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub health: Health,
    /// One sentence, then one line per replica that is not plainly fine.
    pub summary: String,
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary)
    }
}

/// Reads the reports of a group of `size` replicas (`None`: that replica
/// did not answer). A group serves when a replica leads and a majority
/// answers without recovering: the leader needs f+1 votes and acks, and a
/// recovering replica gives neither.
pub fn diagnose(size: u8, reports: &[(u8, Option<StatusReport>)]) -> Diagnosis {
    let majority = usize::from(size) / 2 + 1;
    let answering: Vec<&StatusReport> = reports.iter().filter_map(|(_, r)| r.as_ref()).collect();
    let silent: Vec<u8> = reports
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(id, _)| *id)
        .collect();
    let recovering: Vec<&StatusReport> = answering
        .iter()
        .copied()
        .filter(|r| r.role == role_name(Role::Recovering))
        .collect();
    let voting = answering.len() - recovering.len();
    let leader = answering
        .iter()
        .filter(|r| r.is_leader())
        .max_by_key(|r| r.ballot())
        .map(|r| r.id);
    let mut lines = Vec::new();
    let health = match leader {
        Some(leader) if voting >= majority => {
            lines.push(format!(
                "serving: replica {leader} leads; {voting} of {size} replicas vote"
            ));
            if silent.is_empty() && recovering.is_empty() {
                Health::Serving { leader }
            } else {
                Health::Degraded { leader }
            }
        }
        _ => {
            lines.push(if answering.is_empty() {
                format!("cannot serve: none of the {size} replicas answers (is the group running?)")
            } else if voting < majority {
                format!(
                    "cannot serve: {voting} of {size} replicas can vote ({} answer, {} of them \
                     recovering); a leader needs {majority}",
                    answering.len(),
                    recovering.len()
                )
            } else {
                format!(
                    "cannot serve: {voting} of {size} replicas can vote but none leads: an \
                     election is under way (or stuck, if this lasts)"
                )
            });
            Health::Down
        }
    };
    for id in &silent {
        lines.push(format!("  replica {id}: does not answer"));
    }
    for r in &recovering {
        let needed = usize::from(size) / 2 + 1;
        lines.push(format!(
            "  replica {}: recovering (incarnation {}): holds answers from {} of the {needed} \
             other replicas it needs{}",
            r.id,
            r.incarnation,
            r.recovery_answers.len(),
            if r.recovery_answers.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    r.recovery_answers
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if health == Health::Down && !recovering.is_empty() {
        lines.push(
            "  a recovering replica needs answers from a majority of the others: start the \
             missing replicas; if the whole group restarted, its state is gone, and every \
             replica must start with --bootstrap"
                .to_string(),
        );
    }
    Diagnosis {
        health,
        summary: lines.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: u8, role: Role) -> StatusReport {
        StatusReport {
            id,
            group: 3,
            role: role_name(role).to_string(),
            ballot_round: 1,
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
        }
    }

    #[test]
    fn a_diagnosis_says_what_the_replicas_report() {
        let all_fine = [
            (0, Some(report(0, Role::Leader))),
            (1, Some(report(1, Role::Follower))),
            (2, Some(report(2, Role::Follower))),
        ];
        assert_eq!(diagnose(3, &all_fine).health, Health::Serving { leader: 0 });

        let one_down = [
            (0, Some(report(0, Role::Leader))),
            (1, Some(report(1, Role::Follower))),
            (2, None),
        ];
        let d = diagnose(3, &one_down);
        assert_eq!(d.health, Health::Degraded { leader: 0 });
        assert!(d.summary.contains("replica 2: does not answer"), "{d}");

        let mut recovering = report(1, Role::Recovering);
        recovering.incarnation = 2;
        recovering.recovery_answers = vec![2];
        let d = diagnose(
            3,
            &[
                (0, None),
                (1, Some(recovering)),
                (2, Some(report(2, Role::Follower))),
            ],
        );
        assert_eq!(d.health, Health::Down);
        assert!(
            d.summary.starts_with(
                "cannot serve: 1 of 3 replicas can vote (2 answer, 1 of them recovering)"
            ),
            "{d}"
        );
        assert!(
            d.summary.contains("replica 1: recovering (incarnation 2): holds answers from 1 of the 2 other replicas it needs (2)"),
            "{d}"
        );
        assert!(d.summary.contains("--bootstrap"), "{d}");

        let electing = [
            (0, Some(report(0, Role::Candidate))),
            (1, Some(report(1, Role::Follower))),
            (2, None),
        ];
        let d = diagnose(3, &electing);
        assert_eq!(d.health, Health::Down);
        assert!(
            d.summary.contains("none leads: an election is under way"),
            "{d}"
        );

        let d = diagnose(3, &[(0, None), (1, None), (2, None)]);
        assert!(d.summary.contains("none of the 3 replicas answers"), "{d}");
    }

    #[test]
    fn a_probe_hears_every_replica_that_reports_and_reads_whether_the_group_has_run() {
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
            ballot_round: 0,
            ..report(1, Role::Follower)
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
        // Garbage is no answer: only the replica that sent a report counts.
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(history(&answers[&live_addr]), None, "a newborn group");

        report.incarnation = 2;
        assert_eq!(history(&report).unwrap(), "it is in incarnation 2");
        report.incarnation = 0;
        report.commit = 4;
        assert!(history(&report).is_some());
        report.commit = 0;
        report.role = "recovering".to_string();
        assert!(history(&report).is_some());
    }
}
