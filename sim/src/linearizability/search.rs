//! The search for a linearization of one key's operations: Wing & Gong's
//! backtracking with Lowe's just-in-time linearization and a cache of visited
//! configurations, as in Porcupine.
//!
//! Completed operations live in a doubly linked list of call and return
//! events in time order. Any operation whose call comes before the first
//! return still in the list may take effect next; taking effect ("lifting")
//! removes its call and return from the list, backtracking puts them back.
//! A configuration is the set of operations that took effect plus the key's
//! value; one seen before is never explored again, which makes the search
//! polynomial for a bounded number of concurrent operations.
//!
//! Operations of unknown outcome (`info`) have no return event: they may take
//! effect at any time after their call, or never. They sit in a second list
//! and are only tried when a completed operation needs their effect (see
//! [`Search::run`]), so that the ones nobody needs cost next to nothing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::model::{ABSENT, Action, KeyOp, ValueId};
use super::supply::Supply;
use crate::history::Time;

/// How far one search may go before giving up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_states: u64,
    pub max_cache_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Linearizable,
    NotLinearizable,
    OutOfBudget,
}

#[derive(Debug, Clone)]
pub(super) struct SearchResult {
    pub decision: Decision,
    /// Configurations explored (cache entries).
    pub states: u64,
    /// Only when asked for: the longest sequence of operations (indices into
    /// the searched slice) that the search could put in a valid order.
    pub longest: Vec<usize>,
}

/// Searches a linearization of `ops`, all on one key that starts absent.
pub(super) fn search(ops: &[KeyOp], limits: Limits, track_longest: bool) -> SearchResult {
    let mut search = Search::new(prepare(ops), limits, track_longest);
    let decision = search.run();
    SearchResult {
        decision,
        states: search.cache.len() as u64,
        longest: search
            .longest
            .iter()
            .map(|&op| search.origin[op as usize])
            .collect(),
    }
}

/// The operations that can matter, each with its index in `ops`, in call
/// order, with every value that nothing observes (no get returned it, no cas
/// expected it) renamed to one: such values are indistinguishable.
///
/// An `info` operation called after every completed operation returned can
/// always go last, so it never matters. Neither does an `info` write of a value
/// that nothing observes as long as no cas failed: dropping it from any
/// linearization only changes the value seen by operations up to the next
/// write, and none of those can tell.
fn prepare(ops: &[KeyOp]) -> Vec<(usize, KeyOp)> {
    let Some(last_return) = ops.iter().filter_map(|op| op.ret).max() else {
        return Vec::new();
    };
    let mut observed = vec![false; 1];
    let mut some_cas_failed = false;
    for op in ops {
        let value = match op.action {
            Action::Read(value) => value,
            Action::Write(_) => continue,
            Action::Cas {
                expected, swapped, ..
            } => {
                some_cas_failed |= swapped == Some(false);
                expected
            }
        };
        let index = value as usize;
        if observed.len() <= index {
            observed.resize(index + 1, false);
        }
        observed[index] = true;
    }
    let is_observed =
        |value: ValueId| value == ABSENT || observed.get(value as usize) == Some(&true);
    let unseen = ops
        .iter()
        .flat_map(|op| op.action.values())
        .max()
        .unwrap_or(ABSENT)
        + 1;
    let matters = |op: &KeyOp| {
        !op.is_info()
            || (op.call <= last_return
                && (some_cas_failed || op.action.written().is_none_or(is_observed)))
    };
    let mut relevant: Vec<(usize, KeyOp)> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matters(op))
        .map(|(i, &op)| {
            let action = op
                .action
                .renaming_writes(|value| if is_observed(value) { value } else { unseen });
            (i, KeyOp { action, ..op })
        })
        .collect();
    relevant.sort_by_key(|&(i, op)| (op.call, i));
    relevant
}

/// The end of a linked list, and "no such node".
const NIL: u32 = u32::MAX;

