//! 2,000 seeded fault schedules (every fault kind: drop, dup, reorder,
//! partition, crash with amnesia) across 3 and 5 replicas: no violation of
//! agreement, the chosen-value invariant, linearizability or liveness.

use super::{all_seeds_pass, faulty};

const OPS: u64 = 200;

#[test]
fn three_replicas_first_600_seeds() {
    all_seeds_pass(0..600, |seed| faulty(3, seed, OPS));
}

#[test]
fn three_replicas_next_600_seeds() {
    all_seeds_pass(600..1200, |seed| faulty(3, seed, OPS));
}

#[test]
fn five_replicas_first_400_seeds() {
    all_seeds_pass(0..400, |seed| faulty(5, seed, OPS));
}

#[test]
fn five_replicas_next_400_seeds() {
    all_seeds_pass(400..800, |seed| faulty(5, seed, OPS));
}
