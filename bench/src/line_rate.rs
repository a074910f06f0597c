//! Line-rate injection on the leader's host, as the Waverunner evaluation
//! measures a SmartNIC: synthetic entries pushed straight into the leader
//! NIC's host-to-card stream (`Submit` records through the driver and its
//! XDMA H2C ring), back to back as far as the window allows, and per-entry
//! commit latency and entries per second taken from the card's own commit
//! records (`Committed` on the card-to-host stream). No client, no control
//! plane: what is measured is the host → card → followers → card → host
//! path.
//!
//! Here the three NICs are simulated boards: the driver over the fake XDMA
//! board, with the behavioural model or the RTL (`riptide_core` in RustHDL)
//! as each card, frames moved between their network ports in this process.
//! Every figure is this one thread's wall time, so it measures the driver,
//! the fake engines and the card simulation, not a board.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::SimulatedBoard;
use riptide_driver::{NicError, SimulatedNic};
use riptide_wire::Ballot;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};

use crate::latency::Latencies;

const REPLICAS: u8 = 3;
const GROUP: u16 = 1;
const BALLOT: Ballot = Ballot::new(1, 0);

/// The card behind each simulated board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// The behavioural model (`ModelNic`).
    Model,
    /// `riptide_core` in the RustHDL simulator (`RtlCard`).
    Rtl,
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Card::Model => "model",
            Card::Rtl => "RTL",
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LineRateOptions {
    pub card: Card,
    /// Entries to inject.
    pub entries: u64,
    /// Bytes of each entry's value.
    pub payload: usize,
    /// Entries in flight past the commit at most (the card's window).
    pub window: u64,
}

/// A finished run.
pub struct LineRate {
    pub options: LineRateOptions,
    /// `Submit` records pushed into the leader's H2C stream.
    pub submitted: u64,
    /// `Accepted` records the leader's card returned, one per entry, in slot
    /// order.
    pub accepted: u64,
    /// Entries the leader's `Committed` records cover.
    pub committed: u64,
    /// `Committed` records (one may cover several entries).
    pub commit_records: u64,
    pub elapsed: Duration,
    /// Per entry: pushed into the H2C stream → the first `Committed` record
    /// covering its slot taken from the C2H stream, µs.
    pub latencies: Latencies,
}

impl LineRate {
    pub fn run(options: LineRateOptions) -> anyhow::Result<LineRate> {
        if options.window == 0 {
            bail!("the window must be at least one entry");
        }
        let peers: Vec<_> = (0..REPLICAS).map(ModelNic::default_endpoint).collect();
        let mut nics: Vec<Box<dyn SimulatedNic>> = Vec::new();
        for id in 0..REPLICAS {
            let nic: Box<dyn SimulatedNic> = match options.card {
                Card::Model => {
                    let card = ModelNic::with_peers(id, GROUP, peers.clone(), ModelBugs::default());
                    Box::new(SimulatedBoard::open(card, id, GROUP, &peers)?)
                }
                Card::Rtl => Box::new(riptide_hw::card::rtl_board(
                    &format!("line-rate-{id}"),
                    id,
                    GROUP,
                    peers.clone(),
                )?),
            };
            nics.push(nic);
        }
        for (id, nic) in nics.iter_mut().enumerate() {
            let role = if id == 0 {
                NicRole::Leader
            } else {
                NicRole::Follower
            };
            nic.command(NicCommand::Configure(NicConfig {
                role,
                ballot: BALLOT,
                next_slot: 1,
                commit: 0,
                replicas: REPLICAS,
                window: options.window,
                lives: Default::default(),
            }))?;
        }
        Injection::new(options).run(&mut nics)
    }