/// Doubly linked lists over nodes `1..`, node 0 being the head, from which
/// nodes are removed and put back in last-out-first-in order (dancing links).
#[derive(Debug)]
struct Links {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl Links {
    /// A list of nodes `1..=len` in order.
    fn new(len: usize) -> Links {
        let next = (0..=len)
            .map(|node| if node == len { NIL } else { node as u32 + 1 })
            .collect();
        let prev = (0..=len)
            .map(|node| node.saturating_sub(1) as u32)
            .collect();
        Links { next, prev }
    }

    fn first(&self) -> u32 {
        self.next[0]
    }

    fn next(&self, node: u32) -> u32 {
        self.next[node as usize]
    }

    fn unlink(&mut self, node: u32) {
        let (prev, next) = (self.prev[node as usize], self.next[node as usize]);
        self.next[prev as usize] = next;
        if next != NIL {
            self.prev[next as usize] = prev;
        }
    }

    fn relink(&mut self, node: u32) {
        let (prev, next) = (self.prev[node as usize], self.next[node as usize]);
        self.next[prev as usize] = node;
        if next != NIL {
            self.prev[next as usize] = node;
        }
    }
}

/// A call or return of a completed operation.
#[derive(Debug, Clone, Copy)]
struct Event {
    time: Time,
    is_return: bool,
    op: u32,
}

/// Where the search is at the current node.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    /// Just arrived: look for a read-only operation to take first.
    Fresh,
    /// At an event of the completed operations' list.
    Completed(u32),
    /// At a node of the `info` list; only calls up to `limit` are candidates.
    Info { node: u32, limit: Time },
    /// Every candidate was tried: take back the last operation.
    Exhausted,
}

/// No run of `info` operations is open (see [`Search::run`]).
const NO_RUN: u32 = u32::MAX;

/// One operation that took effect, and what to restore when it is taken back.
#[derive(Debug, Clone, Copy)]
struct Frame {
    op: u32,
    prev_state: ValueId,
    prev_run: u32,
    prev_low_word: u32,
    /// The highest completed and `info` operations that took effect, this
    /// one included (`NIL`: none).
    max_completed: u32,
    max_info: u32,
    /// Taken as the only candidate worth trying at its node.
    forced: bool,
}

enum Lift {
    Lifted,
    Rejected,
    OutOfBudget,
}

struct Search {
    /// The relevant operations, completed ones first, each kind in call
    /// order; "op" below is an index here.
    ops: Vec<KeyOp>,
    origin: Vec<usize>,
    /// Events of completed operations at nodes `1..`.
    events: Vec<Event>,
    event_links: Links,
    call_event: Vec<u32>,
    return_event: Vec<u32>,
    /// Info operations at nodes `1..`.
    info_ops: Vec<u32>,
    info_links: Links,
    info_node: Vec<u32>,
    /// The `info` operation called last before each with the same action.
    twin: Vec<u32>,

    /// The configuration: which operations took effect, the key's value, and
    /// the value before the open run of `info` operations (or [`NO_RUN`]).
    /// Completed operations take the words of `lifted` before `info_words`,
    /// `info` ones the words from there, so that the `info` operations that
    /// never take effect do not keep every configuration long.
    lifted: Vec<u64>,
    info_words: usize,
    state: ValueId,
    run: u32,
    /// Every word of `lifted` below this one is all ones.
    low_word: u32,
    set_hash: u64,
    zobrist: Vec<u64>,
    stack: Vec<Frame>,
    lifted_completed: usize,
    completed: usize,

    supply: Supply,
    cache: Cache,
    limits: Limits,
    track_longest: bool,
    longest: Vec<u32>,
}

