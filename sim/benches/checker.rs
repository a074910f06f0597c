//! Times the linearizability checker on seeded histories of a simulated
//! linearizable store: `cargo bench -p riptide-sim --bench checker`.
//!
//! Each case prints its size, the verdict, the search states explored and the
//! time `check` took (release build, one thread). The "corrupted" case turns
//! one late read of the large history into a stale read, so its time includes
//! finding the violation and shrinking it to an explanation.

use std::time::Instant;

use riptide_sim::history::{Completion, History, OpKind, Output};
use riptide_sim::linearizability::check;
use riptide_sim::linearizability::synthetic::{SyntheticConfig, generate};

fn main() {
    let large = SyntheticConfig {
        seed: 1,
        ops: 50_000,
        keys: 200,
        clients: 16,
        info_per_mille: 10,
        fail_per_mille: 10,
        max_latency: 20,
    };
    let hot_key = SyntheticConfig {
        seed: 2,
        ops: 500,
        keys: 1,
        clients: 10,
        ..large
    };
    let long_key = SyntheticConfig {
        seed: 3,
        ops: 50_000,
        keys: 1,
        clients: 16,
        ..large
    };
    println!(
        "{:<28} {:>7} {:>5} {:>8} {:>5} {:>18} {:>10} {:>9}",
        "case", "ops", "keys", "clients", "info", "verdict", "states", "seconds"
    );
    run("200 keys", &large, generate(&large));
    run("1 hot key", &hot_key, generate(&hot_key));
    run("1 key, long", &long_key, generate(&long_key));
    run(
        "200 keys, one stale read",
        &large,
        with_stale_read(generate(&large)),
    );
}

fn run(name: &str, config: &SyntheticConfig, history: History) {
    let info = history
        .ops
        .iter()
        .filter(|op| op.status == Completion::Info)
        .count();
    let started = Instant::now();
    let verdict = check(&history);
    let seconds = started.elapsed().as_secs_f64();
    let outcome = format!("{:?}", verdict.outcome);
    println!(
        "{name:<28} {:>7} {:>5} {:>8} {info:>5} {outcome:>18} {:>10} {seconds:>9.3}",
        history.ops.len(),
        verdict.keys.len(),
        config.clients,
        verdict.states_explored,
    );
    if let Some(explanation) = &verdict.explanation {
        println!(
            "{:<28} explained by {} operations on key {:?} (minimal: {}) after {} more states",
            "",
            explanation.operations.len(),
            explanation.key,
            explanation.minimal,
            explanation.states
        );
    }
}

/// `history` with its last read of some value changed to an older value of
/// the same key, written by a put that returned long before the read.
fn with_stale_read(mut history: History) -> History {
    let is_read_of_a_value = |index: usize| {
        let op = &history.ops[index];
        op.kind == OpKind::Get
            && op.status == Completion::Ok
            && matches!(op.output, Output::Read(Some(_)))
    };
    let Some(victim) = (0..history.ops.len())
        .rev()
        .find(|&i| is_read_of_a_value(i))
    else {
        return history;
    };
    let read = history.ops[victim].clone();
    let stale = history.ops[..victim].iter().find(|op| {
        op.key == read.key
            && op.kind == OpKind::Put
            && op.status == Completion::Ok
            && op.ret.is_some_and(|ret| ret + 1000 < read.call)
            && Output::Read(op.value.clone()) != read.output
    });
    if let Some(value) = stale.and_then(|op| op.value.clone()) {
        history.ops[victim].output = Output::Read(Some(value));
    }
    history
}
