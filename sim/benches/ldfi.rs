//! Executions needed to find each planted bug: LDFI against random fault
//! injection in the same budget and fault vocabulary (omissions, cuts,
//! holds, one crash, restarting late or bouncing), over 20 seeds each
//! (median, max, ratio of medians); 3 replicas, save stale-incarnation,
//! which needs 5 (a former life's ack must complete a quorum with a late
//! one). A search
//! that ends without finding the bug (LDFI: its bounded tree exhausted;
//! random: its cap reached) is counted at the executions it spent, marked
//! `>`.
//!
//! `cargo bench -p riptide-sim --bench ldfi`

use riptide_sim::SimVariant;
use riptide_sim::ldfi::{self, LdfiConfig, SearchResult};

const SEEDS: u64 = 20;
const RANDOM_CAP: u64 = 4_000;

/// Executions each seed needed (sorted; `>` where not found), and how many
/// seeds found the bug.
fn executions(search: impl Fn(u64) -> SearchResult) -> (Vec<(u64, bool)>, usize) {
    let mut runs: Vec<(u64, bool)> = (0..SEEDS)
        .map(|seed| {
            let result = search(seed);
            (result.executions, result.counterexample.is_some())
        })
        .collect();
    // Unfound searches sort last: they needed more than they spent.
    runs.sort_by_key(|&(n, found)| (!found, n));
    let found = runs.iter().filter(|(_, found)| *found).count();
    (runs, found)
}

fn mark((n, found): (u64, bool)) -> String {
    if found {
        n.to_string()
    } else {
        format!(">{n}")
    }
}

fn show(runs: &[(u64, bool)], found: usize) -> String {
    let median = runs[runs.len() / 2];
    let max = runs[runs.len() - 1];
    format!("{:>6} {:>6} {:>5}/{SEEDS}", mark(median), mark(max), found)
}

fn main() {
    // Random over LDFI's vocabulary (cuts and holds included), and over the
    // issue's bare one (single-message omissions and crashes).
    for (random_cuts, random_holds) in [(2, 2), (0, 0)] {
        println!();
        println!(
            "{:<26} {:>6} {:>6} {:>8} | {:>6} {:>6} {:>8} | ratio of medians",
            "variant", "median", "max", "found", "median", "max", "found"
        );
        let random = format!("random, <={random_cuts} cuts <={random_holds} holds");
        println!("{:<26} {:^24} | {random:^24} |", "", "LDFI");
        for variant in &SimVariant::ALL[1..] {
            let replicas = match variant {
                SimVariant::StaleIncarnation
                | SimVariant::UnfencedRecovery
                | SimVariant::NicIgnoresLives => 5,
                _ => 3,
            };
            compare(*variant, replicas, random_cuts, random_holds);
        }
    }
}

fn compare(variant: SimVariant, replicas: u8, random_cuts: u64, random_holds: u64) {
    let config = |seed: u64| {
        let mut config = LdfiConfig::small(replicas, seed);
        config.sim.variant = variant;
        config.random_cuts = random_cuts;
        config.random_holds = random_holds;
        config
    };
    let (ldfi_runs, ldfi_found) = executions(|seed| ldfi::search(&config(seed), &mut |_, _| {}));
    let (random_runs, random_found) = executions(|seed| {
        let mut config = config(seed);
        config.max_executions = RANDOM_CAP;
        ldfi::random_search(&config, seed, &mut |_, _| {})
    });
    let (ldfi_median, random_median) = (
        ldfi_runs[ldfi_runs.len() / 2],
        random_runs[random_runs.len() / 2],
    );
    let ratio = random_median.0 as f64 / ldfi_median.0 as f64;
    let ratio = match (ldfi_median.1, random_median.1) {
        (false, _) => "n/a: LDFI's median seed did not find it".to_string(),
        (true, false) => format!(">={ratio:.1}x"),
        (true, true) => format!("{ratio:.1}x"),
    };
    println!(
        "{:<26} {} | {} | {ratio}",
        format!("{} (n={replicas})", variant.name()),
        show(&ldfi_runs, ldfi_found),
        show(&random_runs, random_found),
    );
}