impl Search {
    fn new(relevant: Vec<(usize, KeyOp)>, limits: Limits, track_longest: bool) -> Search {
        let (mut ordered, info): (Vec<_>, Vec<_>) =
            relevant.into_iter().partition(|(_, op)| !op.is_info());
        let completed = ordered.len();
        ordered.extend(info);
        let (origin, ops_here): (Vec<usize>, Vec<KeyOp>) = ordered.into_iter().unzip();
        let mut events = vec![Event {
            time: 0,
            is_return: false,
            op: NIL,
        }];
        let mut info_ops = vec![NIL];
        for (op, key_op) in ops_here.iter().enumerate() {
            let op = op as u32;
            match key_op.ret {
                Some(ret) => {
                    events.push(Event {
                        time: key_op.call,
                        is_return: false,
                        op,
                    });
                    events.push(Event {
                        time: ret,
                        is_return: true,
                        op,
                    });
                }
                None => info_ops.push(op),
            }
        }
        // At equal times calls go first: operations that touch at an instant
        // count as concurrent, so the checker never blames a clock's coarseness.
        events[1..].sort_by_key(|event| (event.time, event.is_return, event.op));

        let len = ops_here.len();
        let mut call_event = vec![NIL; len];
        let mut return_event = vec![NIL; len];
        for (node, event) in events.iter().enumerate().skip(1) {
            let slot = if event.is_return {
                &mut return_event
            } else {
                &mut call_event
            };
            slot[event.op as usize] = node as u32;
        }
        let mut info_node = vec![NIL; len];
        let mut twin = vec![NIL; len];
        let mut last_with_action = HashMap::new();
        for (node, &op) in info_ops.iter().enumerate().skip(1) {
            info_node[op as usize] = node as u32;
            if let Some(earlier) = last_with_action.insert(ops_here[op as usize].action, op) {
                twin[op as usize] = earlier;
            }
        }
        // One spare completed word, so that some word there is never all ones.
        let info_words = completed / 64 + 1;
        Search {
            supply: Supply::new(&ops_here, ABSENT),
            event_links: Links::new(events.len() - 1),
            info_links: Links::new(info_ops.len() - 1),
            events,
            call_event,
            return_event,
            info_ops,
            info_node,
            twin,
            lifted: vec![0; info_words + (len - completed).div_ceil(64)],
            info_words,
            state: ABSENT,
            run: NO_RUN,
            low_word: 0,
            set_hash: 0,
            zobrist: (0..len as u64)
                .map(|i| splitmix64(i ^ 0x6c69_6e65_6172))
                .collect(),
            stack: Vec::new(),
            lifted_completed: 0,
            completed,
            cache: Cache::default(),
            limits,
            track_longest,
            longest: Vec::new(),
            origin,
            ops: ops_here,
        }
    }

