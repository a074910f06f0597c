//! Register-to-register paths of the synthesized core, our timing proxy
//! without Vivado: yosys maps `riptide_core.v` to UltraScale+ cells
//! (`synth_xilinx -family xcup -flatten`) and writes the netlist as JSON;
//! [`analyze`] walks it from every path start (a flip-flop or RAM output, a
//! top-level input) to every path end (a flip-flop or RAM input, a top-level
//! output) and counts, on the worst path into each end, the LUT levels, the
//! MUXF7/8/9 cells and the carry cells it crosses.
//!
//! It is a proxy, not timing closure: no placement, no routing, no clock
//! skew. The delay estimate is [`estimate_ns`], a rough UltraScale+ -2
//! figure per cell with an average net per LUT level; Vivado's report after
//! place and route is the real test.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::verilog::{TOP, write_verilog};

/// Clock-to-Q plus setup of the two registers at a path's ends (ns).
pub const REGISTER_NS: f64 = 0.15;
/// One LUT level: about 0.1 ns in the LUT and 0.3 ns on an average net to
/// the next cell (ns).
pub const LUT_NS: f64 = 0.40;
/// A MUXF7/8/9 right behind its LUTs, on dedicated wiring (ns).
pub const MUXF_NS: f64 = 0.10;
/// A carry cell (CARRY4 or CARRY8) on the dedicated carry chain (ns).
pub const CARRY_NS: f64 = 0.10;

/// The rough delay of a path of `luts` LUT levels, `muxf` MUXF cells and
/// `carry` carry cells (see the constants). At 322.27 MHz the budget is
/// 3.10 ns.
pub fn estimate_ns(luts: u32, muxf: u32, carry: u32) -> f64 {
    REGISTER_NS + LUT_NS * f64::from(luts) + MUXF_NS * f64::from(muxf) + CARRY_NS * f64::from(carry)
}

/// The worst path into one end.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingPath {
    pub luts: u32,
    pub muxf: u32,
    pub carry: u32,
    /// Where it starts: a register's output net, a RAM output or an input port.
    pub start: String,
    /// Where it ends: the register (its output net's name) and the input
    /// pin (`D`, `CE`, `R`, ...), a RAM input, or an output port.
    pub end: String,
}

impl TimingPath {
    pub fn estimate_ns(&self) -> f64 {
        estimate_ns(self.luts, self.muxf, self.carry)
    }
}

/// Every end's worst path, summarized.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Ends by the LUT levels of their worst path.
    pub histogram: BTreeMap<u32, usize>,
    /// The worst paths, worst first, one per (start, end) pair of buses.
    pub worst: Vec<TimingPath>,
    /// The nets with the most loads (cell inputs), most first.
    pub fanout: Vec<(String, usize)>,
}

impl Analysis {
    pub fn max_luts(&self) -> u32 {
        self.histogram.keys().next_back().copied().unwrap_or(0)
    }

    /// Ends whose worst path has more than `limit` LUT levels.
    pub fn ends_over(&self, limit: u32) -> usize {
        self.histogram.range(limit + 1..).map(|(_, n)| n).sum()
    }

    /// The report as markdown: the distribution, then the worst paths.
    pub fn markdown(&self, worst: usize) -> String {
        let mut out = String::from(
            "Path ends by LUT levels of their worst register-to-register path \
             (yosys netlist; a proxy, not Vivado timing):\n\n| LUT levels | ends |\n|---|---|\n",
        );
        for (levels, n) in &self.histogram {
            out.push_str(&format!("| {levels} | {n} |\n"));
        }
        out.push_str(&format!(
            "\nWorst paths (estimate = {REGISTER_NS} + {LUT_NS}·LUT + {MUXF_NS}·MUXF + \
             {CARRY_NS}·carry ns; 3.10 ns at 322.27 MHz):\n\n\
             | LUT | MUXF | carry | estimate | start | end |\n|---|---|---|---|---|---|\n"
        ));
        for p in self.worst.iter().take(worst) {
            out.push_str(&format!(
                "| {} | {} | {} | {:.2} ns | `{}` | `{}` |\n",
                p.luts,
                p.muxf,
                p.carry,
                p.estimate_ns(),
                p.start,
                p.end
            ));
        }
        if let Some((net, n)) = self.fanout.first() {
            out.push_str(&format!("\nHighest fan-out: `{net}`, {n} loads.\n"));
        }
        out
    }
}

