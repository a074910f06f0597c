//! Seeded, linearizable histories of a simulated concurrent KV store, for
//! testing and benchmarking the checker at scale.
//!
//! Clients issue operations one at a time; each takes effect at an instant
//! between its call and return, in a single order that the store applies, so
//! the history is linearizable by construction. Some operations end `info`
//! (the client timed out: half of them took effect) or `fail` (not applied).

use std::collections::BTreeMap;

use riptide_control::rng::Rng;

use crate::history::{ClientId, Completion, History, OpKind, Operation, Output, Time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    pub seed: u64,
    pub ops: usize,
    pub keys: usize,
    pub clients: usize,
    /// Operations that end `info`, per thousand.
    pub info_per_mille: u64,
    /// Operations that end `fail`, per thousand.
    pub fail_per_mille: u64,
    /// The longest time from call to effect, and from effect to return.
    pub max_latency: Time,
}

impl Default for SyntheticConfig {
    fn default() -> SyntheticConfig {
        SyntheticConfig {
            seed: 1,
            ops: 1000,
            keys: 10,
            clients: 8,
            info_per_mille: 10,
            fail_per_mille: 10,
            max_latency: 20,
        }
    }
}

/// How long a client waits for a reply before it gives up (the op is `info`).
const TIMEOUT_LATENCIES: Time = 3;

/// A linearizable history as `config` describes.
pub fn generate(config: &SyntheticConfig) -> History {
    let mut rng = Rng::new(config.seed);
    let keys = config.keys.max(1);
    let clients = config.clients.max(1);
    let mut free_at: Vec<Time> = vec![0; clients];
    let mut recent: Vec<Vec<String>> = vec![Vec::new(); keys];
    let mut planned = Vec::with_capacity(config.ops);
    for index in 0..config.ops {
        let client = (0..clients).min_by_key(|&c| (free_at[c], c)).unwrap_or(0);
        let key = rng.below(keys as u64) as usize;
        let call = free_at[client] + rng.below(3);
        let effect_at = call + rng.below(config.max_latency + 1);
        let ret = effect_at + rng.below(config.max_latency + 1);
        let roll = rng.below(1000);
        let status = if roll < config.info_per_mille {
            Completion::Info
        } else if roll < config.info_per_mille + config.fail_per_mille {
            Completion::Fail
        } else {
            Completion::Ok
        };
        free_at[client] = match status {
            Completion::Info => call + TIMEOUT_LATENCIES * (config.max_latency + 1),
            _ => ret,
        };
        let value = format!("c{client}.{index}");
        let (kind, value, expected) = match rng.below(10) {
            0..=3 => (OpKind::Get, None, None),
            4..=6 => (OpKind::Put, Some(value), None),
            7 => (OpKind::Delete, None, None),
            _ => {
                let choices = &recent[key];
                let pick = rng.below(choices.len() as u64 + 1) as usize;
                (OpKind::Cas, Some(value), choices.get(pick).cloned())
            }
        };
        if let Some(written) = &value {
            recent[key].push(written.clone());
            if recent[key].len() > 4 {
                recent[key].remove(0);
            }
        }
        let applied = match status {
            Completion::Ok => true,
            Completion::Fail => false,
            Completion::Info => rng.below(2) == 0,
        };
        planned.push(Planned {
            op: Operation {
                client: client as ClientId,
                kind,
                key: format!("k{key}"),
                value,
                expected,
                output: Output::Nothing,
                status,
                call,
                ret: (status != Completion::Info).then_some(ret),
            },
            effect_at,
            applied,
        });
    }
    apply_in_effect_order(&mut planned);
    History {
        ops: planned.into_iter().map(|planned| planned.op).collect(),
    }
}

struct Planned {
    op: Operation,
    effect_at: Time,
    applied: bool,
}

/// Runs the store: applies the operations in the order of their effect and
/// records the outputs of the completed ones.
fn apply_in_effect_order(planned: &mut [Planned]) {
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].effect_at, i));
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for i in order {
        let Planned { op, applied, .. } = &mut planned[i];
        if !*applied {
            continue;
        }
        let current = store.get(&op.key).cloned();
        let output = match op.kind {
            OpKind::Get => Output::Read(current),
            OpKind::Put => {
                let value = op.value.clone().unwrap_or_default();
                store.insert(op.key.clone(), value);
                Output::Nothing
            }
            OpKind::Delete => {
                store.remove(&op.key);
                Output::Nothing
            }
            OpKind::Cas => {
                let swaps = current == op.expected;
                if let (true, Some(new)) = (swaps, &op.value) {
                    store.insert(op.key.clone(), new.clone());
                }
                Output::Swapped(swaps)
            }
        };
        if op.status == Completion::Ok {
            op.output = output;
        }
    }
}
