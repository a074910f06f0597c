//! RTL figures from the RustHDL simulation of `riptide_core` (and yosys for
//! resources and register-to-register paths, `crate::paths`), for `cargo
//! bench -p riptide-hw` and `riptide bench --backend rtl`: throughput,
//! latency, resources, simulator speed, as a table, then the path report.
//!
//! Throughput: back-to-back minimum-size frames (74 bytes = 2 beats of 64
//! bytes, no FCS, preamble or gap on the AXI4-Stream) on the receive stream,
//! every output always ready. Latency: from the cycle a frame's first beat
//! is on net_rx to the cycle the answer's first beat is on net_tx / c2h.

use crate::paths::{self, Analysis};
use crate::quorum::WINDOW_SLOTS;
use crate::sim::RtlNic;
use riptide_driver::model::ModelNic;
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{NicCommand, NicConfig, NicRole};
use riptide_wire::regs::{Counter, MAX_REPLICAS};
use riptide_wire::{Ballot, Message};
use std::time::Instant;

/// The 100G CMAC's clock, at which cycles are turned into nanoseconds.
pub const CLOCK_MHZ: f64 = 322.265_625;
const GROUP: u16 = 7;

#[derive(Debug, Clone)]
pub struct Options {
    /// Back-to-back frames per throughput run (the leader's are rounded
    /// down to whole windows, at least one).
    pub frames: u64,
    /// Synthesize with yosys for resources and the path report (minutes).
    pub yosys: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frames: 400,
            yosys: true,
        }
    }
}

/// One figure of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// The register-to-register path report, when yosys ran.
    pub paths: Option<Analysis>,
}

/// Worst paths the report lists.
pub const WORST_PATHS: usize = 12;

impl Report {
    /// The table, in markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("| figure (clock {CLOCK_MHZ} MHz) | value |\n|---|---|\n");
        for row in &self.rows {
            out.push_str(&format!("| {} | {} |\n", row.what, row.value));
        }
        if let Some(paths) = &self.paths {
            out.push('\n');
            out.push_str(&paths.markdown(WORST_PATHS));
        }
        out
    }

    fn push(&mut self, what: &'static str, value: String) {
        self.rows.push(Row { what, value });
    }
}

/// Every figure of the table.
pub fn run(options: &Options) -> Report {
    let mut report = Report::default();
    let follower = follower(&mut report, options.frames.max(1));
    let leader = leader(&mut report, options.frames);
    report.push(
        "simulator speed (RustHDL, hand-stepped, whole core)",
        format!(
            "{:.0} cycles/s",
            (follower.cycles + leader.cycles) as f64 / (follower.secs + leader.secs)
        ),
    );
    if options.yosys {
        resources(&mut report);
    }
    report
}

/// Simulated cycles and the wall time they took.
struct SimTime {
    cycles: u64,
    secs: f64,
}

fn peers(n: u8) -> Vec<Endpoint> {
    (0..n).map(ModelNic::default_endpoint).collect()
}

fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame(GROUP, from, to, message)
}

fn nic(id: u8, role: NicRole, ballot: Ballot) -> RtlNic {
    let mut nic = RtlNic::new("bench", id, GROUP, peers(3));
    nic.command(NicCommand::Configure(NicConfig {
        role,
        ballot,
        next_slot: 1,
        commit: 0,
        replicas: 3,
        window: WINDOW_SLOTS as u64,
        lives: [0; MAX_REPLICAS],
    }));
    nic
}

fn ns(cycles: f64) -> f64 {
    cycles * 1000.0 / CLOCK_MHZ
}

