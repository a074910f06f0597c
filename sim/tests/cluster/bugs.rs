//! Every planted bug is caught: for each, some seed in a small fixed range
//! yields a violation. The seeds that catch it are printed
//! (`cargo test -p riptide-sim --test cluster bugs -- --nocapture`).

use riptide_sim::{SimConfig, SimVariant};

use super::{faulty, run};

const SEEDS: std::ops::Range<u64> = 0..40;

/// The seeds whose run of `variant` violates some check, with the first
/// violation.
fn catching_seeds(
    variant: SimVariant,
    replicas: u8,
    config: impl Fn(u64) -> SimConfig,
) -> Vec<(u64, String)> {
    SEEDS
        .filter_map(|seed| {
            let mut config = config(seed);
            config.variant = variant;
            config.replicas = replicas;
            let failures = run(&config).checks.failures();
            Some((seed, failures.first()?.clone()))
        })
        .collect()
}

fn assert_caught(variant: SimVariant, replicas: u8) {
    let caught = catching_seeds(variant, replicas, |seed| faulty(replicas, seed, 60));
    println!(
        "{variant}, {replicas} replicas: caught by {} of {} seeds: {:?}",
        caught.len(),
        SEEDS.end - SEEDS.start,
        caught.iter().map(|(seed, _)| seed).collect::<Vec<_>>()
    );
    if let Some((seed, line)) = caught.first() {
        println!("  e.g. seed {seed}: {line}");
    }
    assert!(
        !caught.is_empty(),
        "{variant} went unnoticed on seeds {SEEDS:?} with {replicas} replicas"
    );
}

#[test]
fn commit_on_minority_is_caught() {
    assert_caught(SimVariant::CommitOnMinority, 5);
}

#[test]
fn promise_before_fence_is_caught() {
    assert_caught(SimVariant::PromiseBeforeFence, 3);
}

#[test]
fn leader_log_wins_is_caught() {
    assert_caught(SimVariant::LeaderLogWins, 3);
}

#[test]
fn commit_on_any_ack_is_caught() {
    assert_caught(SimVariant::CommitOnAnyAck, 5);
}

#[test]
fn ack_without_store_is_caught() {
    assert_caught(SimVariant::AckWithoutStore, 3);
}
