//! Lineage of a run: which protocol messages were sent, when, and which
//! client writes a leader applied (and so acknowledged); from these, the
//! supports of each good outcome. An outcome rests on
//!
//! * the leader's ballot: a majority's PROMISEs answering its PREPAREs (the
//!   promiser's fence completes in between, so a promiser crashing before
//!   its PROMISE leaves breaks its vote);
//! * phase 2 in that ballot: per follower, the leader's ACCEPT reaching it and
//!   its ACCEPTED coming back;
//! * the recovery of any restarted replica among those: the RECOVERY
//!   responses it was rebuilt from.
//!
//! Crashes and restarts are recorded too: an ack counted for an outcome may
//! have been sent by a life of its follower that has since crashed (the
//! leader's NIC still counts it), and a value's holders are only those that
//! have not lost it since.

use std::collections::BTreeMap;

use riptide_control::kv::LogValue;
use riptide_wire::frame::decode_frame;
use riptide_wire::layout::UDP_PORT;
use riptide_wire::message::{Envelope, Message};
use serde::{Deserialize, Serialize};

use crate::latency::Micros;

/// One frame on one link: the `seq`-th frame `from`'s NIC sent to `to`
/// (the numbering `Fault::Omit` uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId {
    pub from: u8,
    pub to: u8,
    pub seq: u64,
}

/// What a frame was about, for the frames lineage follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept { ballot: u64, slot: u64 },
    Accepted { ballot: u64, slot: u64 },
    Prepare { ballot: u64 },
    Promise { ballot: u64 },
    RecoveryRequest,
    RecoveryResponse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub id: MessageId,
    /// Logical send time (virtual microseconds).
    pub at: Micros,
    /// When it reached the far side's NIC (its first copy).
    pub arrives: Micros,
}

/// A client write applied by the replica leading at the time, which then
/// answers the client: an acknowledged write. (A new leader's no-ops and
/// read barriers are not outcomes: nobody was promised anything about them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub leader: u8,
    pub slot: u64,
    pub at: Micros,
}

/// One follower's part in choosing an outcome: any of `accepts` delivered,
/// then any of `accepteds` delivered (retransmissions are alternatives);
/// and, once acknowledged, in keeping it: holding the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub follower: u8,
    pub accepts: Vec<Sent>,
    pub accepteds: Vec<Sent>,
}

/// One promiser's part in electing the outcome's leader: any of `prepares`
/// delivered, then any of `promises` delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub promiser: u8,
    pub prepares: Vec<Sent>,
    pub promises: Vec<Sent>,
}

/// A restarted replica's recovery: the responses each responder sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub replica: u8,
    pub responses: Vec<(u8, Vec<Sent>)>,
}

/// A later ballot's vote that reflects an outcome's value only because the
/// leader's ACCEPT reached the voter before its fence: `accept` (acked by
/// `follower` in the outcome's ballot) arrived before `follower` answered a
/// higher ballot's PREPARE (arrived at `prepare_arrives`) with a PROMISE
/// (sent at `promise_at`). An ACCEPT landing between the PREPARE and the
/// fence's completion is acked by the NIC yet may be missing from the vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteRace {
    pub follower: u8,
    pub accept: Sent,
    pub prepare_arrives: Micros,
    pub promise_at: Micros,
}

/// A replica crashed at `at`, and restarted with amnesia at `restarted` if
/// it did within the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    pub replica: u8,
    pub at: Micros,
    pub restarted: Option<Micros>,
}

/// Everything an outcome rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supports {
    pub ballot: u64,
    pub acks: Vec<Ack>,
    pub votes: Vec<Vote>,
    pub recoveries: Vec<Recovery>,
}

impl Supports {
    /// The recovery of `replica`, if it restarted before the outcome.
    pub fn recovery_of(&self, replica: u8) -> Option<&Recovery> {
        self.recoveries.iter().find(|r| r.replica == replica)
    }
}

#[derive(Debug, Clone)]
pub struct Lineage {
    group: u16,
    link_seq: BTreeMap<(u8, u8), u64>,
    frames: Vec<(Sent, Kind)>,
    /// Every frame, for random injection to draw from.
    sent_at: Vec<(MessageId, Micros)>,
    outcomes: BTreeMap<u64, Outcome>,
    crashes: Vec<Crash>,
}

impl Lineage {
    pub fn new(group: u16) -> Lineage {
        Lineage {
            group,
            link_seq: BTreeMap::new(),
            frames: Vec::new(),
            sent_at: Vec::new(),
            outcomes: BTreeMap::new(),
            crashes: Vec::new(),
        }
    }

    /// `node` crashed (lost its state and its NIC's).
    pub fn crashed(&mut self, node: u8, at: Micros) {
        self.crashes.push(Crash {
            replica: node,
            at,
            restarted: None,
        });
    }

    /// `node` restarted with amnesia.
    pub fn restarted(&mut self, node: u8, at: Micros) {
        if let Some(crash) = self
            .crashes
            .iter_mut()
            .rev()
            .find(|c| c.replica == node && c.restarted.is_none())
        {
            crash.restarted = Some(at);
        }
    }