/// What a cell is to the walk.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Flip-flops, block RAM, shift registers, clock buffers: outputs start
    /// paths, inputs end them.
    Sequential,
    /// Distributed RAM: the read is combinational (address to data, one LUT
    /// level); the write side (data, write enable) ends paths.
    LutRam,
    Lut,
    Muxf,
    Carry,
    /// Anything else (constants, buffers): crossed at no cost.
    Other,
}

fn kind(cell_type: &str) -> Kind {
    if cell_type.starts_with("LUT") {
        Kind::Lut
    } else if cell_type.starts_with("MUXF") {
        Kind::Muxf
    } else if cell_type.starts_with("CARRY") {
        Kind::Carry
    } else if ["RAM32M", "RAM64M", "RAM32X", "RAM64X", "RAM128X", "RAM256X"]
        .iter()
        .any(|p| cell_type.starts_with(p))
    {
        Kind::LutRam
    } else if ["FD", "RAMB", "SRL", "BUFG", "DSP", "FIFO"]
        .iter()
        .any(|p| cell_type.starts_with(p))
    {
        Kind::Sequential
    } else {
        Kind::Other
    }
}

/// Clock pins: neither start nor end a data path.
fn is_clock_pin(pin: &str) -> bool {
    matches!(pin, "C" | "CLK" | "WCLK" | "CLKARDCLK" | "CLKBWRCLK")
}

/// Distributed RAM pins on the write side (the rest are read addresses).
fn is_lutram_write_pin(pin: &str) -> bool {
    pin.starts_with("DI") || pin == "WE" || pin.starts_with("WADR") || pin == "D"
}

struct Cell {
    name: String,
    kind: Kind,
    /// (pin, net bits) of each input and output.
    inputs: Vec<(String, Vec<Option<u64>>)>,
    outputs: Vec<(String, Vec<Option<u64>>)>,
}

/// The worst arrival at a net: (LUT levels, MUXF, carry, start net).
#[derive(Debug, Clone, Copy)]
struct Arrival {
    luts: u32,
    muxf: u32,
    carry: u32,
    start: u64,
}

impl Arrival {
    fn key(&self) -> (u32, u64) {
        (
            self.luts,
            (estimate_ns(self.luts, self.muxf, self.carry) * 1000.0) as u64,
        )
    }
}

