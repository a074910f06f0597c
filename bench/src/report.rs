//! The figures of one `riptide bench --backend udp` run side by side:
//! latency percentiles and throughput of each system measured, and ratios.
//!
//! The ratio columns, defined once here and in `docs/runtime.md`:
//! - `X/base`: system X's figure divided by the bare UDP round's
//!   ([`crate::baseline`]) from the same run. For a latency, how many bare
//!   rounds one commit costs (1.00 is the machine's limit; higher is
//!   slower); for throughput, the fraction of the bare rounds per second X
//!   reaches (1.00 is the limit; lower is slower).
//! - `X/first`: system X's figure divided by the first system's (riptide):
//!   above 1 the other system is slower in latency, or faster in throughput.

use std::fmt;

use crate::latency::PERCENTILES;
use crate::udp::load::LoadResult;

/// One measured system.
pub struct Column<'a> {
    pub name: &'a str,
    pub result: &'a LoadResult,
}

/// Systems measured in one run; the first is the reference of the
/// `X/first` columns.
pub struct Comparison<'a> {
    pub systems: Vec<Column<'a>>,
    /// The bare UDP round, if measured.
    pub baseline: Option<&'a LoadResult>,
}

enum Figure {
    Percentile(f64),
    Throughput,
}

impl Figure {
    fn of(&self, result: &LoadResult) -> f64 {
        match *self {
            Figure::Percentile(p) => result.latencies.percentile(p) as f64,
            Figure::Throughput => result.throughput(),
        }
    }

    fn name(&self) -> String {
        match *self {
            Figure::Percentile(100.0) => "max us".to_string(),
            Figure::Percentile(p) => format!("p{p} us"),
            Figure::Throughput => "ops/s".to_string(),
        }
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".to_string()
    }
}

impl fmt::Display for Comparison<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.systems.first() else {
            return Ok(());
        };
        let mut header = vec![String::new()];
        header.extend(self.systems.iter().map(|s| s.name.to_string()));
        if self.baseline.is_some() {
            header.push("baseline".to_string());
            header.extend(self.systems.iter().map(|s| format!("{}/base", s.name)));
        }
        header.extend(
            self.systems[1..]
                .iter()
                .map(|s| format!("{}/{}", s.name, first.name)),
        );
        let mut rows = vec![header];
        let figures = PERCENTILES
            .iter()
            .map(|&p| Figure::Percentile(p))
            .chain([Figure::Throughput]);
        for figure in figures {
            let mut row = vec![figure.name()];
            let value = |r: &LoadResult| format!("{:.0}", figure.of(r));
            row.extend(self.systems.iter().map(|s| value(s.result)));
            if let Some(base) = self.baseline {
                row.push(value(base));
                row.extend(
                    self.systems
                        .iter()
                        .map(|s| ratio(figure.of(s.result), figure.of(base))),
                );
            }
            row.extend(
                self.systems[1..]
                    .iter()
                    .map(|s| ratio(figure.of(s.result), figure.of(first.result))),
            );
            rows.push(row);
        }
        let width = rows.iter().flatten().map(String::len).max().unwrap_or(0) + 2;
        for row in rows {
            let mut line = format!("{:<10}", row[0]);
            for cell in &row[1..] {
                line.push_str(&format!("{cell:>width$}"));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::latency::Latencies;

    fn result(scale: u64, completed: u64) -> LoadResult {
        let mut latencies = Latencies::new();
        for us in 1..=100 {
            latencies.record(scale * us);
        }
        LoadResult {
            latencies,
            completed,
            unfinished: 0,
            retries: 0,
            window: Duration::from_secs(1),
            sessions: 1,
            all_completed: completed,
        }
    }

    fn cells<'a>(text: &'a str, row: &str) -> Vec<&'a str> {
        text.lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no {row} row in\n{text}"))
            .split_whitespace()
            .collect()
    }

    #[test]
    fn ratios_are_to_the_baseline_and_to_the_first_system() {
        let (riptide, other, base) = (result(2, 100), result(4, 50), result(1, 200));
        let text = Comparison {
            systems: vec![
                Column {
                    name: "riptide",
                    result: &riptide,
                },
                Column {
                    name: "openraft",
                    result: &other,
                },
            ],
            baseline: Some(&base),
        }
        .to_string();
        let header = cells(&text, "");
        assert_eq!(
            header,
            [
                "riptide",
                "openraft",
                "baseline",
                "riptide/base",
                "openraft/base",
                "openraft/riptide"
            ],
            "{text}"
        );
        assert_eq!(
            cells(&text, "max"),
            ["max", "us", "200", "400", "100", "2.00x", "4.00x", "2.00x"]
        );
        assert_eq!(
            cells(&text, "ops/s"),
            ["ops/s", "100", "50", "200", "0.50x", "0.25x", "0.50x"]
        );
    }

    #[test]
    fn without_a_baseline_only_the_peer_ratio_is_printed() {
        let (riptide, other) = (result(1, 100), result(3, 100));
        let text = Comparison {
            systems: vec![
                Column {
                    name: "riptide",
                    result: &riptide,
                },
                Column {
                    name: "openraft",
                    result: &other,
                },
            ],
            baseline: None,
        }
        .to_string();
        assert_eq!(cells(&text, "max"), ["max", "us", "100", "300", "3.00x"]);
    }
}
