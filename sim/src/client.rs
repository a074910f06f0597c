//! Closed-loop clients: each issues one request at a time from a seeded mix of
//! get/put/delete/cas over a small key set (so requests contend), finds the
//! leader through `NotLeader` hints, and retries a request under the same
//! request number when it times out, so at-most-once execution is exercised.

use std::collections::BTreeMap;

use riptide_control::kv::{Command, Reply};

use crate::history::OpId;
use crate::latency::Micros;
use crate::rng::Rng;

/// Draws the workload: which command a client issues next.
#[derive(Debug, Clone)]
pub struct Workload {
    rng: Rng,
    keys: u32,
}

impl Workload {
    pub fn new(rng: Rng, keys: u32) -> Workload {
        Workload {
            rng,
            keys: keys.max(1),
        }
    }

    /// The next command of `client`'s `request`. Written values are unique
    /// (`c<client>.<request>`), which keeps linearizability checking cheap
    /// and violations readable; a cas expects the value this client last
    /// saw, so some succeed and some fail.
    pub fn next(&mut self, client: &Client, request: u64) -> Command {
        let key = format!("k{}", self.rng.below(u64::from(self.keys)));
        let value = format!("c{}.{}", client.id, request);
        match self.rng.below(10) {
            0..=3 => Command::Get { key },
            4..=6 => Command::Put { key, value },
            7 => Command::Delete { key },
            _ => Command::Cas {
                expected: client.last_seen.get(&key).cloned().flatten(),
                key,
                new: value,
            },
        }
    }

    /// Think time before a client's next request, uniform in `0..=2*mean`.
    pub fn think(&mut self, mean: Micros) -> Micros {
        self.rng.range_inclusive(0, 2 * mean)
    }
}

/// The request a client is waiting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub request: u64,
    pub command: Command,
    pub invoked_us: Micros,
    /// Sends so far; a timeout only counts for the latest.
    pub attempt: u32,
    /// The history's handle for this operation.
    pub op: OpId,
}

/// What the cluster must do for a client after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// (Re)send the in-flight request to replica `to` after `delay`.
    Send { to: u8, delay: Micros },
    /// The request completed with this reply.
    Complete {
        op: OpId,
        invoked_us: Micros,
        reply: Reply,
    },
    /// Nothing to do (a stale or duplicate reply, an outdated timeout).
    Nothing,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: u64,
    replicas: u8,
    /// The replica this client believes leads.
    target: u8,
    next_request: u64,
    pub in_flight: Option<InFlight>,
    /// The value this client last read or wrote per key, for cas.
    last_seen: BTreeMap<String, Option<String>>,
}

impl Client {
    pub fn new(id: u64, replicas: u8) -> Client {
        Client {
            id,
            replicas,
            target: (id % u64::from(replicas)) as u8,
            next_request: 1,
            in_flight: None,
            last_seen: BTreeMap::new(),
        }
    }

    /// The request number the next operation will carry.
    pub fn next_request(&self) -> u64 {
        self.next_request
    }

    /// Starts a new operation, already recorded in the history as `op`.
    pub fn start(&mut self, now: Micros, command: Command, op: OpId) -> ClientAction {
        self.in_flight = Some(InFlight {
            request: self.next_request,
            command,
            invoked_us: now,
            attempt: 1,
            op,
        });
        self.next_request += 1;
        ClientAction::Send {
            to: self.target,
            delay: 0,
        }
    }

    /// A reply to `request` arrived from replica `from`.
    pub fn reply(
        &mut self,
        from: u8,
        request: u64,
        reply: Reply,
        retry_us: Micros,
    ) -> ClientAction {
        let Some(in_flight) = self.in_flight.as_mut().filter(|f| f.request == request) else {
            return ClientAction::Nothing;
        };
        if reply == Reply::Busy {
            // Not executed: ask the same replica again after a pause.
            if from != self.target {
                return ClientAction::Nothing;
            }
            in_flight.attempt += 1;
            return ClientAction::Send {
                to: from,
                delay: retry_us,
            };
        }
        if let Reply::NotLeader { leader } = reply {
            // Only the replica asked last can redirect: a redirect moves the
            // target, so duplicated or late redirects are ignored rather than
            // each spawning another resend (which doubles a retry storm).
            if from != self.target {
                return ClientAction::Nothing;
            }
            in_flight.attempt += 1;
            // Follow a fresh hint at once; without one (an election is under
            // way) try the next replica a little later rather than spin.
            let (to, delay) = match leader {
                Some(leader) if leader != from && leader < self.replicas => (leader, 0),
                _ => ((from + 1) % self.replicas, retry_us),
            };
            self.target = to;
            return ClientAction::Send { to, delay };
        }
        let done = self.in_flight.take().expect("checked above");
        self.remember(&done.command, &reply);
        ClientAction::Complete {
            op: done.op,
            invoked_us: done.invoked_us,
            reply,
        }
    }

