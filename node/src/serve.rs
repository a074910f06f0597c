//! The replica loop: one thread owns the sockets (one io_uring), the NIC and
//! the control plane, and runs them inline.
//!
//! Each iteration: one `io_uring_enter` submits the queued sends and waits
//! for datagrams or the next tick; every datagram received goes through the
//! NIC and the control plane; due ticks are run; the outbox is queued. See
//! `docs/runtime.md` for why there is no second thread.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use riptide_control::{Replica, Role};
use thiserror::Error;
use tracing::{info, warn};

use super::config::ClusterConfig;
use super::lives::{LivesError, PendingLife};
use super::nic::ReplicaNic;
use super::node::{Node, Outgoing};
use super::ring::{Outbound, RingOptions, SocketId, UdpRing};

/// Ticks run back to back at most after the loop fell behind (a stalled
/// host): more would be a burst of timeouts, not the passage of time.
const MAX_CATCHUP_TICKS: u32 = 4;

/// How often a board is polled for records when nothing else wakes the loop.
const BOARD_POLL: Duration = Duration::from_micros(50);

/// How long a replica recovers before it says what may be wrong. Recovery
/// takes a few round trips when f+1 others are up; seconds without them is
/// an operator's problem, not the network's.
const RECOVERY_PATIENCE: Duration = Duration::from_secs(5);

/// The ring's first socket: clients and status requests.
pub(crate) const CLIENT_SOCKET: SocketId = 0;

