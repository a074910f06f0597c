//! Executions needed to find each planted bug: LDFI against random fault
//! injection in the same budget, over 20 seeds each (median, max, ratio of
//! medians). A search that runs out is counted at its cap, marked `>`.
//!
//! `cargo bench -p riptide-sim --bench ldfi`

use riptide_sim::SimVariant;
use riptide_sim::ldfi::{self, LdfiConfig, SearchResult};

const SEEDS: u64 = 20;
const LDFI_CAP: u64 = 200;
const RANDOM_CAP: u64 = 500;

/// Executions each seed needed, and how many seeds found the bug.
fn executions(search: impl Fn(u64) -> SearchResult) -> (Vec<u64>, usize) {
    let results: Vec<SearchResult> = (0..SEEDS).map(search).collect();
    let found = results
        .iter()
        .filter(|r| r.counterexample.is_some())
        .count();
    let mut counts: Vec<u64> = results.iter().map(|r| r.executions).collect();
    counts.sort_unstable();
    (counts, found)
}

fn show(counts: &[u64], found: usize, cap: u64) -> String {
    let median = counts[counts.len() / 2];
    let max = counts[counts.len() - 1];
    let mark = |n: u64| {
        if n >= cap {
            format!(">{n}")
        } else {
            n.to_string()
        }
    };
    format!("{:>6} {:>6} {:>5}/{SEEDS}", mark(median), mark(max), found)
}

fn main() {
    println!(
        "{:<22} {:>6} {:>6} {:>8} | {:>6} {:>6} {:>8} | ratio of medians",
        "variant", "median", "max", "found", "median", "max", "found"
    );
    println!("{:<22} {:^24} | {:^24} |", "", "LDFI", "random");
    for variant in &SimVariant::ALL[1..] {
        let config = |seed: u64| {
            let mut config = LdfiConfig::small(3, seed);
            config.sim.variant = *variant;
            config
        };
        let (ldfi_counts, ldfi_found) = executions(|seed| {
            let mut config = config(seed);
            config.max_executions = LDFI_CAP;
            ldfi::search(&config, &mut |_, _| {})
        });
        let (random_counts, random_found) = executions(|seed| {
            let mut config = config(seed);
            config.max_executions = RANDOM_CAP;
            ldfi::random_search(&config, seed, &mut |_, _| {})
        });
        let ratio = random_counts[random_counts.len() / 2] as f64
            / ldfi_counts[ldfi_counts.len() / 2] as f64;
        let ratio = match (ldfi_found, random_found) {
            (0, _) => "n/a: LDFI did not find it".to_string(),
            (_, r) if r < SEEDS as usize / 2 => format!(">={ratio:.1}x"),
            _ => format!("{ratio:.1}x"),
        };
        println!(
            "{:<22} {} | {} | {ratio}",
            variant.name(),
            show(&ldfi_counts, ldfi_found, LDFI_CAP),
            show(&random_counts, random_found, RANDOM_CAP),
        );
    }
}
