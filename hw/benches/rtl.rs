//! RTL figures from the RustHDL simulation of `riptide_core` (and yosys for
//! resources): `cargo bench -p riptide-hw`. Prints a markdown table.
//!
//! Throughput: back-to-back minimum-size frames (74 bytes = 2 beats of 64
//! bytes, no FCS, preamble or gap on the AXI4-Stream) on the receive stream,
//! every output always ready. Latency: from the cycle a frame's first beat
//! is on net_rx to the cycle the answer's first beat is on net_tx / c2h.

use riptide_driver::model::ModelNic;
use riptide_hw::sim::RtlNic;
use riptide_hw::verilog::{TOP, write_verilog};
use riptide_wire::frame::{Endpoint, encode_frame};
use riptide_wire::host::{NicCommand, NicConfig, NicRole};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Envelope, Message};
use std::process::Command;
use std::time::Instant;

const CLOCK_MHZ: f64 = 322.265_625;
const GROUP: u16 = 7;
const FRAMES: u64 = 400;

fn peers(n: u8) -> Vec<Endpoint> {
    (0..n).map(ModelNic::default_endpoint).collect()
}

fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
    let datagram = Envelope {
        group: GROUP,
        sender: from,
        message,
    }
    .encode();
    encode_frame(
        &ModelNic::default_endpoint(from),
        &ModelNic::default_endpoint(to),
        &datagram,
    )
}

fn nic(id: u8, role: NicRole, ballot: Ballot) -> RtlNic {
    let mut nic = RtlNic::new("bench", id, GROUP, peers(3));
    nic.command(NicCommand::Configure(NicConfig {
        role,
        ballot,
        next_slot: 1,
        commit: 0,
        replicas: 3,
        window: 16,
    }));
    nic
}

struct Row {
    what: &'static str,
    value: String,
}

fn ns(cycles: f64) -> f64 {
    cycles * 1000.0 / CLOCK_MHZ
}

/// Back-to-back minimum-size ACCEPTs at a follower.
fn follower(rows: &mut Vec<Row>) -> (u64, f64) {
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
    for slot in 2..2 + FRAMES {
        nic.receive_back_to_back(&accept(slot));
    }
    nic.drain();
    let sim_cycles = nic.cycles() - start_cycles;
    let sim_secs = started.elapsed().as_secs_f64();
    let t = nic.timing().clone();
    let rx = &t.rx[1..];
    let tx = &t.tx[1..];
    let in_cycles = (rx.last().expect("frames").1 - rx[0].0 + 1) as f64;
    let out_cycles = (tx.last().expect("acks").1 - tx[0].0 + 1) as f64;
    let accepted = u64::from(nic.counter(Counter::Accepted));
    let dropped = u64::from(nic.counter(Counter::DropOverflow));
    rows.push(Row {
        what: "follower: ACCEPT (74 B) beats/cycle in, back to back",
        value: format!("{:.3}", 2.0 * FRAMES as f64 / in_cycles),
    });
    rows.push(Row {
        what: "follower: ACCEPTED frames/cycle out",
        value: format!(
            "{:.3} ({} of {FRAMES} accepted, {dropped} dropped)",
            tx.len() as f64 / out_cycles,
            accepted - 1
        ),
    });
    rows.push(Row {
        what: "follower: RX first beat to ACCEPTED first beat",
        value: format!("{to_ack} cycles = {:.1} ns", ns(to_ack as f64)),
    });
    rows.push(Row {
        what: "follower: RX first beat to Accepted record first beat (c2h)",
        value: format!("{to_host} cycles = {:.1} ns", ns(to_host as f64)),
    });
    (sim_cycles, sim_secs)
}

