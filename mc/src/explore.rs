//! The explorer: breadth-first (level by level, over N threads) or
//! depth-first (one thread), over fingerprints of canonical states.
//!
//! Breadth-first keeps, per visited fingerprint, its parent's fingerprint
//! and the index of the action that led to it (in the parent's
//! [`World::actions`] order, which is deterministic), so a counterexample is
//! rebuilt by replaying from the initial state: it is a shortest one.
//! Depth-first keeps the path on its stack.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bounds::Bounds;
use crate::liveness::fair_extension;
use crate::properties::Violation;
use crate::reduction::ample;
use crate::world::{Action, Outcome, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    Bfs,
    Dfs,
    /// Random walks from the initial state, each up to `max_depth` steps
    /// (default 60), until the time limit: not exhaustive, for bugs deeper
    /// than breadth-first reaches (stateright's "simulation" checker).
    Random {
        seed: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub search: Search,
    /// Worker threads (breadth-first only).
    pub threads: usize,
    /// Stop after this long (the report then says the search is incomplete).
    pub time_limit: Option<Duration>,
    /// Do not go deeper than this (breadth-first: every state up to this
    /// many steps from the initial state is explored, and no further).
    pub max_depth: Option<usize>,
    /// Check liveness from every state whose fingerprint is divisible by
    /// this (1: every state; 0: never).
    pub liveness_every: u64,
    /// Rounds of the fair extension (`liveness.rs`).
    pub liveness_rounds: usize,
    /// Start where these actions (checked, from the initial state) leave
    /// the group (`--from`); a counterexample starts with them.
    pub prefix: Vec<Action>,
    /// Partial-order reduction (`reduction.rs`; breadth-first only). Liveness
    /// is not sampled under it.
    pub por: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            search: Search::Bfs,
            threads: 1,
            time_limit: None,
            max_depth: None,
            liveness_every: 0,
            liveness_rounds: crate::liveness::ROUNDS,
            prefix: Vec::new(),
            por: false,
        }
    }
}

/// Counts, as the search goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transitions taken (each action of each state dequeued).
    pub explored: u64,
    /// Distinct states (fingerprints) reached.
    pub unique: u64,
    /// Deepest level reached.
    pub depth: usize,
    /// Steps not taken because they went past a bound.
    pub out_of_bounds: u64,
    /// States the liveness extension was run from.
    pub liveness_checked: u64,
    /// States expanded by an ample set only (`--por`).
    pub reduced: u64,
    pub elapsed: Duration,
}

