//! Progress bars on stderr, shown only on a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting rows, with rate and ETA (a spinner with the rate when the total is not
/// known before reading, as for a mapped CSV source); invisible when stderr is not a terminal.
pub(crate) fn rows_bar(total: Option<u64>, what: &str) -> ProgressBar {
    let template = match total {
        Some(_) => "{msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {eta} left)",
        None => "{msg} {spinner} {human_pos} rows ({per_sec})",
    };
    ticking(total, template, what)
}

/// A spinner with the elapsed time, for work whose rows are counted elsewhere (a run on a
/// cluster: the executors read the rows); invisible when stderr is not a terminal.
pub(crate) fn spinner(what: &str) -> ProgressBar {
    ticking(None, "{msg} {spinner} {elapsed}", what)
}

/// A bar on stderr in `template`, redrawn on a steady tick.
fn ticking(total: Option<u64>, template: &'static str, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