/// Back-to-back ACCEPTEDs at a leader with a full window of 16 slots.
fn leader(rows: &mut Vec<Row>) -> (u64, f64) {
    let ballot = Ballot::new(2, 0);
    let mut nic = nic(0, NicRole::Leader, ballot);
    let ack = |from, slot| frame(from, 0, Message::Accepted { ballot, slot });
    let mut sim_cycles = 0;
    let mut sim_secs = 0.0;
    let mut in_cycles = 0.0;
    let mut acks = 0u64;
    let mut latency = vec![];
    let rounds = FRAMES / 16;
    for round in 0..rounds {
        for _ in 0..16 {
            nic.command(NicCommand::Submit { value: vec![] });
        }
        let first = round * 16 + 1;
        let rx_before = nic.timing().rx.len();
        let c2h_before = nic.timing().c2h.len();
        let cycles = nic.cycles();
        let started = Instant::now();
        // With three replicas each ack (plus the leader's own acceptance) is
        // a majority: every ack commits one slot.
        for slot in first..first + 16 {
            nic.receive_back_to_back(&ack(2, slot));
        }
        nic.drain();
        sim_cycles += nic.cycles() - cycles;
        sim_secs += started.elapsed().as_secs_f64();
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
    rows.push(Row {
        what: "leader: ACCEPTED (74 B) beats/cycle in, back to back",
        value: format!(
            "{:.3} ({counted} of {acks} counted)",
            2.0 * acks as f64 / in_cycles
        ),
    });
    rows.push(Row {
        what: "leader: last ACCEPTED last beat to Committed record first beat",
        value: format!("{lat:.1} cycles = {:.1} ns", ns(lat)),
    });
    (sim_cycles, sim_secs)
}

/// yosys resource counts and longest path (LUT levels), flattened.
fn resources(rows: &mut Vec<Row>) {
    let dir = std::env::temp_dir().join(format!("riptide-hw-bench-{}", std::process::id()));
    let Ok(path) = write_verilog(&dir) else {
        rows.push(Row {
            what: "yosys",
            value: "could not write Verilog".into(),
        });
        return;
    };
    let script = format!("synth_xilinx -family xcup -flatten -top {TOP}; stat; ltp -noff");
    let out = match Command::new("yosys")
        .args(["-p", &script])
        .arg(&path)
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).to_string(),
        _ => {
            rows.push(Row {
                what: "yosys synth_xilinx -family xcup",
                value: "not run (yosys missing or failed)".into(),
            });
            return;
        }
    };
    let count = |prefix: &str| -> u64 {
        out.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next()?;
                let n = w.next()?.parse::<u64>().ok()?;
                name.starts_with(prefix).then_some(n)
            })
            .sum()
    };
    let luts = count("LUT");
    let ffs = count("FD");
    let bram36 = count("RAMB36");
    let bram18 = count("RAMB18");
    let lutram = count("RAM32M")
        + count("RAM64M")
        + count("RAM64X1D")
        + count("RAM128X1D")
        + count("RAM256X1D");
    let dsp = count("DSP48");
    let carry = count("CARRY");
    let ltp = out
        .lines()
        .rev()
        .find_map(|l| l.split("(length=").nth(1))
        .and_then(|rest| rest.split(')').next())
        .map_or("not reported".to_string(), |n| format!("{n} cells"));
    rows.push(Row {
        what: "yosys synth_xilinx -family xcup: LUT / FF / CARRY4",
        value: format!("{luts} / {ffs} / {carry}"),
    });
    rows.push(Row {
        what: "yosys: BRAM (RAMB36 + RAMB18) / LUTRAM / DSP",
        value: format!("{bram36} + {bram18} / {lutram} / {dsp}"),
    });
    rows.push(Row {
        what: "yosys: longest topological path (cells, incl. carry chains)",
        value: ltp,
    });
}

fn main() {
    let mut rows = vec![];
    let (c1, s1) = follower(&mut rows);
    let (c2, s2) = leader(&mut rows);
    rows.push(Row {
        what: "simulator speed (RustHDL, hand-stepped, whole core)",
        value: format!("{:.0} cycles/s", (c1 + c2) as f64 / (s1 + s2)),
    });
    if std::env::var_os("RIPTIDE_BENCH_NO_YOSYS").is_none() {
        resources(&mut rows);
    }
    println!("| figure (clock {CLOCK_MHZ} MHz) | value |\n|---|---|");
    for row in rows {
        println!("| {} | {} |", row.what, row.value);
    }
}