    /// The timeout armed for `attempt` of `request` fired.
    pub fn timeout(&mut self, request: u64, attempt: u32) -> ClientAction {
        match self.in_flight.as_mut() {
            Some(f) if f.request == request && f.attempt == attempt => {
                f.attempt += 1;
                self.target = (self.target + 1) % self.replicas;
                ClientAction::Send {
                    to: self.target,
                    delay: 0,
                }
            }
            _ => ClientAction::Nothing,
        }
    }

    fn remember(&mut self, command: &Command, reply: &Reply) {
        match (command, reply) {
            (Command::Get { key }, Reply::Value(value)) => {
                self.last_seen.insert(key.clone(), value.clone());
            }
            (Command::Put { key, value }, _) => {
                self.last_seen.insert(key.clone(), Some(value.clone()));
            }
            (Command::Delete { key }, _) => {
                self.last_seen.insert(key.clone(), None);
            }
            (Command::Cas { key, new, .. }, Reply::Swapped(true)) => {
                self.last_seen.insert(key.clone(), Some(new.clone()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryRecorder;

    fn put() -> Command {
        Command::Put {
            key: "k0".into(),
            value: "v".into(),
        }
    }

    #[test]
    fn follows_leader_hints_and_keeps_the_request_number_on_retry() {
        let mut client = Client::new(0, 3);
        let op = HistoryRecorder::new().invoke(0, &put(), 0).unwrap();
        assert_eq!(
            client.start(0, put(), op),
            ClientAction::Send { to: 0, delay: 0 }
        );
        let hinted = client.reply(0, 1, Reply::NotLeader { leader: Some(2) }, 100);
        assert_eq!(hinted, ClientAction::Send { to: 2, delay: 0 });
        let unknown = client.reply(2, 1, Reply::NotLeader { leader: None }, 100);
        assert_eq!(unknown, ClientAction::Send { to: 0, delay: 100 });
        let duplicate = client.reply(2, 1, Reply::NotLeader { leader: None }, 100);
        assert_eq!(duplicate, ClientAction::Nothing, "a duplicated redirect");
        assert_eq!(client.in_flight.as_ref().unwrap().request, 1);
        assert_eq!(
            client.timeout(1, 1),
            ClientAction::Nothing,
            "an outdated timeout"
        );
        assert_eq!(client.timeout(1, 3), ClientAction::Send { to: 1, delay: 0 });
        assert!(matches!(
            client.reply(1, 1, Reply::Done, 100),
            ClientAction::Complete { op: o, .. } if o == op
        ));
        assert_eq!(
            client.reply(1, 1, Reply::Done, 100),
            ClientAction::Nothing,
            "a duplicate"
        );
        assert_eq!(client.next_request(), 2);
    }

    #[test]
    fn the_workload_replays_and_mixes_every_command() {
        let client = Client::new(4, 3);
        let draw = || {
            let mut workload = Workload::new(Rng::new(9), 3);
            (0..200)
                .map(|r| workload.next(&client, r))
                .collect::<Vec<_>>()
        };
        let commands = draw();
        assert_eq!(commands, draw());
        assert!(commands.iter().any(|c| matches!(c, Command::Get { .. })));
        assert!(commands.iter().any(|c| matches!(c, Command::Put { .. })));
        assert!(commands.iter().any(|c| matches!(c, Command::Delete { .. })));
        assert!(commands.iter().any(|c| matches!(c, Command::Cas { .. })));
    }
}