    /// Every crash, in order.
    pub fn crashes(&self) -> &[Crash] {
        &self.crashes
    }

    /// Whether `replica` crashed after `from` and at or before `until`.
    fn crashed_between(&self, replica: u8, from: Micros, until: Micros) -> bool {
        self.crashes
            .iter()
            .any(|c| c.replica == replica && c.at > from && c.at <= until)
    }

    /// The acking followers of `outcome` whose ack the leader counted only
    /// from a former life: every ACCEPTED of theirs that reached the leader
    /// by the outcome was sent before a crash, itself before the outcome.
    /// The leader's NIC keeps such a vote although its sender forgot it.
    pub fn former_life_acks(&self, outcome: &Outcome, supports: &Supports) -> Vec<u8> {
        supports
            .acks
            .iter()
            .filter(|ack| {
                let counted: Vec<&Sent> = ack
                    .accepteds
                    .iter()
                    .filter(|s| s.arrives <= outcome.at)
                    .collect();
                !counted.is_empty()
                    && counted
                        .iter()
                        .all(|s| self.crashed_between(ack.follower, s.at, outcome.at))
            })
            .map(|ack| ack.follower)
            .collect()
    }

    /// The replicas holding `outcome`'s value when it was applied: its
    /// leader, and every follower whose last ACCEPT by then reached it after
    /// its last crash (a restarted one holds only what its recovery gave it,
    /// which this lineage does not read).
    pub fn holders(&self, outcome: &Outcome, supports: &Supports) -> Vec<u8> {
        let followers = supports.acks.iter().filter_map(|ack| {
            let arrived = ack
                .accepts
                .iter()
                .map(|s| s.arrives)
                .filter(|&t| t <= outcome.at)
                .max()?;
            (!self.crashed_between(ack.follower, arrived, outcome.at)).then_some(ack.follower)
        });
        std::iter::once(outcome.leader).chain(followers).collect()
    }

    /// A frame handed to the network, numbered per link as the network does,
    /// due at the far side at `arrivals`; none if the network dropped it at
    /// once (an omission, a cut): it supports nothing. The frame is untrusted
    /// bytes: one that does not decode is still counted.
    pub fn sent(&mut self, from: u8, to: u8, at: Micros, frame: &[u8], arrivals: &[Micros]) {
        let seq = self.link_seq.entry((from, to)).or_default();
        *seq += 1;
        let Some(&arrives) = arrivals.iter().min() else {
            return;
        };
        let sent = Sent {
            id: MessageId {
                from,
                to,
                seq: *seq,
            },
            at,
            arrives,
        };
        self.sent_at.push((sent.id, at));
        let message = decode_frame(frame, UDP_PORT)
            .and_then(|view| Envelope::decode(view.datagram, self.group))
            .map(|envelope| envelope.message);
        let kind = match message {
            Ok(Message::Accept { ballot, slot, .. }) => Kind::Accept {
                ballot: ballot.0,
                slot,
            },
            Ok(Message::Accepted { ballot, slot }) => Kind::Accepted {
                ballot: ballot.0,
                slot,
            },
            Ok(Message::Prepare { ballot, .. }) => Kind::Prepare { ballot: ballot.0 },
            Ok(Message::Promise { ballot, .. }) => Kind::Promise { ballot: ballot.0 },
            Ok(Message::RecoveryRequest { .. }) => Kind::RecoveryRequest,
            Ok(Message::RecoveryResponse { .. }) => Kind::RecoveryResponse,
            _ => return,
        };
        self.frames.push((sent, kind));
    }

    /// A replica applied `value` in `slot`; the first application of a client
    /// write by a leader is an outcome.
    pub fn applied(&mut self, node: u8, slot: u64, value: &[u8], at: Micros, leading: bool) {
        let client_write = LogValue::decode(value).is_ok_and(|v| !v.writes().is_empty());
        if leading && client_write {
            self.outcomes.entry(slot).or_insert(Outcome {
                leader: node,
                slot,
                at,
            });
        }
    }

    /// Every frame sent before `until`, on every link.
    pub fn frames_before(&self, until: Micros) -> Vec<MessageId> {
        self.sent_at
            .iter()
            .filter(|(_, at)| *at < until)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The good outcomes, by slot.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.values()
    }