    pub fn entries_per_second(&self) -> f64 {
        self.committed as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// The leader's host side of a run: what was pushed, when, and what came
/// back.
struct Injection {
    options: LineRateOptions,
    value: Vec<u8>,
    pushed_at: VecDeque<Instant>,
    submitted: u64,
    accepted: u64,
    committed: u64,
    commit_records: u64,
    latencies: Latencies,
}

impl Injection {
    fn new(options: LineRateOptions) -> Injection {
        Injection {
            options,
            value: vec![0xA5; options.payload],
            pushed_at: VecDeque::new(),
            submitted: 0,
            accepted: 0,
            committed: 0,
            commit_records: 0,
            latencies: Latencies::new(),
        }
    }

    fn run(mut self, nics: &mut [Box<dyn SimulatedNic>]) -> anyhow::Result<LineRate> {
        let start = Instant::now();
        while self.committed < self.options.entries {
            let before = (self.submitted, self.committed);
            self.push(&mut *nics[0])?;
            move_frames(nics);
            for follower in &mut nics[1..] {
                while follower.poll_host()?.is_some() {}
            }
            self.take_records(&mut *nics[0])?;
            if (self.submitted, self.committed) == before {
                bail!(
                    "stalled: {} entries submitted, {} accepted, {} committed",
                    self.submitted,
                    self.accepted,
                    self.committed
                );
            }
        }
        Ok(LineRate {
            options: self.options,
            submitted: self.submitted,
            accepted: self.accepted,
            committed: self.committed,
            commit_records: self.commit_records,
            elapsed: start.elapsed(),
            latencies: self.latencies,
        })
    }

    /// Fills the window with new entries.
    fn push(&mut self, leader: &mut dyn SimulatedNic) -> Result<(), NicError> {
        while self.submitted < self.options.entries
            && self.submitted - self.committed < self.options.window
        {
            self.pushed_at.push_back(Instant::now());
            leader.command(NicCommand::Submit {
                value: self.value.clone(),
            })?;
            self.submitted += 1;
        }
        Ok(())
    }

    /// The leader's card-to-host records: each entry's slot, then commits.
    fn take_records(&mut self, leader: &mut dyn SimulatedNic) -> anyhow::Result<()> {
        while let Some(record) = leader.poll_host()? {
            match record {
                CardToHost::Event(NicEvent::Accepted { slot, .. }) => {
                    if slot != self.accepted + 1 {
                        bail!("entry {} was given slot {slot}", self.accepted + 1);
                    }
                    self.accepted += 1;
                }
                CardToHost::Event(NicEvent::Committed { commit, .. })
                    if commit > self.committed =>
                {
                    let now = Instant::now();
                    let newly = commit - self.committed;
                    for _ in 0..newly {
                        let pushed = self
                            .pushed_at
                            .pop_front()
                            .context("a commit covers an entry never submitted")?;
                        self.latencies.record((now - pushed).as_micros() as u64);
                    }
                    self.committed = commit;
                    self.commit_records += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Moves frames between the NICs' network ports until none is left, as the
/// network between three boards would.
fn move_frames(nics: &mut [Box<dyn SimulatedNic>]) {
    loop {
        let mut moved = false;
        for from in 0..nics.len() {
            while let Some((to, frame)) = nics[from].poll_transmit() {
                if let Some(nic) = nics.get_mut(usize::from(to)) {
                    nic.receive(&frame);
                }
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
}

impl fmt::Display for LineRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "backend: line-rate injection on the leader's host, {REPLICAS} simulated boards \
             (driver -> fake XDMA -> {} card), window {}",
            o.card, o.window
        )?;
        writeln!(
            f,
            "entries: {} submitted, {} accepted records, {} committed in {} commit records, \
             {} B values",
            self.submitted, self.accepted, self.committed, self.commit_records, o.payload
        )?;
        writeln!(
            f,
            "throughput: {:.0} entries/s ({:.3} s wall time, one thread simulating all three boards)",
            self.entries_per_second(),
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "commit latency (h2c push -> Committed record): {}",
            self.latencies
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(card: Card, entries: u64, window: u64) {
        let run = LineRate::run(LineRateOptions {
            card,
            entries,
            payload: 16,
            window,
        })
        .unwrap();
        assert_eq!(run.submitted, entries);
        assert_eq!(run.accepted, entries, "one Accepted record per entry");
        assert_eq!(run.committed, entries, "every entry committed");
        assert_eq!(run.latencies.count(), entries, "one latency per entry");
        assert!(run.commit_records >= entries.div_ceil(window));
        assert!(run.commit_records <= entries);
        let text = run.to_string();
        assert!(text.contains("entries/s"), "{text}");
        assert!(text.contains("p99"), "{text}");
    }

    #[test]
    fn every_injected_entry_is_accepted_and_committed_once_on_model_cards() {
        check(Card::Model, 2_000, 64);
        check(Card::Model, 100, 1);
    }

    #[test]
    fn every_injected_entry_is_accepted_and_committed_once_on_rtl_cards() {
        check(Card::Rtl, 40, 16);
    }
}
