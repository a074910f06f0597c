//! The properties checked at every step, and what a violation says.
//!
//! Each check reads only what the real code exposes (outputs, the log, the
//! NIC's programming, the card-to-host stream) plus the ghost state the
//! checker keeps ([`Ghost`]): what any replica ever learned chosen, and
//! which writes were acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use riptide_control::kv::{Command, LogValue};
use riptide_control::{Output, Replica};
use riptide_wire::Ballot;
use riptide_wire::host::{CardToHost, NicCommand, NicEvent, NicRole};
use serde::{Deserialize, Serialize};

use crate::node::Node;

/// The properties, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// No two replicas learn (mark chosen, or apply) different values for
    /// one slot.
    Agreement,
    /// No PROMISE for ballot b while the promiser's NIC can still ack an
    /// ACCEPT below b, or holds an ack below b its host has not seen.
    Fence,
    /// A new leader of ballot b holds, or re-proposes in the same slot,
    /// every value learned chosen at a ballot below b.
    LeaderCompleteness,
    /// Every replica's store is the specification's: the learned log with
    /// each client request executed once.
    AtMostOnce,
    /// Every value learned chosen (acknowledged writes among them) stays
    /// held by f+1-k replicas that hold their state, k being the replicas
    /// that do not (restarted and not yet recovered and caught up).
    NoAcknowledgedWriteLost,
    /// No replica's crash vector entry ever decreases, and every restart
    /// is a newer life.
    IncarnationsNeverGoBack,
    /// The control plane's own invariants (`Replica::invariants`, checked
    /// by `step` in debug builds) held: it did not panic.
    ReplicaInvariants,
    /// The step maps to a step of the abstract replicated log or a stutter
    /// (`refinement.rs`).
    Refinement,
    /// The bounded fair extension committed (`liveness.rs`).
    Liveness,
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&name)
    }
}

/// A broken property, with what broke it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: Property,
    pub detail: String,
}

impl Violation {
    pub fn new(property: Property, detail: impl Into<String>) -> Violation {
        Violation {
            property,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.detail)
    }
}

/// What the checker remembers beyond the replicas' own state. It is part of
/// the state's fingerprint: two states with different histories are not
/// merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Every slot any replica learned chosen: its value and the lowest
    /// ballot it was seen chosen at.
    pub chosen: BTreeMap<u64, (Vec<u8>, Ballot)>,
    /// Clients whose write was acknowledged (`Reply::Done`).
    pub acked: BTreeSet<u8>,
    /// Every ballot any replica promised or fenced at: what the ballot
    /// bound counts.
    pub ballots: BTreeSet<Ballot>,
}

impl Ghost {
    /// Replica `who` learned `value` chosen in `slot` (at `ballot`, if known).
    pub fn learn(
        &mut self,
        who: u8,
        slot: u64,
        value: &[u8],
        ballot: Option<Ballot>,
    ) -> Result<(), Violation> {
        let ballot = ballot.unwrap_or(Ballot(u64::MAX));
        match self.chosen.get_mut(&slot) {
            None => {
                self.chosen.insert(slot, (value.to_vec(), ballot));
                Ok(())
            }
            Some((known, _)) if known.as_slice() != value => Err(Violation::new(
                Property::Agreement,
                format!(
                    "slot {slot}: replica {who} learned {} chosen, but {} was learned before",
                    describe(value),
                    describe(known)
                ),
            )),
            Some((_, seen)) => {
                *seen = (*seen).min(ballot);
                Ok(())
            }
        }
    }
}

/// The client id the control plane sees for the checker's client `c`
/// (client ids start at 1).
pub fn client_id(c: u8) -> u64 {
    u64::from(c) + 1
}

/// The one write of client `c`.
pub fn client_write(c: u8) -> Command {
    Command::Put {
        key: "k".into(),
        value: format!("c{c}"),
    }
}

/// The log value client `c`'s write becomes.
pub fn client_log_value(c: u8) -> Vec<u8> {
    LogValue::Request {
        client: client_id(c),
        request: 1,
        command: client_write(c),
    }
    .encode()
}

/// The bytes that stand for client `c`'s write inside a log value, whether
/// it is the value alone or one write of a batch (a batch's writes are
/// encoded as a request without its tag).
pub fn client_write_bytes(c: u8) -> Vec<u8> {
    client_log_value(c)[1..].to_vec()
}

/// A log value, readable: as the simulator's checkers show it.
pub fn describe(value: &[u8]) -> String {
    riptide_sim::check::show_value(value)
}