    /// Frames sent before `outcome` was applied.
    fn before<'a>(&'a self, outcome: &Outcome) -> impl Iterator<Item = (Sent, Kind)> + 'a {
        let until = outcome.at;
        self.frames
            .iter()
            .copied()
            .filter(move |(sent, _)| sent.at <= until)
    }

    /// The supports of `outcome`; `None` if its leader never proposed it
    /// (nothing to break).
    pub fn supports(&self, outcome: &Outcome) -> Option<Supports> {
        let leader = outcome.leader;
        // The ballot that chose it: the latest the leader proposed the slot in.
        let ballot = self
            .before(outcome)
            .filter_map(|(sent, kind)| match kind {
                Kind::Accept { ballot, slot } if slot == outcome.slot && sent.id.from == leader => {
                    Some(ballot)
                }
                _ => None,
            })
            .max()?;
        let mut acks: BTreeMap<u8, Ack> = BTreeMap::new();
        let mut votes: BTreeMap<u8, Vote> = BTreeMap::new();
        for (sent, kind) in self.before(outcome) {
            let (from, to) = (sent.id.from, sent.id.to);
            match kind {
                Kind::Accept { ballot: b, slot } if b == ballot && slot == outcome.slot => {
                    ack_of(&mut acks, to).accepts.push(sent)
                }
                Kind::Accepted { ballot: b, slot } if b == ballot && slot == outcome.slot => {
                    ack_of(&mut acks, from).accepteds.push(sent)
                }
                Kind::Prepare { ballot: b } if b == ballot => {
                    vote_of(&mut votes, to).prepares.push(sent)
                }
                Kind::Promise { ballot: b } if b == ballot => {
                    vote_of(&mut votes, from).promises.push(sent)
                }
                _ => {}
            }
        }
        // Only the leader's own frames and the answers sent to it count.
        let acks: Vec<Ack> = acks
            .into_values()
            .filter(|a| a.follower != leader && !a.accepts.is_empty())
            .map(|mut a| {
                a.accepts.retain(|s| s.id.from == leader);
                a.accepteds.retain(|s| s.id.to == leader);
                a
            })
            .filter(|a| !a.accepts.is_empty())
            .collect();
        let votes: Vec<Vote> = votes
            .into_values()
            .map(|mut v| {
                v.prepares.retain(|s| s.id.from == leader);
                v.promises.retain(|s| s.id.to == leader);
                v
            })
            .filter(|v| v.promiser != leader && !v.promises.is_empty())
            .collect();
        let involved = std::iter::once(leader).chain(acks.iter().map(|a| a.follower));
        let recoveries = involved
            .filter_map(|replica| self.recovery(replica, outcome.at))
            .collect();
        Some(Supports {
            ballot,
            acks,
            votes,
            recoveries,
        })
    }

    /// The later votes of `supports`' acking followers that reflect
    /// `outcome`'s value, each with the ACCEPT that put it there.
    pub fn vote_races(&self, supports: &Supports) -> Vec<VoteRace> {
        let mut races = Vec::new();
        for ack in &supports.acks {
            let follower = ack.follower;
            // The first PROMISE per later ballot, with its PREPARE's arrival.
            let mut promises: BTreeMap<u64, Micros> = BTreeMap::new();
            for (sent, kind) in &self.frames {
                if let Kind::Promise { ballot } = *kind
                    && sent.id.from == follower
                    && ballot > supports.ballot
                {
                    promises.entry(ballot).or_insert(sent.at);
                }
            }
            for (ballot, promise_at) in promises {
                let prepare_arrives = self
                    .frames
                    .iter()
                    .filter(|(sent, kind)| {
                        *kind == Kind::Prepare { ballot }
                            && sent.id.to == follower
                            && sent.arrives <= promise_at
                    })
                    .map(|(sent, _)| sent.arrives)
                    .max();
                let accept = ack
                    .accepts
                    .iter()
                    .filter(|a| a.arrives <= promise_at)
                    .max_by_key(|a| a.arrives);
                if let (Some(prepare_arrives), Some(&accept)) = (prepare_arrives, accept) {
                    races.push(VoteRace {
                        follower,
                        accept,
                        prepare_arrives,
                        promise_at,
                    });
                }
            }
        }
        races
    }

    /// The recovery of `replica` before `until`: per responder, the responses
    /// to it since its first RECOVERY request (the budget allows one crash
    /// per schedule, so one recovery).
    fn recovery(&self, replica: u8, until: Micros) -> Option<Recovery> {
        let requests: Vec<Micros> = self
            .frames
            .iter()
            .filter(|(sent, kind)| {
                *kind == Kind::RecoveryRequest && sent.id.from == replica && sent.at <= until
            })
            .map(|(sent, _)| sent.at)
            .collect();
        let first = *requests.first()?;
        let mut responses: BTreeMap<u8, Vec<Sent>> = BTreeMap::new();
        for (sent, kind) in &self.frames {
            if *kind == Kind::RecoveryResponse
                && sent.id.to == replica
                && sent.at >= first
                && sent.at <= until
            {
                responses.entry(sent.id.from).or_default().push(*sent);
            }
        }
        Some(Recovery {
            replica,
            responses: responses.into_iter().collect(),
        })
    }
}

fn ack_of(acks: &mut BTreeMap<u8, Ack>, follower: u8) -> &mut Ack {
    acks.entry(follower).or_insert(Ack {
        follower,
        accepts: Vec::new(),
        accepteds: Vec::new(),
    })
}

fn vote_of(votes: &mut BTreeMap<u8, Vote>, promiser: u8) -> &mut Vote {
    votes.entry(promiser).or_insert(Vote {
        promiser,
        prepares: Vec::new(),
        promises: Vec::new(),
    })
}
