//! Lineage of a run: which phase 2 messages (ACCEPT, ACCEPTED) were sent,
//! when, and which slots a leader applied; from these, the supports of each
//! good outcome (a slot chosen and applied by its leader, which then answers
//! the client). A support is one follower's contribution to the quorum: the
//! leader's ACCEPT reaching it and its ACCEPTED coming back, in the ballot
//! that chose the slot.

use std::collections::BTreeMap;

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

/// What a phase 2 frame was about; other frames only advance the numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase2 {
    Accept { ballot: u64, slot: u64 },
    Accepted { ballot: u64, slot: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub id: MessageId,
    /// Logical send time (virtual microseconds).
    pub at: Micros,
}

/// A slot applied by the replica leading at the time: the acknowledged write.
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
pub struct Support {
    pub follower: u8,
    pub accepts: Vec<Sent>,
    pub accepteds: Vec<Sent>,
}

#[derive(Debug, Clone)]
pub struct Lineage {
    group: u16,
    link_seq: BTreeMap<(u8, u8), u64>,
    phase2: Vec<(Sent, Phase2)>,
    /// Every frame, for random injection to draw from.
    sent_at: Vec<(MessageId, Micros)>,
    outcomes: BTreeMap<u64, Outcome>,
}

impl Lineage {
    pub fn new(group: u16) -> Lineage {
        Lineage {
            group,
            link_seq: BTreeMap::new(),
            phase2: Vec::new(),
            sent_at: Vec::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// A frame handed to the network, numbered per link as the network does.
    /// The frame is untrusted bytes: one that does not decode is still counted.
    pub fn sent(&mut self, from: u8, to: u8, at: Micros, frame: &[u8]) {
        let seq = self.link_seq.entry((from, to)).or_default();
        *seq += 1;
        let sent = Sent {
            id: MessageId {
                from,
                to,
                seq: *seq,
            },
            at,
        };
        self.sent_at.push((sent.id, at));
        let message = decode_frame(frame, UDP_PORT)
            .and_then(|view| Envelope::decode(view.datagram, self.group))
            .map(|envelope| envelope.message);
        let phase2 = match message {
            Ok(Message::Accept { ballot, slot, .. }) => Phase2::Accept {
                ballot: ballot.0,
                slot,
            },
            Ok(Message::Accepted { ballot, slot }) => Phase2::Accepted {
                ballot: ballot.0,
                slot,
            },
            _ => return,
        };
        self.phase2.push((sent, phase2));
    }

    /// A replica applied `slot`; the first application by a leader is the outcome.
    pub fn applied(&mut self, node: u8, slot: u64, at: Micros, leading: bool) {
        if leading {
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

    /// The supports of `outcome`: per follower, the ACCEPTs of the latest
    /// ballot the leader proposed the slot in before applying it, and the
    /// ACCEPTEDs answering them (none if the ack came before the follower's:
    /// the follower then supports only the value's durability).
    pub fn supports(&self, outcome: &Outcome) -> Vec<Support> {
        let before = |sent: &Sent| sent.at <= outcome.at;
        let ballot = self
            .phase2
            .iter()
            .filter_map(|(sent, p)| match *p {
                Phase2::Accept { ballot, slot }
                    if slot == outcome.slot && sent.id.from == outcome.leader && before(sent) =>
                {
                    Some(ballot)
                }
                _ => None,
            })
            .max();
        let Some(ballot) = ballot else {
            return Vec::new();
        };
        let mut by_follower: BTreeMap<u8, Support> = BTreeMap::new();
        for (sent, p) in &self.phase2 {
            if !before(sent) {
                continue;
            }
            let (follower, accept) = match *p {
                Phase2::Accept { ballot: b, slot }
                    if b == ballot && slot == outcome.slot && sent.id.from == outcome.leader =>
                {
                    (sent.id.to, true)
                }
                Phase2::Accepted { ballot: b, slot }
                    if b == ballot && slot == outcome.slot && sent.id.to == outcome.leader =>
                {
                    (sent.id.from, false)
                }
                _ => continue,
            };
            let support = by_follower.entry(follower).or_insert(Support {
                follower,
                accepts: Vec::new(),
                accepteds: Vec::new(),
            });
            if accept {
                support.accepts.push(*sent);
            } else {
                support.accepteds.push(*sent);
            }
        }
        by_follower
            .into_values()
            .filter(|s| !s.accepts.is_empty())
            .collect()
    }
}