/// Back-to-back minimum-size ACCEPTs at a follower.
fn follower(report: &mut Report, frames: u64) -> SimTime {
    let ballot = Ballot::new(2, 0);
    let mut nic = nic(1, NicRole::Follower, ballot);
    let accept = |slot| {
        frame(
            0,
            1,
            Message::Accept {
                ballot,
                slot,
                commit: 0,
                value: vec![],
            },
        )
    };
    // Latency of one frame on an idle core.
    nic.receive_back_to_back(&accept(1));
    nic.drain();
    let t = nic.timing().clone();
    let to_ack = t.tx[0].0 - t.rx[0].0;
    let to_host = t.c2h[0].0 - t.rx[0].0;
    let start_cycles = nic.cycles();
    let started = Instant::now();
    for slot in 2..2 + frames {
        nic.receive_back_to_back(&accept(slot));
    }
    nic.drain();
    let time = SimTime {
        cycles: nic.cycles() - start_cycles,
        secs: started.elapsed().as_secs_f64(),
    };
    let t = nic.timing().clone();
    let rx = &t.rx[1..];
    let tx = &t.tx[1..];
    let in_cycles = (rx.last().expect("frames").1 - rx[0].0 + 1) as f64;
    let out_cycles = tx.last().map_or(1, |last| last.1 - tx[0].0 + 1) as f64;
    let accepted = u64::from(nic.counter(Counter::Accepted));
    let dropped = u64::from(nic.counter(Counter::DropOverflow));
    report.push(
        "follower: ACCEPT (74 B) beats/cycle in, back to back",
        format!("{:.3}", 2.0 * frames as f64 / in_cycles),
    );
    report.push(
        "follower: ACCEPTED frames/cycle out",
        format!(
            "{:.3} ({} of {frames} accepted, {dropped} dropped)",
            tx.len() as f64 / out_cycles,
            accepted - 1
        ),
    );
    report.push(
        "follower: RX first beat to ACCEPTED first beat",
        format!("{to_ack} cycles = {:.1} ns", ns(to_ack as f64)),
    );
    report.push(
        "follower: RX first beat to Accepted record first beat (c2h)",
        format!("{to_host} cycles = {:.1} ns", ns(to_host as f64)),
    );
    time
}

/// Back-to-back ACCEPTEDs at a leader, a full window at a time.
fn leader(report: &mut Report, frames: u64) -> SimTime {
    let window = WINDOW_SLOTS as u64;
    let ballot = Ballot::new(2, 0);
    let mut nic = nic(0, NicRole::Leader, ballot);
    let ack = |from, slot| frame(from, 0, Message::Accepted { ballot, slot });
    let mut time = SimTime {
        cycles: 0,
        secs: 0.0,
    };
    let mut in_cycles = 0.0;
    let mut acks = 0u64;
    let mut latency = vec![];
    for round in 0..(frames / window).max(1) {
        for _ in 0..window {
            nic.command(NicCommand::Submit { value: vec![] });
        }
        let first = round * window + 1;
        let rx_before = nic.timing().rx.len();
        let c2h_before = nic.timing().c2h.len();
        let cycles = nic.cycles();
        let started = Instant::now();
        // With three replicas each ack (plus the leader's own acceptance) is
        // a majority: every ack commits one slot.
        for slot in first..first + window {
            nic.receive_back_to_back(&ack(2, slot));
        }
        nic.drain();
        time.cycles += nic.cycles() - cycles;
        time.secs += started.elapsed().as_secs_f64();
        let t = nic.timing();
        let rx = &t.rx[rx_before..];
        in_cycles += (rx.last().expect("acks").1 - rx[0].0 + 1) as f64;
        acks += rx.len() as u64;
        // The last ack's last beat to the last Committed record's first beat.
        let commit = t.c2h[c2h_before..].last().expect("commit record").0;
        latency.push(commit - rx.last().expect("acks").1);
    }
    let counted = u64::from(nic.counter(Counter::AckCounted));
    let lat = latency.iter().sum::<u64>() as f64 / latency.len() as f64;
    report.push(
        "leader: ACCEPTED (74 B) beats/cycle in, back to back",
        format!(
            "{:.3} ({counted} of {acks} counted, window {window})",
            2.0 * acks as f64 / in_cycles
        ),
    );
    report.push(
        "leader: last ACCEPTED last beat to Committed record first beat",
        format!("{lat:.1} cycles = {:.1} ns", ns(lat)),
    );
    time
}

/// yosys resource counts and the path report, from one flattened synthesis.
fn resources(report: &mut Report) {
    let dir = std::env::temp_dir().join(format!("riptide-hw-bench-{}", std::process::id()));
    let synthesis = match paths::synthesize(&dir) {
        Ok(synthesis) => synthesis,
        Err(why) => {
            let first = why.lines().next().unwrap_or("").to_string();
            report.push(
                "yosys synth_xilinx -family xcup",
                format!("not run ({first})"),
            );
            return;
        }
    };
    for (what, value) in resource_rows(&synthesis.log) {
        report.push(what, value);
    }
    let p = &synthesis.paths;
    if let Some(worst) = p.worst.first() {
        report.push(
            "yosys: worst register-to-register path: LUT levels / MUXF / carry cells (estimate)",
            format!(
                "{} / {} / {} ({:.2} ns; ends over 6 LUT levels: {})",
                worst.luts,
                worst.muxf,
                worst.carry,
                worst.estimate_ns(),
                p.ends_over(6)
            ),
        );
    }
    report.paths = Some(synthesis.paths);
}