impl Stats {
    pub fn states_per_second(&self) -> f64 {
        self.unique as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A property broken at the end of `actions` from the initial state.
#[derive(Debug, Clone)]
pub struct Counterexample {
    pub actions: Vec<Action>,
    pub violation: Violation,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub stats: Stats,
    /// Every reachable state within the bounds was explored.
    pub complete: bool,
    pub counterexample: Option<Counterexample>,
}

/// Explores the states of `bounds`; `progress` is called about once a second.
pub fn explore(bounds: &Bounds, options: &Options, progress: &(dyn Fn(&Stats) + Sync)) -> Report {
    match options.search {
        Search::Bfs => bfs(bounds, options, progress),
        Search::Dfs => dfs(bounds, options, progress),
        Search::Random { seed } => random_walks(bounds, options, seed, progress),
    }
}

/// Replays `actions` from the initial state; the outcome of the last.
pub fn replay(bounds: &Bounds, actions: &[Action]) -> Result<World, Violation> {
    let mut world = World::initial(bounds);
    for &action in actions {
        match world.apply(bounds, action) {
            Outcome::Next(next) => world = *next,
            Outcome::Violation(violation) => return Err(violation),
            Outcome::OutOfBounds => return Ok(world),
        }
    }
    Ok(world)
}

const SHARDS: usize = 64;

/// Visited fingerprints, sharded so threads rarely wait on one another:
/// fingerprint -> (parent's fingerprint, action index in the parent).
struct Visited(Vec<Mutex<HashMap<u64, (u64, u32)>>>);

impl Visited {
    fn new() -> Visited {
        Visited((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect())
    }

    fn shard(&self, fp: u64) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, u32)>> {
        let shard = &self.0[(fp as usize) % SHARDS];
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True if `fp` is new.
    fn insert(&self, fp: u64, parent: u64, action: u32) -> bool {
        let mut shard = self.shard(fp);
        if shard.contains_key(&fp) {
            return false;
        }
        shard.insert(fp, (parent, action));
        true
    }

    fn parent(&self, fp: u64) -> Option<(u64, u32)> {
        self.shard(fp).get(&fp).copied()
    }

    /// Action indices from the root to `fp`.
    fn path_to(&self, mut fp: u64) -> Vec<u32> {
        let mut path = Vec::new();
        while let Some((parent, action)) = self.parent(fp) {
            if parent == fp {
                break;
            }
            path.push(action);
            fp = parent;
        }
        path.reverse();
        path
    }
}

/// Shared counters of a breadth-first search.
#[derive(Default)]
struct Shared {
    explored: AtomicU64,
    unique: AtomicU64,
    out_of_bounds: AtomicU64,
    liveness_checked: AtomicU64,
    reduced: AtomicU64,
    stop: AtomicBool,
}

/// Whether a step's successor was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    New,
    Seen,
}

/// Where a violation was found: at the state `fp` itself (liveness), or
/// after taking action `index` from it.
#[derive(Debug, Clone)]
struct Found {
    fp: u64,
    index: Option<u32>,
    violation: Violation,
}

fn bfs(bounds: &Bounds, options: &Options, progress: &(dyn Fn(&Stats) + Sync)) -> Report {
    let start = Instant::now();
    let visited = Visited::new();
    let shared = Shared::default();
    let found: Mutex<Option<Found>> = Mutex::new(None);
    let initial = match replay(bounds, &options.prefix) {
        Ok(world) => world,
        Err(violation) => {
            return Report {
                stats: Stats::default(),
                complete: false,
                counterexample: Some(Counterexample {
                    actions: options.prefix.clone(),
                    violation,
                }),
            };
        }
    };
    let start_world = initial.clone();
    let root = initial.fingerprint();
    visited.insert(root, root, 0);
    shared.unique.store(1, Ordering::Relaxed);
    let depth = AtomicUsize::new(0);
    let mut frontier = vec![(initial, root)];
    let mut timed_out = false;
    let stats = |shared: &Shared, depth: usize| Stats {
        explored: shared.explored.load(Ordering::Relaxed),
        unique: shared.unique.load(Ordering::Relaxed),
        depth,
        out_of_bounds: shared.out_of_bounds.load(Ordering::Relaxed),
        liveness_checked: shared.liveness_checked.load(Ordering::Relaxed),
        reduced: shared.reduced.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    };
    let check_live = |world: &World, fp: u64| {
        if options.por || !liveness_due(options, fp) {
            return;
        }
        shared.liveness_checked.fetch_add(1, Ordering::Relaxed);
        if let Err(violation) = fair_extension(world, bounds, options.liveness_rounds) {
            record(
                &found,
                &shared,
                Found {
                    fp,
                    index: None,
                    violation,
                },
            );
        }
    };
    check_live(&frontier[0].0, root);
    let mut cut = false;
    while !frontier.is_empty() && !shared.stop.load(Ordering::Relaxed) {
        if options
            .max_depth
            .is_some_and(|max| depth.load(Ordering::Relaxed) >= max)
        {
            cut = true;
            break;
        }
        let next_index = AtomicUsize::new(0);
        let level_done = AtomicBool::new(false);
        let threads = options.threads.max(1);
        let chunks: Vec<Vec<(World, u64)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut next = Vec::new();
                        loop {
                            if shared.stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let i = next_index.fetch_add(1, Ordering::Relaxed);
                            let Some((world, fp)) = frontier.get(i) else {
                                break;
                            };
                            let actions = world.actions(bounds);
                            let mut handle = |index: u32, outcome: Outcome| {
                                shared.explored.fetch_add(1, Ordering::Relaxed);
                                match outcome {
                                    Outcome::Next(child) => {
                                        let child_fp = child.fingerprint();
                                        if !visited.insert(child_fp, *fp, index) {
                                            return Child::Seen;
                                        }
                                        shared.unique.fetch_add(1, Ordering::Relaxed);
                                        check_live(&child, child_fp);
                                        next.push((*child, child_fp));
                                    }
                                    Outcome::OutOfBounds => {
                                        shared.out_of_bounds.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Outcome::Violation(violation) => {
                                        let at = Found {
                                            fp: *fp,
                                            index: Some(index),
                                            violation,
                                        };
                                        record(&found, &shared, at);
                                    }
                                }
                                Child::New
                            };
                            let mut taken = vec![false; actions.len()];
                            let mut expand_fully = true;
                            if let Some(ample) = options
                                .por
                                .then(|| ample(world, bounds, &actions))
                                .flatten()
                            {
                                shared.reduced.fetch_add(1, Ordering::Relaxed);
                                expand_fully = false;
                                for (index, outcome) in ample.steps {
                                    taken[index as usize] = true;
                                    // The cycle proviso (`reduction.rs`).
                                    expand_fully |= handle(index, outcome) == Child::Seen;
                                }
                            }
                            if expand_fully {
                                for (index, action) in actions.iter().enumerate() {
                                    if !taken[index] {
                                        handle(index as u32, world.apply(bounds, *action));
                                    }
                                }
                            }
                        }
                        next
                    })
                })
                .collect();
            scope.spawn(|| {
                let mut last = Instant::now();
                while !level_done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    if let Some(limit) = options.time_limit
                        && start.elapsed() >= limit
                    {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                    if last.elapsed() >= Duration::from_secs(1) {
                        last = Instant::now();
                        progress(&stats(&shared, depth.load(Ordering::Relaxed)));
                    }
                }
            });
            let chunks = workers
                .into_iter()
                .map(|w| w.join().expect("a worker panicked outside a replica step"))
                .collect();
            level_done.store(true, Ordering::Relaxed);
            chunks
        });
        let found_now = found.lock().map(|f| f.is_some()).unwrap_or(true);
        if shared.stop.load(Ordering::Relaxed) && !found_now {
            timed_out = true;
        }
        frontier = chunks.into_iter().flatten().collect();
        if !frontier.is_empty() {
            depth.fetch_add(1, Ordering::Relaxed);
        }
    }
    let stats = stats(&shared, depth.load(Ordering::Relaxed));
    let found = found.into_inner().ok().flatten();
    let counterexample = found.map(|found| {
        let mut indices = visited.path_to(found.fp);
        indices.extend(found.index);
        let mut actions = options.prefix.clone();
        actions.extend(actions_of(bounds, start_world, &indices));
        Counterexample {
            actions,
            violation: found.violation,
        }
    });
    Report {
        stats,
        complete: counterexample.is_none() && !timed_out && !cut,
        counterexample,
    }
}