/// The ring's second socket, replica traffic, when the process has one (not
/// with a board, which sends and receives on its own Ethernet port).
pub(crate) const PEER_SOCKET: SocketId = 1;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("replica {id} is not in the config (its ids are {})", crate::config::id_list(usize::from(*size)))]
    UnknownReplica { id: u8, size: u8 },
    #[error("cannot bind {what} {addr}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("io_uring")]
    Ring(#[source] io::Error),
    #[error(transparent)]
    Lives(#[from] LivesError),
}

/// How to start the control plane.
#[derive(Debug)]
pub struct Start {
    pub id: u8,
    /// Seeds the replica's randomness (election timeouts, recovery nonce).
    pub seed: u64,
    /// Which start of this replica this is, and whether it recovers first;
    /// recorded only once the ports are bound (a start that fails to bind
    /// was no life).
    pub life: PendingLife,
    /// The operator's way out when more than f replicas lost their memory:
    /// recover from these replicas' answers alone
    /// ([`riptide_control::ReplicaConfig::survivors`]). Usually empty.
    pub survivors: Vec<u8>,
}

/// Runs replica `start.id` of `config` on `nic` until `stop` is set.
pub fn serve<F: ReplicaNic>(
    config: &ClusterConfig,
    start: Start,
    nic: F,
    stop: &AtomicBool,
) -> Result<(), ServeError> {
    let me = *config.replica(start.id).ok_or(ServeError::UnknownReplica {
        id: start.id,
        size: config.size(),
    })?;
    let bind = |what, addr: SocketAddr| {
        UdpSocket::bind(addr).map_err(|source| ServeError::Bind { what, addr, source })
    };
    let mut sockets = vec![bind("the client address", me.client.into())?];
    // A board receives replica traffic on its own port.
    let peer_socket: Option<SocketId> = if nic.needs_polling() {
        None
    } else {
        sockets.push(bind("the replica address", me.peer.into())?);
        Some(PEER_SOCKET)
    };
    let mut ring = UdpRing::new(sockets, RingOptions::default()).map_err(ServeError::Ring)?;
    // The NIC was opened by the caller and the ports are ours: from here on
    // the replica runs, so this start counts.
    let (life, mut record) = start.life.commit()?;

    let mut cfg = config.replica_config(start.id, start.seed);
    cfg.incarnation = life.incarnation();
    cfg.survivors = start.survivors;
    let replica = if life.recover {
        Replica::restarted(cfg)
    } else {
        Replica::new(cfg)
    };
    let incarnation = replica.incarnation();
    let polling = nic.needs_polling();
    let mut node = Node::new(replica, nic, config);
    let peers: Vec<SocketAddr> = config.replicas.iter().map(|r| r.peer.into()).collect();
    info!(
        id = start.id,
        replicas = config.size(),
        group = config.group,
        peer = %me.peer,
        client = %me.client,
        nic = %node.nic().name(),
        seed = start.seed,
        rejoin = life.recover,
        life = life.number,
        incarnation,
        "replica started"
    );

    let tick = Duration::from_millis(config.timing.tick_ms);
    let mut next_tick = Instant::now() + tick;
    let mut recovery = RecoveryWatch::new(Instant::now());
    while !stop.load(Ordering::Relaxed) {
        let deadline = if polling {
            next_tick.min(Instant::now() + BOARD_POLL)
        } else {
            next_tick
        };
        ring.wait(Some(deadline)).map_err(ServeError::Ring)?;
        node.note_transport(ring.stats());
        ring.drain_received(|socket, from, bytes| {
            if Some(socket) == peer_socket {
                node.peer_datagram(from, bytes);
            } else {
                node.client_datagram(from, bytes);
            }
        })
        .map_err(ServeError::Ring)?;
        let now = Instant::now();
        let mut ran = 0;
        while now >= next_tick && ran < MAX_CATCHUP_TICKS {
            node.tick();
            next_tick += tick;
            ran += 1;
        }
        if now >= next_tick {
            next_tick = now + tick;
        }
        if ran > 0 {
            let replica = node.replica();
            if let Some(waited) = recovery.overdue(replica.status().role == Role::Recovering, now) {
                warn!(
                    waited_s = waited.as_secs(),
                    "{}",
                    stalled_recovery_advice(replica.recovery_answers(), config.size())
                );
            }
            // A peer knew a later life of ours: the next start must be
            // later still, or its recovery costs a round to learn it again.
            if record.raise(replica.incarnation())? {
                info!(incarnation = replica.incarnation(), "start record raised");
            }
        }
        if polling {
            node.poll_nic();
        }
        dispatch(node.take_outbox(), &peers, peer_socket, |out| {
            ring.send(out)
        });
    }
    info!(id = start.id, "replica stopped");
    Ok(())
}

/// What to tell the operator of a recovery that does not end, given the
/// replicas that answered it (they serve) in a group of `size`.
fn stalled_recovery_advice(answered: Vec<u8>, size: u8) -> String {
    let others_needed = usize::from(size) / 2 + 1;
    if answered.is_empty() {
        return format!(
            "still recovering: no other replica answers ({others_needed} must). If the whole \
             group restarted, its log is gone with it: stop every replica and start each with \
             --bootstrap, a new group. Otherwise start or reach the missing replicas"
        );
    }
    let ids: Vec<String> = answered.iter().map(u8::to_string).collect();
    let ids = ids.join(",");
    format!(
        "still recovering: only replica(s) {ids} answer, {others_needed} must. If the others \
         are running and recovering too, more than f replicas lost their memory at once and \
         recovery cannot end on its own. The way out that keeps everything replica(s) {ids} \
         hold: restart this replica with --recover-from {ids}; the others then recover \
         normally. Values only the restarted replicas held are lost (docs/protocol.md, \
         \"More than f amnesiacs\")"
    )
}

/// Notices, once, a recovery that has lasted past [`RECOVERY_PATIENCE`].
struct RecoveryWatch {
    since: Instant,
    warned: bool,
}

impl RecoveryWatch {
    fn new(start: Instant) -> RecoveryWatch {
        RecoveryWatch {
            since: start,
            warned: false,
        }
    }

    /// How long the replica has been recovering, the first time that is
    /// too long. A replica that drops into recovery again later (a stale
    /// twin) gets a fresh wait and one more warning.
    fn overdue(&mut self, recovering: bool, now: Instant) -> Option<Duration> {
        if !recovering {
            self.since = now;
            self.warned = false;
            return None;
        }
        let waited = now.saturating_duration_since(self.since);
        if self.warned || waited < RECOVERY_PATIENCE {
            return None;
        }
        self.warned = true;
        Some(waited)
    }
}

/// Addresses a node's outbox: a frame for replica `to` leaves on the replica
/// socket for `peers[to]`, as its UDP payload only; a client datagram leaves
/// on the client socket. Without a replica socket, or for a replica the
/// config does not have, the frame is dropped.
pub(crate) fn dispatch(
    outbox: Vec<Outgoing>,
    peers: &[SocketAddr],
    peer_socket: Option<SocketId>,
    mut send: impl FnMut(Outbound),
) {
    for out in outbox {
        match out {
            Outgoing::Peer {
                to,
                frame,
                datagram,
            } => {
                if let (Some(socket), Some(&addr)) = (peer_socket, peers.get(usize::from(to))) {
                    send(Outbound {
                        socket,
                        to: addr,
                        bytes: frame,
                        range: datagram,
                    });
                }
            }
            Outgoing::Client { to, datagram } => send(Outbound::whole(CLIENT_SOCKET, to, datagram)),
        }
    }
}

/// A seed for a run that was given none: different in every process (from
/// the process id and the wall clock), logged so the run can be replayed.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    riptide_control::rng::Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32)).next_u64()
}

/// A flag that SIGINT and SIGTERM set, so a loop can stop cleanly.
pub fn stop_on_signals() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::Relaxed);
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
    &STOP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_recovery_is_reported_once_and_again_after_a_new_one() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut watch = RecoveryWatch::new(start);
        assert_eq!(watch.overdue(true, at(4_999)), None);
        assert_eq!(watch.overdue(true, at(5_000)), Some(Duration::from_secs(5)));
        assert_eq!(watch.overdue(true, at(60_000)), None);
        // Recovered; a later recovery waits its own patience from its start.
        assert_eq!(watch.overdue(false, at(61_000)), None);
        assert_eq!(watch.overdue(true, at(65_000)), None);
        assert_eq!(
            watch.overdue(true, at(66_500)),
            Some(Duration::from_millis(5_500))
        );
        // A replica that never recovers is never warned about.
        let mut fresh = RecoveryWatch::new(start);
        assert_eq!(fresh.overdue(false, at(100_000)), None);
    }
}