/// The resource rows of the table from yosys' log: the cells of one `stat`
/// (the last).
fn resource_rows(log: &str) -> Vec<(&'static str, String)> {
    let cells = last_stat_cells(log);
    let count = |prefix: &str| -> u64 {
        cells
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    let luts = count("LUT");
    let ffs = count("FD");
    let bram36 = count("RAMB36");
    let bram18 = count("RAMB18");
    let lutram = count("RAM32M")
        + count("RAM64M")
        + count("RAM32X1D")
        + count("RAM64X1D")
        + count("RAM128X1D")
        + count("RAM256X1D");
    let dsp = count("DSP48");
    let carry = count("CARRY");
    let or_missing = |figures: String| {
        if cells.is_empty() {
            "not reported (no `stat` in the log)".to_string()
        } else {
            figures
        }
    };
    vec![
        (
            "yosys synth_xilinx -family xcup (one `stat`): LUT / FF / CARRY4",
            or_missing(format!("{luts} / {ffs} / {carry}")),
        ),
        (
            "yosys: BRAM (RAMB36 + RAMB18) / LUTRAM / DSP",
            or_missing(format!("{bram36} + {bram18} / {lutram} / {dsp}")),
        ),
    ]
}

/// The cell counts (`LUT6 1234`, ...) of the last `stat` in a yosys log.
/// `synth_xilinx` ends with a `stat` of its own, so a log holds two for the
/// same netlist and summing every count line doubles the figures.
fn last_stat_cells(log: &str) -> Vec<(String, u64)> {
    let Some(start) = log.rfind("Printing statistics.") else {
        return vec![];
    };
    let mut lines = log[start..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Number of cells:"))
        .skip(1);
    let mut cells = vec![];
    for line in lines.by_ref() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(n), None) = (words.next(), words.next(), words.next()) else {
            break;
        };
        let Ok(n) = n.parse::<u64>() else { break };
        cells.push((name.to_string(), n));
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    /// yosys 0.23's log of the bench's script on this design, cut to its two
    /// `stat` sections (synth_xilinx's own, then the bench's) and `ltp`.
    const TWO_STATS: &str = include_str!("testdata/yosys_two_stats.log");

    #[test]
    fn resources_come_from_one_stat_section() {
        assert_eq!(TWO_STATS.matches("Printing statistics.").count(), 2);
        let rows = resource_rows(TWO_STATS);
        let luts = 251 + 2307 + 1923 + 809 + 1219 + 3668;
        let ffs = 8391 + 197;
        assert_eq!(rows[0].1, format!("{luts} / {ffs} / 594"), "{rows:?}");
        assert_eq!(rows[1].1, "0 + 45 / 2 / 0");
        // A log whose last section differs shows that the last one counts.
        let edited = TWO_STATS.replacen("     LUT6                         3668", "     LUT6 1", 2);
        let edited = edited.replacen("     LUT6 1", "     LUT6                         3668", 1);
        assert_eq!(
            resource_rows(&edited)[0].1,
            format!("{} / {ffs} / 594", luts - 3668 + 1)
        );
        assert!(
            resource_rows("no stat here")[0]
                .1
                .starts_with("not reported")
        );
    }

    #[test]
    fn a_short_run_fills_every_simulated_figure() {
        let report = run(&Options {
            frames: 8,
            yosys: false,
        });
        let table = report.markdown();
        assert_eq!(report.rows.len(), 7, "{table}");
        assert!(table.contains("| follower: ACCEPT (74 B) beats/cycle in, back to back | 1.000 |"));
        assert!(table.contains("(8 of 8 accepted, 0 dropped)"), "{table}");
        assert!(
            table.contains(&format!("({WINDOW_SLOTS} of {WINDOW_SLOTS} counted")),
            "{table}"
        );
    }
}