fn record(found: &Mutex<Option<Found>>, shared: &Shared, at: Found) {
    let mut slot = found.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(at);
    }
    shared.stop.store(true, Ordering::Relaxed);
}

/// The actions that the indices name, replayed from `world`.
fn actions_of(bounds: &Bounds, mut world: World, indices: &[u32]) -> Vec<Action> {
    let mut actions = Vec::new();
    for &index in indices {
        let action = world.actions(bounds)[index as usize];
        actions.push(action);
        if let Outcome::Next(next) = world.apply(bounds, action) {
            world = *next;
        }
    }
    actions
}

/// One level of the depth-first stack: a state, its actions, the next to try.
struct Frame {
    world: World,
    actions: Vec<Action>,
    next: usize,
}

fn dfs(bounds: &Bounds, options: &Options, progress: &(dyn Fn(&Stats) + Sync)) -> Report {
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut visited: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut stats = Stats::default();
    let initial = World::initial(bounds);
    visited.insert(initial.fingerprint());
    stats.unique = 1;
    let path =
        |stack: &[Frame]| -> Vec<Action> { stack.iter().map(|f| f.actions[f.next - 1]).collect() };
    let live = |world: &World, fp: u64, stats: &mut Stats| -> Result<(), Violation> {
        if !liveness_due(options, fp) {
            return Ok(());
        }
        stats.liveness_checked += 1;
        fair_extension(world, bounds, options.liveness_rounds).map(|_| ())
    };
    if let Err(violation) = live(&initial, initial.fingerprint(), &mut stats) {
        stats.elapsed = start.elapsed();
        return Report {
            stats,
            complete: false,
            counterexample: Some(Counterexample {
                actions: Vec::new(),
                violation,
            }),
        };
    }
    let mut stack = vec![Frame {
        actions: initial.actions(bounds),
        world: initial,
        next: 0,
    }];
    let mut cut = false;
    while let Some(top) = stack.last_mut() {
        if top.next == top.actions.len() {
            stack.pop();
            continue;
        }
        let action = top.actions[top.next];
        top.next += 1;
        stats.explored += 1;
        match top.world.apply(bounds, action) {
            Outcome::OutOfBounds => stats.out_of_bounds += 1,
            Outcome::Violation(violation) => {
                stats.elapsed = start.elapsed();
                return Report {
                    stats,
                    complete: false,
                    counterexample: Some(Counterexample {
                        actions: path(&stack),
                        violation,
                    }),
                };
            }
            Outcome::Next(child) => {
                let fp = child.fingerprint();
                if !visited.insert(fp) {
                    continue;
                }
                stats.unique += 1;
                if let Err(violation) = live(&child, fp, &mut stats) {
                    stats.elapsed = start.elapsed();
                    return Report {
                        stats,
                        complete: false,
                        counterexample: Some(Counterexample {
                            actions: path(&stack),
                            violation,
                        }),
                    };
                }
                if options.max_depth.is_some_and(|max| stack.len() >= max) {
                    cut = true;
                    continue;
                }
                stack.push(Frame {
                    actions: child.actions(bounds),
                    world: *child,
                    next: 0,
                });
                stats.depth = stats.depth.max(stack.len() - 1);
            }
        }
        if stats.explored % 256 == 0 {
            stats.elapsed = start.elapsed();
            if options
                .time_limit
                .is_some_and(|limit| stats.elapsed >= limit)
            {
                return Report {
                    stats,
                    complete: false,
                    counterexample: None,
                };
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress(&stats);
            }
        }
    }
    stats.elapsed = start.elapsed();
    Report {
        stats,
        complete: !cut,
        counterexample: None,
    }
}