fn bits(value: &Value) -> Vec<Option<u64>> {
    value
        .as_array()
        .map(|a| a.iter().map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// Walks a yosys JSON netlist (`write_json`) of module `top`.
pub fn analyze(json: &str, top: &str) -> Result<Analysis, String> {
    let netlist: Value = serde_json::from_str(json).map_err(|e| format!("netlist JSON: {e}"))?;
    let module = netlist
        .get("modules")
        .and_then(|m| m.get(top))
        .ok_or_else(|| format!("no module {top} in the netlist"))?;

    // A readable name for each net bit: the shortest visible net name.
    let mut names: HashMap<u64, String> = HashMap::new();
    if let Some(nets) = module.get("netnames").and_then(Value::as_object) {
        for (name, net) in nets {
            let hidden = net.get("hide_name").and_then(Value::as_u64) == Some(1);
            let net_bits = bits(&net["bits"]);
            for (i, bit) in net_bits.iter().enumerate() {
                let Some(bit) = bit else { continue };
                let full = if net_bits.len() > 1 {
                    format!("{name}[{i}]")
                } else {
                    name.clone()
                };
                let better = match names.get(bit) {
                    None => true,
                    Some(old) => {
                        let old_hidden = old.starts_with('$');
                        (old_hidden && !hidden) || (old_hidden == hidden && full.len() < old.len())
                    }
                };
                if better {
                    names.insert(*bit, if hidden { format!("${full}") } else { full });
                }
            }
        }
    }
    let name_of = |bit: u64| -> String {
        names
            .get(&bit)
            .map(|n| n.trim_start_matches('$').replace('$', "."))
            .unwrap_or_else(|| format!("net{bit}"))
    };

    let mut cells = vec![];
    if let Some(all) = module.get("cells").and_then(Value::as_object) {
        for (name, cell) in all {
            let cell_type = cell.get("type").and_then(Value::as_str).unwrap_or("");
            let directions = cell.get("port_directions").and_then(Value::as_object);
            let mut c = Cell {
                name: name.clone(),
                kind: kind(cell_type),
                inputs: vec![],
                outputs: vec![],
            };
            if let Some(conns) = cell.get("connections").and_then(Value::as_object) {
                for (pin, net) in conns {
                    let dir = directions
                        .and_then(|d| d.get(pin))
                        .and_then(Value::as_str)
                        .unwrap_or("input");
                    if dir == "output" {
                        c.outputs.push((pin.clone(), bits(net)));
                    } else {
                        c.inputs.push((pin.clone(), bits(net)));
                    }
                }
            }
            cells.push(c);
        }
    }

    // Drivers of each net bit, and where paths start.
    let mut driver: HashMap<u64, usize> = HashMap::new();
    let mut starts: HashMap<u64, ()> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        for (_, out) in &c.outputs {
            for bit in out.iter().flatten() {
                if c.kind == Kind::Sequential {
                    starts.insert(*bit, ());
                } else {
                    driver.insert(*bit, i);
                }
            }
        }
    }
    let mut ends: Vec<(u64, String)> = vec![];
    if let Some(ports) = module.get("ports").and_then(Value::as_object) {
        for (name, port) in ports {
            let port_bits = bits(&port["bits"]);
            let input = port.get("direction").and_then(Value::as_str) == Some("input");
            for (i, bit) in port_bits.iter().enumerate() {
                let Some(bit) = bit else { continue };
                if input {
                    starts.insert(*bit, ());
                } else {
                    let end = if port_bits.len() > 1 {
                        format!("{name}[{i}] (output)")
                    } else {
                        format!("{name} (output)")
                    };
                    ends.push((*bit, end));
                }
            }
        }
    }
    // A sequential cell's end is named after what it holds: its output net.
    for c in &cells {
        let holds = c
            .outputs
            .iter()
            .find_map(|(_, b)| b.iter().flatten().next().copied())
            .map_or_else(|| c.name.clone(), &name_of);
        for (pin, inp) in &c.inputs {
            let is_end = match c.kind {
                Kind::Sequential => !is_clock_pin(pin),
                Kind::LutRam => is_lutram_write_pin(pin),
                _ => false,
            };
            if is_end {
                for bit in inp.iter().flatten() {
                    ends.push((*bit, format!("{holds} ({pin})")));
                }
            }
        }
    }

    // Fan-out: loads per net bit (clock pins excluded).
    let mut loads: HashMap<u64, usize> = HashMap::new();
    for c in &cells {
        for (pin, inp) in &c.inputs {
            if is_clock_pin(pin) {
                continue;
            }
            for bit in inp.iter().flatten() {
                *loads.entry(*bit).or_default() += 1;
            }
        }
    }
    let mut fanout: Vec<(String, usize)> = loads
        .into_iter()
        .map(|(bit, n)| (name_of(bit), n))
        .collect();
    fanout.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    fanout.truncate(5);

    // Worst arrival per net bit, memoized, iterative (deep carry chains).
    let mut arrival: HashMap<u64, Option<Arrival>> = HashMap::new();
    let mut visiting: HashMap<u64, ()> = HashMap::new();
    let mut loops = 0usize;
    let mut stack: Vec<u64> = vec![];
    let cell_cost = |k: Kind| match k {
        Kind::Lut | Kind::LutRam => (1, 0, 0),
        Kind::Muxf => (0, 1, 0),
        Kind::Carry => (0, 0, 1),
        _ => (0, 0, 0),
    };
    let cell_inputs = |c: &Cell| -> Vec<u64> {
        c.inputs
            .iter()
            .filter(|(pin, _)| {
                !(is_clock_pin(pin) || (c.kind == Kind::LutRam && is_lutram_write_pin(pin)))
            })
            .flat_map(|(_, b)| b.iter().flatten().copied())
            .collect()
    };
    for (end_bit, _) in &ends {
        stack.push(*end_bit);
        while let Some(&bit) = stack.last() {
            if arrival.contains_key(&bit) {
                stack.pop();
                continue;
            }
            if starts.contains_key(&bit) {
                arrival.insert(
                    bit,
                    Some(Arrival {
                        luts: 0,
                        muxf: 0,
                        carry: 0,
                        start: bit,
                    }),
                );
                stack.pop();
                continue;
            }
            let Some(&d) = driver.get(&bit) else {
                // Undriven or constant: no path.
                arrival.insert(bit, None);
                stack.pop();
                continue;
            };
            let inputs = cell_inputs(&cells[d]);
            let pending: Vec<u64> = inputs
                .iter()
                .copied()
                .filter(|b| !arrival.contains_key(b))
                .collect();
            if !pending.is_empty() && !visiting.contains_key(&bit) {
                visiting.insert(bit, ());
                stack.extend(pending);
                continue;
            }
            if !pending.is_empty() {
                // Still pending on the second visit: a combinational loop.
                loops += 1;
                for b in pending {
                    arrival.insert(b, None);
                }
            }
            let (l, m, k) = cell_cost(cells[d].kind);
            let best = inputs
                .iter()
                .filter_map(|b| arrival.get(b).copied().flatten())
                .max_by_key(Arrival::key)
                .map(|a| Arrival {
                    luts: a.luts + l,
                    muxf: a.muxf + m,
                    carry: a.carry + k,
                    start: a.start,
                });
            arrival.insert(bit, best);
            visiting.remove(&bit);
            stack.pop();
        }
    }
    if loops > 0 {
        return Err(format!("{loops} combinational loops in the netlist"));
    }

    let mut analysis = Analysis {
        fanout,
        ..Analysis::default()
    };
    let mut paths: Vec<TimingPath> = vec![];
    for (bit, end) in &ends {
        let Some(a) = arrival.get(bit).copied().flatten() else {
            continue;
        };
        *analysis.histogram.entry(a.luts).or_default() += 1;
        paths.push(TimingPath {
            luts: a.luts,
            muxf: a.muxf,
            carry: a.carry,
            start: name_of(a.start),
            end: end.clone(),
        });
    }
    paths.sort_by(|a, b| {
        b.luts
            .cmp(&a.luts)
            .then(b.estimate_ns().total_cmp(&a.estimate_ns()))
            .then(a.end.cmp(&b.end))
    });
    // One path per start bus and kind of end: bit 7 of a register, or the
    // third entry of a FIFO, is not news after bit 6 or the second entry.
    let bus = |name: &str| name.split('[').next().unwrap_or(name).to_string();
    let kind_of =
        |name: &str| -> String { bus(name).chars().filter(|c| !c.is_ascii_digit()).collect() };
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        if seen.insert((bus(&p.start), kind_of(&p.end))) {
            analysis.worst.push(p);
            if analysis.worst.len() == 50 {
                break;
            }
        }
    }
    Ok(analysis)
}

