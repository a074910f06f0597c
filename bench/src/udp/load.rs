//! The load generator: many client sessions on one io_uring socket, closed
//! loop or open loop at a fixed rate, latencies into an HdrHistogram.
//!
//! Open loop is corrected for coordinated omission: operation `i` is *due* at
//! `start + i / rate` whether or not the system kept up, and its latency runs
//! from that intended time, not from when a free session finally sent it. A
//! stall therefore shows up as the latency every delayed operation suffered,
//! instead of as a handful of slow samples.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use riptide_control::client::{Progress, Session};
use riptide_control::kv::Command;
use riptide_node::ClusterConfig;
use riptide_node::ring::{Outbound, RingOptions, UdpRing};
use riptide_wire::{Envelope, Message};

use crate::latency::Latencies;

/// How load is offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// `clients` sessions, each sending its next operation as soon as the
    /// previous one completes.
    Closed { clients: u32 },
    /// Operations due at a fixed `rate` per second, each on any idle session
    /// (new sessions are opened as needed, up to `max_sessions`).
    Open { rate: u64, max_sessions: u32 },
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub mode: Mode,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Operations due before this much time has passed are run but not
    /// recorded (connection of sessions to the leader, caches).
    pub warmup: Duration,
    /// Bytes of each put's value.
    pub payload: usize,
    /// Distinct keys written, round robin.
    pub keys: u64,
    /// One attempt's timeout before the session tries the next replica.
    pub attempt_timeout: Duration,
}

/// What a load run measured.
pub struct LoadResult {
    /// Latencies (µs) of the operations due in the measured window.
    pub latencies: Latencies,
    /// Operations due in the measured window and completed.
    pub completed: u64,
    /// Operations due in the measured window and not completed by its end
    /// (plus a grace period).
    pub unfinished: u64,
    /// Attempts that timed out and were retried.
    pub retries: u64,
    /// The measured window.
    pub window: Duration,
    pub sessions: usize,
    /// Operations completed in the whole run, warm-up and grace included:
    /// what the servers did while a caller sampled their CPU time around
    /// the run.
    pub all_completed: u64,
}

impl LoadResult {
    /// Completed operations per second of the measured window.
    pub fn throughput(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// An operation in flight: when it was due, and when its attempt ends.
struct InFlight {
    due: Instant,
    attempt_end: Instant,
    /// A redirect asked to resend at this time.
    resend_at: Option<Instant>,
}

struct Client {
    session: Session,
    op: Option<InFlight>,
}

/// Time allowed after the window for operations due in it to complete.
const GRACE: Duration = Duration::from_secs(2);

/// Client ids of one run start here, far from other tools' ids.
const FIRST_CLIENT: u64 = 1 << 40;

/// Offers load to the group of `config` until the window (and a grace period)
/// ends or `stop` is set. `progress(elapsed, total)` is called as time passes.
pub fn run(
    config: &ClusterConfig,
    options: &LoadOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Duration, Duration),
) -> anyhow::Result<LoadResult> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    let mut ring = UdpRing::new(vec![socket], RingOptions::default())?;
    let replicas = config.client_addrs();
    let workload = Workload {
        replicas: &replicas,
        options,
        value: "x".repeat(options.payload),
    };
    let session = |i: usize| Session::new(FIRST_CLIENT + i as u64, config.group, replicas.len());
    let mut clients: Vec<Client> = Vec::new();
    let mut idle: Vec<usize> = Vec::new();
    if let Mode::Closed { clients: n } = options.mode {
        clients = (0..n as usize)
            .map(|i| Client {
                session: session(i),
                op: None,
            })
            .collect();
        idle = (0..n as usize).rev().collect();
    }

    let start = Instant::now();
    let measured_from = start + options.warmup;
    let window_end = measured_from + options.duration;
    let hard_end = window_end + GRACE;
    let total = options.warmup + options.duration;
    let mut latencies = Latencies::new();
    let (mut completed, mut retries, mut issued, mut all_completed) = (0u64, 0u64, 0u64, 0u64);
    // Open loop: operations due and not yet sent, by due time.
    let mut backlog: VecDeque<Instant> = VecDeque::new();
    let mut next_due = start;
    let mut last_progress = start;

    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if now - last_progress >= Duration::from_millis(100) {
            progress((now - start).min(total), total);
            last_progress = now;
        }
        let outstanding = clients
            .iter()
            .any(|c| c.op.as_ref().is_some_and(|op| op.due < window_end));
        if now >= hard_end || (now >= window_end && !outstanding) {
            break;
        }