/// Random walks (see [`Search::Random`]). A step past a bound is not
/// taken (another action is drawn); a walk ends at its depth or when no
/// action is left. `unique` counts distinct states seen.
fn random_walks(
    bounds: &Bounds,
    options: &Options,
    seed: u64,
    progress: &(dyn Fn(&Stats) + Sync),
) -> Report {
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let limit = options.time_limit.unwrap_or(Duration::from_secs(60));
    let max_depth = options.max_depth.unwrap_or(60);
    let mut rng = riptide_control::rng::Rng::new(seed);
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut stats = Stats::default();
    let initial = World::initial(bounds);
    while start.elapsed() < limit {
        let mut world = initial.clone();
        let mut path = Vec::new();
        'walk: while path.len() < max_depth {
            let mut actions = world.actions(bounds);
            while !actions.is_empty() {
                let pick = weighted_pick(&actions, &mut rng);
                let action = actions.swap_remove(pick);
                stats.explored += 1;
                match world.apply(bounds, action) {
                    Outcome::OutOfBounds => stats.out_of_bounds += 1,
                    Outcome::Violation(violation) => {
                        path.push(action);
                        stats.elapsed = start.elapsed();
                        return Report {
                            stats,
                            complete: false,
                            counterexample: Some(Counterexample {
                                actions: path,
                                violation,
                            }),
                        };
                    }
                    Outcome::Next(next) => {
                        path.push(action);
                        world = *next;
                        let fp = world.fingerprint();
                        if seen.insert(fp) {
                            stats.unique += 1;
                            if liveness_due(options, fp) {
                                stats.liveness_checked += 1;
                                if let Err(violation) =
                                    fair_extension(&world, bounds, options.liveness_rounds)
                                {
                                    stats.elapsed = start.elapsed();
                                    return Report {
                                        stats,
                                        complete: false,
                                        counterexample: Some(Counterexample {
                                            actions: path,
                                            violation,
                                        }),
                                    };
                                }
                            }
                        }
                        stats.depth = stats.depth.max(path.len());
                        continue 'walk;
                    }
                }
            }
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            stats.elapsed = start.elapsed();
            progress(&stats);
        }
    }
    stats.elapsed = start.elapsed();
    Report {
        stats,
        complete: false,
        counterexample: None,
    }
}

/// Draws an action, messages and records eight times as likely as a tick
/// or a crash: a follower's tick starts an election, and a walk that ticks
/// as often as it delivers spends its ballots before anything is chosen.
fn weighted_pick(actions: &[Action], rng: &mut riptide_control::rng::Rng) -> usize {
    let weight = |action: &Action| match action {
        Action::Tick(_) | Action::Crash(_) => 1,
        Action::Client { .. } => 4,
        Action::Host(_) | Action::Deliver(_) | Action::Duplicate(_) => 8,
    };
    let total: u64 = actions.iter().map(weight).sum();
    let mut draw = rng.below(total);
    for (i, action) in actions.iter().enumerate() {
        if draw < weight(action) {
            return i;
        }
        draw -= weight(action);
    }
    actions.len() - 1
}

/// Whether the state `fp` is one the liveness extension runs from.
fn liveness_due(options: &Options, fp: u64) -> bool {
    options.liveness_every != 0 && fp.is_multiple_of(options.liveness_every)
}
