//! A progress bar on stderr for long runs. It draws only on a terminal, so
//! piped and CI output stays exactly what the run printed.

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("the template is valid"),
    );
    bar.set_prefix(what.to_string());
    bar
}