/// Fence: replica `node` is about to send PROMISE(`ballot`).
pub fn check_fence(node: &Node, ballot: Ballot) -> Result<(), Violation> {
    let config = node.nic.config();
    if config.role == NicRole::Follower && config.ballot < ballot && node.nic.fence() < ballot {
        return Err(Violation::new(
            Property::Fence,
            format!(
                "replica {} promised {ballot:?} while its NIC still acks ACCEPTs of {:?} (fence {:?})",
                node.id(),
                config.ballot,
                node.nic.fence()
            ),
        ));
    }
    let unseen = node.to_host.iter().find_map(|record| match record {
        CardToHost::Event(NicEvent::Accepted {
            ballot: acked,
            slot,
            value,
        }) if *acked < ballot => Some((*acked, *slot, value)),
        _ => None,
    });
    if let Some((acked, slot, value)) = unseen {
        return Err(Violation::new(
            Property::Fence,
            format!(
                "replica {} promised {ballot:?} before its host saw the NIC's ack of slot {slot} at {acked:?} ({})",
                node.id(),
                describe(value)
            ),
        ));
    }
    Ok(())
}

/// Leader completeness: `outputs` of replica `node` (already stepped)
/// made it leader of a ballot; every value learned chosen below that ballot
/// must be in its log (below its first slot) or among its first submits.
pub fn check_leader_completeness(
    node: &Node,
    outputs: &[Output],
    ghost: &Ghost,
) -> Result<(), Violation> {
    let Some(start) = outputs.iter().position(|output| {
        matches!(output, Output::Nic(NicCommand::Configure(c)) if c.role == NicRole::Leader)
    }) else {
        return Ok(());
    };
    let Output::Nic(NicCommand::Configure(config)) = &outputs[start] else {
        return Ok(());
    };
    let submits: Vec<&[u8]> = outputs[start..]
        .iter()
        .filter_map(|output| match output {
            Output::Nic(NicCommand::Submit { value }) => Some(value.as_slice()),
            _ => None,
        })
        .collect();
    for (&slot, (value, ballot)) in &ghost.chosen {
        if *ballot >= config.ballot {
            continue;
        }
        let held = if slot < config.next_slot {
            log_value(&node.replica, slot)
        } else {
            usize::try_from(slot - config.next_slot)
                .ok()
                .and_then(|i| submits.get(i).copied())
        };
        if held != Some(value.as_slice()) {
            return Err(Violation::new(
                Property::LeaderCompleteness,
                format!(
                    "replica {} leads {:?} without slot {slot}'s chosen {} (it has {})",
                    node.id(),
                    config.ballot,
                    describe(value),
                    held.map_or("nothing".into(), describe)
                ),
            ));
        }
    }
    Ok(())
}

/// The value `replica` holds in `slot`.
pub fn log_value(replica: &Replica, slot: u64) -> Option<&[u8]> {
    replica
        .entries()
        .find(|(s, _)| *s == slot)
        .map(|(_, entry)| entry.value.as_slice())
}

/// At-most-once: `node`'s store equals the specification's store after the
/// learned log up to what it applied, each request executed once.
pub fn check_store(node: &Node, ghost: &Ghost) -> Result<(), Violation> {
    let mut spec: BTreeMap<String, String> = BTreeMap::new();
    let mut executed = BTreeSet::new();
    for slot in 1..=node.replica.applied() {
        let Some((value, _)) = ghost.chosen.get(&slot) else {
            return Err(Violation::new(
                Property::Agreement,
                format!(
                    "replica {} applied slot {slot}, which nobody learned chosen",
                    node.id()
                ),
            ));
        };
        let decoded = LogValue::decode(value);
        for (client, request, command) in decoded.iter().flat_map(LogValue::writes) {
            if let Command::Put { key, value } = command
                && executed.insert((client, request))
            {
                spec.insert(key.clone(), value.clone());
            }
        }
    }
    if node.replica.kv().data() != &spec {
        return Err(Violation::new(
            Property::AtMostOnce,
            format!(
                "replica {} holds {:?} after applying {} slots; executing each request once gives {spec:?}",
                node.id(),
                node.replica.kv().data(),
                node.replica.applied()
            ),
        ));
    }
    Ok(())
}

/// Whether `node` holds `value` in `slot`: in its log, or acked by its NIC
/// and on its way to the host.
pub fn holds(node: &Node, slot: u64, value: &[u8]) -> bool {
    log_value(&node.replica, slot) == Some(value)
        || node.to_host.iter().any(|record| {
            matches!(record, CardToHost::Event(NicEvent::Accepted { slot: s, value: v, .. })
                if *s == slot && v.as_slice() == value)
        })
}

/// No acknowledged write lost: every learned value is held by f+1-k
/// replicas that hold their state.
pub fn check_durability(nodes: &[Node], ghost: &Ghost, quorum: usize) -> Result<(), Violation> {
    let with_state: Vec<&Node> = nodes.iter().filter(|n| n.replica.recovered()).collect();
    let without = nodes.len() - with_state.len();
    let needed = quorum.saturating_sub(without);
    for (&slot, (value, _)) in &ghost.chosen {
        let holders: Vec<u8> = with_state
            .iter()
            .filter(|node| holds(node, slot, value))
            .map(|node| node.id())
            .collect();
        if holders.len() < needed {
            return Err(Violation::new(
                Property::NoAcknowledgedWriteLost,
                format!(
                    "slot {slot}'s chosen {} is held only by {holders:?}; {needed} of the {} replicas with their state should hold it",
                    describe(value),
                    with_state.len()
                ),
            ));
        }
    }
    Ok(())
}
