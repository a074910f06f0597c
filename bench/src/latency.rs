//! A latency distribution and its report: percentiles, and the `.hgrm`
//! percentile distribution that HdrHistogram tools plot.

use std::fmt;
use std::io::Write;

use hdrhistogram::Histogram;

/// Percentiles every latency report prints.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 100.0];

/// Latencies in microseconds.
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Latencies {
    pub fn new() -> Latencies {
        Latencies {
            // Three significant digits, auto-resizing: exact enough for
            // microsecond figures, and never rejects an outlier.
            histogram: Histogram::new(3).expect("3 significant digits is valid"),
        }
    }

    pub fn record(&mut self, us: u64) {
        self.histogram
            .record(us)
            .expect("an auto-resizing histogram takes any u64");
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at percentile `p` (0..=100), in microseconds.
    pub fn percentile(&self, p: f64) -> u64 {
        self.histogram.value_at_quantile(p / 100.0)
    }

    /// Writes the percentile distribution in HdrHistogram's `.hgrm` text
    /// format (values in microseconds).
    pub fn write_hgrm(&self, mut out: impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        )?;
        for step in self.histogram.iter_quantiles(5) {
            let quantile = step.quantile_iterated_to();
            let inverse = if quantile < 1.0 {
                format!("{:14.2}", 1.0 / (1.0 - quantile))
            } else {
                format!("{:>14}", "inf")
            };
            writeln!(
                out,
                "{:12.3} {:14.12} {:10} {inverse}",
                step.value_iterated_to() as f64,
                quantile,
                step.count_since_last_iteration()
            )?;
        }
        let h = &self.histogram;
        writeln!(
            out,
            "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
            h.mean(),
            h.stdev()
        )?;
        writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            h.max() as f64,
            h.len()
        )?;
        Ok(())
    }
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies::new()
    }
}

impl fmt::Display for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<String> = PERCENTILES
            .iter()
            .map(|&p| {
                let name = if p == 100.0 {
                    "max".to_string()
                } else {
                    format!("p{p}")
                };
                format!("{name} {} us", self.percentile(p))
            })
            .collect();
        write!(f, "{} (n = {})", cells.join(", "), self.count())
    }
}