        // New operations.
        match options.mode {
            Mode::Open { rate, max_sessions } => {
                let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
                while next_due <= now && next_due < window_end {
                    backlog.push_back(next_due);
                    next_due += interval;
                }
                while let Some(&due) = backlog.front() {
                    let index = match idle.pop() {
                        Some(index) => index,
                        None if clients.len() < max_sessions as usize => {
                            clients.push(Client {
                                session: session(clients.len()),
                                op: None,
                            });
                            clients.len() - 1
                        }
                        None => break,
                    };
                    backlog.pop_front();
                    workload.issue(&mut ring, &mut clients[index], due, now, issued);
                    issued += 1;
                }
            }
            Mode::Closed { .. } => {
                if now < window_end {
                    while let Some(index) = idle.pop() {
                        workload.issue(&mut ring, &mut clients[index], now, now, issued);
                        issued += 1;
                    }
                }
            }
        }

        // Timeouts and scheduled resends.
        for client in &mut clients {
            let Some(op) = &mut client.op else { continue };
            let resend = match op.resend_at {
                Some(at) => at <= now,
                None if op.attempt_end <= now => {
                    client.session.timed_out();
                    retries += 1;
                    true
                }
                None => false,
            };
            if resend {
                op.resend_at = None;
                op.attempt_end = now + options.attempt_timeout;
                let datagram = client.session.retry_datagram().unwrap_or_default();
                ring.send(Outbound::whole(
                    0,
                    replicas[client.session.target()],
                    datagram,
                ));
            }
        }

        // Wait for replies or the next thing due.
        let mut deadline = hard_end;
        if let Mode::Open { .. } = options.mode
            && next_due < window_end
        {
            deadline = deadline.min(next_due);
        }
        for op in clients.iter().filter_map(|c| c.op.as_ref()) {
            deadline = deadline.min(op.resend_at.unwrap_or(op.attempt_end));
        }
        ring.wait(Some(deadline))?;
        let now = Instant::now();
        ring.drain_received(|_, _, datagram| {
            let Some(index) = client_index(datagram, config.group, clients.len()) else {
                return;
            };
            let client = &mut clients[index];
            let Some(op) = &mut client.op else { return };
            match client.session.on_datagram(datagram) {
                Progress::Done(_) => {
                    all_completed += 1;
                    if op.due >= measured_from && op.due < window_end {
                        latencies.record((now - op.due).as_micros() as u64);
                        completed += 1;
                    }
                    client.op = None;
                    idle.push(index);
                }
                Progress::Resend { delay } => op.resend_at = Some(now + delay),
                Progress::Ignored => {}
            }
        })?;
    }
    progress(total, total);
    let unfinished = clients
        .iter()
        .filter_map(|c| c.op.as_ref())
        .filter(|op| op.due >= measured_from && op.due < window_end)
        .count() as u64
        + backlog.iter().filter(|&&due| due >= measured_from).count() as u64;
    Ok(LoadResult {
        latencies,
        completed,
        unfinished,
        retries,
        window: options.duration,
        sessions: clients.len(),
        all_completed,
    })
}

/// What every operation of a run sends, and where.
struct Workload<'a> {
    replicas: &'a [SocketAddr],
    options: &'a LoadOptions,
    value: String,
}

impl Workload<'_> {
    /// Starts operation number `sequence` (a put), due at `due`, on `client`.
    fn issue(
        &self,
        ring: &mut UdpRing,
        client: &mut Client,
        due: Instant,
        now: Instant,
        sequence: u64,
    ) {
        let command = Command::Put {
            key: format!("k{}", sequence % self.options.keys.max(1)),
            value: self.value.clone(),
        };
        let datagram = client.session.begin(&command);
        ring.send(Outbound::whole(
            0,
            self.replicas[client.session.target()],
            datagram,
        ));
        client.op = Some(InFlight {
            due,
            attempt_end: now + self.options.attempt_timeout,
            resend_at: None,
        });
    }
}

/// The session a reply is for, from its client id.
fn client_index(datagram: &[u8], group: u16, sessions: usize) -> Option<usize> {
    match Envelope::decode(datagram, group).ok()?.message {
        Message::ClientReply { client, .. } => {
            let index = usize::try_from(client.checked_sub(FIRST_CLIENT)?).ok()?;
            (index < sessions).then_some(index)
        }
        _ => None,
    }
}