/// One synthesis of the emitted core: yosys' log (with one `stat` of the
/// flattened netlist after `synth_xilinx`'s own) and the path analysis.
pub struct Synthesis {
    pub log: String,
    pub paths: Analysis,
}

/// The yosys script of [`synthesize`], for docs and reproduction.
pub fn yosys_script(json: &Path) -> String {
    format!(
        "synth_xilinx -family xcup -flatten -top {TOP}; stat; write_json {}",
        json.display()
    )
}

/// Emits `riptide_core.v` into `dir`, synthesizes it (minutes) and walks
/// the netlist. `dir` is removed afterwards.
pub fn synthesize(dir: &Path) -> Result<Synthesis, String> {
    let result = synthesize_in(dir);
    // Best effort: a leftover temporary directory is harmless.
    let _ = std::fs::remove_dir_all(dir);
    result
}

fn synthesize_in(dir: &Path) -> Result<Synthesis, String> {
    let verilog = write_verilog(dir).map_err(|e| format!("write Verilog: {e}"))?;
    let json: PathBuf = dir.join("riptide_core.json");
    let out = Command::new("yosys")
        .args(["-p", &yosys_script(&json)])
        .arg(&verilog)
        .output()
        .map_err(|e| format!("run yosys: {e}"))?;
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "yosys failed:\n{}{}",
            String::from_utf8_lossy(&out.stderr),
            log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
        ));
    }
    let text = std::fs::read_to_string(&json).map_err(|e| format!("read netlist: {e}"))?;
    let paths = analyze(&text, TOP)?;
    Ok(Synthesis { log, paths })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written netlist: register `a` → LUT → LUT → MUXF7 → CARRY4
    /// → register `b`, and `a` → LUT → output port `o`.
    const NETLIST: &str = r#"{
      "modules": { "top": {
        "ports": {
          "clk": { "direction": "input", "bits": [2] },
          "o": { "direction": "output", "bits": [9] }
        },
        "cells": {
          "ra": { "type": "FDRE", "port_directions": { "C": "input", "D": "input", "Q": "output" },
                  "connections": { "C": [2], "D": [8], "Q": [3] } },
          "l1": { "type": "LUT2", "port_directions": { "I0": "input", "I1": "input", "O": "output" },
                  "connections": { "I0": [3], "I1": [3], "O": [4] } },
          "l2": { "type": "LUT1", "port_directions": { "I0": "input", "O": "output" },
                  "connections": { "I0": [4], "O": [5] } },
          "l3": { "type": "LUT1", "port_directions": { "I0": "input", "O": "output" },
                  "connections": { "I0": [3], "O": [10] } },
          "m": { "type": "MUXF7", "port_directions": { "I0": "input", "I1": "input", "S": "input", "O": "output" },
                  "connections": { "I0": [5], "I1": [10], "S": [3], "O": [6] } },
          "c": { "type": "CARRY4", "port_directions": { "CI": "input", "S": "input", "CO": "output" },
                  "connections": { "CI": ["0"], "S": [6, 6, 6, 6], "CO": [7, 7, 7, 7] } },
          "rb": { "type": "FDRE", "port_directions": { "C": "input", "D": "input", "Q": "output" },
                  "connections": { "C": [2], "D": [7], "Q": [8] } },
          "l4": { "type": "LUT1", "port_directions": { "I0": "input", "O": "output" },
                  "connections": { "I0": [8], "O": [9] } }
        },
        "netnames": {
          "a": { "hide_name": 0, "bits": [3] },
          "b": { "hide_name": 0, "bits": [8] },
          "$abc$1": { "hide_name": 1, "bits": [4] }
        }
      } }
    }"#;

    #[test]
    fn counts_levels_muxf_and_carry_register_to_register() {
        let a = analyze(NETLIST, "top").expect("analyze");
        assert_eq!(a.max_luts(), 2);
        let worst = &a.worst[0];
        assert_eq!((worst.luts, worst.muxf, worst.carry), (2, 1, 1));
        assert_eq!(worst.start, "a");
        assert_eq!(worst.end, "b (D)");
        assert!((worst.estimate_ns() - (0.15 + 0.8 + 0.1 + 0.1)).abs() < 1e-9);
        // Ends: rb.D (2 levels), ra.D (b → a: 0 levels), o (1 level).
        assert_eq!(a.histogram, BTreeMap::from([(0, 1), (1, 1), (2, 1)]));
        assert_eq!(a.ends_over(1), 1);
        assert_eq!(a.ends_over(2), 0);
        assert!(a.worst.iter().any(|p| p.end == "o (output)" && p.luts == 1));
        assert_eq!(a.fanout[0], ("a".to_string(), 4));
        assert!(
            a.markdown(5)
                .contains("| 2 | 1 | 1 | 1.15 ns | `a` | `b (D)` |")
        );
    }

    #[test]
    fn a_combinational_loop_is_an_error() {
        let looped = NETLIST.replace(
            r#""I0": [3], "I1": [3], "O": [4]"#,
            r#""I0": [5], "I1": [3], "O": [4]"#,
        );
        assert!(analyze(&looped, "top").unwrap_err().contains("loop"));
        assert!(analyze(NETLIST, "other").is_err());
    }
}
