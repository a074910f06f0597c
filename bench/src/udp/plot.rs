//! A latency-percentile plot as a self-contained SVG: latency (µs, log
//! scale) against percentile, with the tail spread out as HdrHistogram's own
//! plots do (the x axis is `log10(1 / (1 - p))`: 90%, 99%, 99.9% are evenly
//! spaced).

use std::fmt::Write;

use crate::latency::Latencies;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
/// The x axis ends at 99.999%.
const NINES: f64 = 5.0;

/// One named distribution of the plot.
pub struct Series<'a> {
    pub name: &'a str,
    pub latencies: &'a Latencies,
}

/// The SVG text of `series` (one line each) under `title`.
pub fn percentile_svg(title: &str, series: &[Series<'_>]) -> String {
    let max_us = series
        .iter()
        .map(|s| s.latencies.percentile(100.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let min_us = series
        .iter()
        .map(|s| s.latencies.percentile(0.0))
        .min()
        .unwrap_or(1)
        .max(1);
    let (lo, hi) = (decade_floor(min_us), decade_ceil(max_us));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |nines: f64| LEFT + plot_w * nines / NINES;
    let y = |us: f64| {
        let span = (hi as f64).log10() - (lo as f64).log10();
        TOP + plot_h * (1.0 - (us.max(lo as f64).log10() - (lo as f64).log10()) / span)
    };

    let mut svg = svg_open(title);
    for (nines, label) in [
        (0.0, "0%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "99.999%"),
    ] {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{label}</text>"##,
            x(nines),
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(decade as f64),
            LEFT + plot_w,
            LEFT - 6.0,
            y(decade as f64) + 4.0,
            format_us(decade)
        );
        decade = decade.saturating_mul(10);
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">latency</text>"#,
        TOP + plot_h / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = (0..=200)
            .map(|step| {
                let nines = NINES * f64::from(step) / 200.0;
                let p = 100.0 * (1.0 - 10f64.powf(-nines));
                format!("{:.1},{:.1}", x(nines), y(s.latencies.percentile(p) as f64))
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" fill="{colour}">{} (n = {})</text>"#,
            LEFT + 10.0,
            TOP + 16.0 + 16.0 * i as f64,
            escape(s.name),
            s.latencies.count()
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A line plot as a self-contained SVG: one line per named series of
/// `(x, y)` points, linear axes from 0, an optional horizontal `limit`
/// (name, y) dashed in red and an optional vertical `event` (name, x).
pub fn line_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    limit: Option<(&str, f64)>,
    event: Option<(String, f64)>,
) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = points
        .map(|p| p.1)
        .chain(limit.map(|l| l.1))
        .fold(1.0, f64::max)
        * 1.1;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + plot_w * v / x_max;
    let y = |v: f64| TOP + plot_h * (1.0 - v / y_max);

    let mut svg = svg_open(title);
    for step in 0..=5 {
        let (vx, vy) = (x_max * f64::from(step) / 5.0, y_max * f64::from(step) / 5.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3:.0}</text>"##,
            x(vx),
            TOP + plot_h,
            TOP + plot_h + 18.0,
            vx
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4:.0}</text>"##,
            y(vy),
            LEFT + plot_w,
            LEFT - 6.0,
            y(vy) + 4.0,
            vy
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    if let Some((name, at)) = limit {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#000" stroke-dasharray="6 4"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(at),
            LEFT + plot_w,
            LEFT + plot_w - 4.0,
            y(at) - 4.0,
            escape(name)
        );
    }
    if let Some((name, at)) = event {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#555" stroke-dasharray="2 3"/><text x="{2:.1}" y="{3:.1}" fill="#555">{4}</text>"##,
            x(at),
            TOP + plot_h,
            x(at) + 4.0,
            TOP + 12.0,
            escape(&name)
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            LEFT + 10.0,
            TOP + 16.0 + 16.0 * i as f64,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn decade_floor(us: u64) -> u64 {
    let mut d = 1;
    while d * 10 <= us {
        d *= 10;
    }
    d
}

fn decade_ceil(us: u64) -> u64 {
    let mut d = 1u64;
    while d < us {
        d = d.saturating_mul(10);
    }
    d.max(10)
}

fn format_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{} ms", us / 1_000),
        _ => format!("{} s", us / 1_000_000),
    }
}

/// An SVG document's opening: the canvas, a white background and `title`.
fn svg_open(title: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_each_series_within_the_frame() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for us in 1..=1000 {
            a.record(20 + us % 50);
            b.record(100 * us);
        }
        let svg = percentile_svg(
            "a <test>",
            &[
                Series {
                    name: "riptide",
                    latencies: &a,
                },
                Series {
                    name: "peer",
                    latencies: &b,
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a &lt;test&gt;"));
        assert!(svg.contains("riptide (n = 1000)"));
        assert!(svg.contains("100 ms"), "the y axis reaches the max decade");
        assert_points_inside_the_frame(&svg);
    }

    #[test]
    fn a_line_plot_keeps_its_points_limit_and_event_in_the_frame() {
        let series = vec![
            (
                "replica 0".to_string(),
                vec![(0.0, 10.0), (30.0, 12.0), (60.0, 11.0)],
            ),
            ("replica 1".to_string(), vec![(0.0, 9.0), (60.0, 40.0)]),
        ];
        let svg = line_svg(
            "memory <MiB>",
            "seconds",
            "MiB",
            &series,
            Some(("bound", 256.0)),
            Some(("restart".to_string(), 30.0)),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("memory &lt;MiB&gt;") && svg.contains("bound"));
        assert_points_inside_the_frame(&svg);
    }

    /// Every polyline point of `svg` lies inside the plot area.
    fn assert_points_inside_the_frame(svg: &str) {
        for pair in svg
            .split("points=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
        {
            for point in pair.split(' ') {
                let (px, py) = point.split_once(',').unwrap();
                let (px, py): (f64, f64) = (px.parse().unwrap(), py.parse().unwrap());
                assert!((LEFT..=WIDTH - RIGHT).contains(&px), "{px}");
                assert!((TOP..=HEIGHT - BOTTOM).contains(&py), "{py}");
            }
        }
    }

    #[test]
    fn decades_bracket_values() {
        assert_eq!((decade_floor(1), decade_ceil(1)), (1, 10));
        assert_eq!((decade_floor(345), decade_ceil(345)), (100, 1000));
        assert_eq!((decade_floor(1000), decade_ceil(1000)), (1000, 1000));
    }
}