    /// The depth-first search. Besides the cache, the merged values of
    /// [`prepare`], the stranded needs of [`Supply`] and the twins of
    /// [`Search::twin_waits`], two reductions keep it small; each only skips
    /// orders for which an equivalent order is explored.
    ///
    /// A completed read-only candidate (a get of the current value, a failed
    /// cas whose expected value is not the current one) may always take
    /// effect first: it changes nothing, and nothing has to precede it. When
    /// there is one, it is the only candidate tried at its node.
    ///
    /// `info` operations only take effect in runs that some completed
    /// operation needs: any linearization can be rewritten so that every run
    /// of consecutive `info` operations starts with at most one blind write
    /// (an earlier one would be overwritten: drop it), continues with cas that
    /// swap (one that does not changes nothing: drop it), and is followed by a
    /// completed operation that is wrong at the value before the run (one
    /// that is right there can move before the run, or overwrites it).
    /// Runs at the end are dropped. So a run is only started or extended when
    /// some completed candidate is wrong at the current value, and the run's
    /// start value is part of the configuration.
    fn run(&mut self) -> Decision {
        if self.supply.is_dead() {
            return Decision::NotLinearizable;
        }
        let mut cursor = Cursor::Fresh;
        loop {
            if self.lifted_completed == self.completed {
                return Decision::Linearizable;
            }
            let (tried, next) = match cursor {
                Cursor::Fresh => match self.read_only_candidate() {
                    Some(op) => (self.try_lift(op, true), Cursor::Exhausted),
                    None => (Lift::Rejected, Cursor::Completed(self.event_links.first())),
                },
                Cursor::Completed(node) if node != NIL && !self.events[node as usize].is_return => {
                    let op = self.events[node as usize].op;
                    let next = Cursor::Completed(self.event_links.next(node));
                    if self.may_end_run(op) {
                        (self.try_lift(op, false), next)
                    } else {
                        (Lift::Rejected, next)
                    }
                }
                Cursor::Completed(node) if self.some_candidate_needs_a_run() => (
                    Lift::Rejected,
                    Cursor::Info {
                        node: self.info_links.first(),
                        limit: self.event_time(node),
                    },
                ),
                Cursor::Info { node, limit }
                    if node != NIL
                        && self.ops[self.info_ops[node as usize] as usize].call <= limit =>
                {
                    let op = self.info_ops[node as usize];
                    let next = Cursor::Info {
                        node: self.info_links.next(node),
                        limit,
                    };
                    if self.may_join_run(op) && !self.twin_waits(op) {
                        (self.try_lift(op, false), next)
                    } else {
                        (Lift::Rejected, next)
                    }
                }
                Cursor::Completed(_) | Cursor::Info { .. } => (Lift::Rejected, Cursor::Exhausted),
                Cursor::Exhausted => match self.backtrack() {
                    Some(resume) => (Lift::Rejected, resume),
                    None => return Decision::NotLinearizable,
                },
            };
            cursor = match tried {
                Lift::Lifted => Cursor::Fresh,
                Lift::Rejected => next,
                Lift::OutOfBudget => return Decision::OutOfBudget,
            };
        }
    }

    /// A completed candidate that is read-only at the current value, if no
    /// run is open (in a run, the next completed operation must need it).
    fn read_only_candidate(&self) -> Option<u32> {
        if self.run != NO_RUN {
            return None;
        }
        self.completed_candidates().find(|&op| {
            let action = self.ops[op as usize].action;
            action.reads_only() && action.step(self.state).is_some()
        })
    }

    /// Whether a completed `op` may follow the open run, if any: only if it
    /// would be wrong at the value before the run.
    fn may_end_run(&self, op: u32) -> bool {
        self.run == NO_RUN || self.ops[op as usize].action.step(self.run).is_none()
    }

    /// Whether an `info` op may start or extend a run: a blind write only
    /// starts one, a cas only if it swaps.
    fn may_join_run(&self, op: u32) -> bool {
        match self.ops[op as usize].action {
            Action::Write(_) => self.run == NO_RUN,
            Action::Cas { expected, .. } => expected == self.state,
            Action::Read(_) => false,
        }
    }

    /// Whether an earlier `info` operation with the same action can still
    /// take effect: then `op` is not worth trying, since any order with `op`
    /// now and the twin later or never works as well with the two swapped.
    fn twin_waits(&self, op: u32) -> bool {
        let twin = self.twin[op as usize];
        if twin == NIL {
            return false;
        }
        let (word, bit) = self.bit(twin);
        self.lifted[word] & bit == 0
    }

    fn some_candidate_needs_a_run(&self) -> bool {
        self.completed_candidates()
            .any(|op| self.ops[op as usize].action.step(self.state).is_none())
    }

