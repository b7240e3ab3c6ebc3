//! Progress on a terminal: the phase, accounts collected out of those found,
//! and how many requests were sent, retried, throttled and lost. Drawn only
//! when standard error is a terminal; otherwise silent.

use super::client::Counters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(visible: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} accounts  {prefix}  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    pub fn phase(&self, phase: &'static str) {
        self.bar.set_prefix(phase);
    }

    pub fn accounts_found(&self, n: u64) {
        self.bar.set_length(n);
    }

    pub fn account_done(&self, counters: &Counters) {
        self.bar.inc(1);
        self.counters(counters);
    }

    pub fn counters(&self, c: &Counters) {
        self.bar.set_message(format!(
            "{} requests, {} retried, {} throttled, {} failed",
            Counters::get(&c.requests),
            Counters::get(&c.retries),
            Counters::get(&c.throttled),
            Counters::get(&c.failed)
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