    /// The completed operations that may take effect next.
    fn completed_candidates(&self) -> impl Iterator<Item = u32> + '_ {
        let mut node = self.event_links.first();
        std::iter::from_fn(move || {
            if node == NIL || self.events[node as usize].is_return {
                return None;
            }
            let op = self.events[node as usize].op;
            node = self.event_links.next(node);
            Some(op)
        })
    }

    /// Takes back operations until one whose node has candidates left, and
    /// returns where to resume there; `None` when every order failed.
    fn backtrack(&mut self) -> Option<Cursor> {
        loop {
            let frame = self.stack.pop()?;
            self.take_back(frame);
            if frame.forced {
                continue;
            }
            let op = frame.op as usize;
            return Some(match self.ops[op].ret {
                Some(_) => Cursor::Completed(self.event_links.next(self.call_event[op])),
                None => Cursor::Info {
                    node: self.info_links.next(self.info_node[op]),
                    limit: self.event_time(self.first_return()),
                },
            });
        }
    }

    /// Lets `op` take effect next, unless its result does not fit or the
    /// configuration it leads to was explored before.
    fn try_lift(&mut self, op: u32, forced: bool) -> Lift {
        let key_op = self.ops[op as usize];
        let Some(next_state) = key_op.action.step(self.state) else {
            return Lift::Rejected;
        };
        if self.supply.strands(&key_op, self.state, next_state) {
            return Lift::Rejected;
        }
        let next_run = match key_op.ret {
            Some(_) => NO_RUN,
            None if self.run == NO_RUN => self.state,
            None => self.run,
        };
        let (word, bit) = self.bit(op);
        self.lifted[word] |= bit;
        let mut low_word = self.low_word as usize;
        while self.lifted[low_word] == u64::MAX {
            low_word += 1;
        }
        let (mut max_completed, mut max_info) = self
            .stack
            .last()
            .map_or((NIL, NIL), |frame| (frame.max_completed, frame.max_info));
        let highest = if key_op.is_info() {
            &mut max_info
        } else {
            &mut max_completed
        };
        *highest = if *highest == NIL {
            op
        } else {
            op.max(*highest)
        };
        let completed_end = match max_completed {
            NIL => low_word + 1,
            op => (self.bit(op).0 + 1).max(low_word + 1),
        };
        let info_end = match max_info {
            NIL => self.info_words,
            op => self.bit(op).0 + 1,
        };
        let set_hash = self.set_hash ^ self.zobrist[op as usize];
        let configuration = Configuration {
            hash: set_hash ^ splitmix64(u64::from(next_state) | u64::from(next_run) << 32),
            low_word: low_word as u32,
            completed: &self.lifted[low_word..completed_end],
            info: &self.lifted[self.info_words..info_end],
            state: next_state,
            run: next_run,
        };
        if self.cache.contains(&configuration) {
            self.lifted[word] &= !bit;
            return Lift::Rejected;
        }
        if self.cache.len() as u64 >= self.limits.max_states
            || self.cache.bytes() >= self.limits.max_cache_bytes
        {
            self.lifted[word] &= !bit;
            return Lift::OutOfBudget;
        }
        self.cache.insert(&configuration);
        self.stack.push(Frame {
            op,
            prev_state: self.state,
            prev_run: self.run,
            prev_low_word: self.low_word,
            max_completed,
            max_info,
            forced,
        });
        self.supply.take(&key_op, self.state, next_state);
        self.state = next_state;
        self.run = next_run;
        self.low_word = low_word as u32;
        self.set_hash = set_hash;
        match key_op.ret {
            Some(_) => {
                self.event_links.unlink(self.call_event[op as usize]);
                self.event_links.unlink(self.return_event[op as usize]);
                self.lifted_completed += 1;
            }
            None => self.info_links.unlink(self.info_node[op as usize]),
        }
        if self.track_longest && self.stack.len() > self.longest.len() {
            self.longest = self.stack.iter().map(|frame| frame.op).collect();
        }
        Lift::Lifted
    }

    fn take_back(&mut self, frame: Frame) {
        let op = frame.op as usize;
        match self.ops[op].ret {
            Some(_) => {
                self.event_links.relink(self.return_event[op]);
                self.event_links.relink(self.call_event[op]);
                self.lifted_completed -= 1;
            }
            None => self.info_links.relink(self.info_node[op]),
        }
        let (word, bit) = self.bit(frame.op);
        self.lifted[word] &= !bit;
        self.set_hash ^= self.zobrist[op];
        self.supply
            .give_back(&self.ops[op], self.state, frame.prev_state);
        self.state = frame.prev_state;
        self.run = frame.prev_run;
        self.low_word = frame.prev_low_word;
    }

    /// Where `op` is in `lifted`: its word and bit.
    fn bit(&self, op: u32) -> (usize, u64) {
        let completed = self.completed as u32;
        let (word, index) = match op.checked_sub(completed) {
            Some(info) => (self.info_words + info as usize / 64, info),
            None => (op as usize / 64, op),
        };
        (word, 1 << (index % 64))
    }

    /// The first return event still in the list (`NIL` if none).
    fn first_return(&self) -> u32 {
        let mut node = self.event_links.first();
        while node != NIL && !self.events[node as usize].is_return {
            node = self.event_links.next(node);
        }
        node
    }

    /// Until when `info` operations may be called to be candidates at `node`.
    fn event_time(&self, node: u32) -> Time {
        if node == NIL {
            Time::MAX
        } else {
            self.events[node as usize].time
        }
    }
}

/// A configuration as the cache stores it: the words of the lifted completed
/// operations from the first one that is not all ones up to the highest one,
/// and the words of the lifted `info` operations up to the highest one.
struct Configuration<'a> {
    hash: u64,
    low_word: u32,
    completed: &'a [u64],
    info: &'a [u64],
    state: ValueId,
    run: u32,
}

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    /// Where its completed words start in `Cache::words`; its `info` words follow.
    start: usize,
    completed_len: u32,
    info_len: u32,
    low_word: u32,
    state: ValueId,
    run: u32,
    /// The next entry with the same hash.
    next: u32,
}

/// The set of explored configurations, keyed by their Zobrist hash.
#[derive(Default)]
struct Cache {
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    entries: Vec<CacheEntry>,
    words: Vec<u64>,
}

impl Cache {
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// An estimate of the memory the cache holds.
    fn bytes(&self) -> u64 {
        let entries = self.entries.capacity() * std::mem::size_of::<CacheEntry>();
        let words = self.words.capacity() * std::mem::size_of::<u64>();
        let heads = self.heads.capacity() * (std::mem::size_of::<(u64, u32)>() + 1);
        (entries + words + heads) as u64
    }

    fn contains(&self, configuration: &Configuration<'_>) -> bool {
        let mut index = self.heads.get(&configuration.hash).copied().unwrap_or(NIL);
        while index != NIL {
            let entry = &self.entries[index as usize];
            if entry.state == configuration.state
                && entry.run == configuration.run
                && entry.low_word == configuration.low_word
                && entry.words(&self.words) == (configuration.completed, configuration.info)
            {
                return true;
            }
            index = entry.next;
        }
        false
    }

    fn insert(&mut self, configuration: &Configuration<'_>) {
        let index = self.entries.len() as u32;
        let next = self.heads.insert(configuration.hash, index).unwrap_or(NIL);
        self.entries.push(CacheEntry {
            start: self.words.len(),
            completed_len: configuration.completed.len() as u32,
            info_len: configuration.info.len() as u32,
            low_word: configuration.low_word,
            state: configuration.state,
            run: configuration.run,
            next,
        });
        self.words.extend_from_slice(configuration.completed);
        self.words.extend_from_slice(configuration.info);
    }
}

impl CacheEntry {
    /// Its completed and `info` words.
    fn words<'a>(&self, words: &'a [u64]) -> (&'a [u64], &'a [u64]) {
        let middle = self.start + self.completed_len as usize;
        (
            &words[self.start..middle],
            &words[middle..middle + self.info_len as usize],
        )
    }
}

/// Keys of the cache are already uniformly distributed hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// SplitMix64's output function: a bijective mix of 64 bits.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
