//! Progress of a backfill on stderr: a bar on a terminal (files, events,
//! rate, size and ETA within 80 columns), a log line every few seconds
//! otherwise (batch logs, containers), nothing with `--quiet`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use marketpulse_capacity::numbers::human_bytes;

use crate::console::say;

/// How progress is shown.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Progress {
    Off,
    /// A bar, on a terminal.
    Bar,
    /// A log line this often.
    Lines(Duration),
}

/// 1234567 → `1.23M`.
fn compact(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2}G", n / 1e9),
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

pub(super) struct Reporter {
    how: Progress,
    bar: ProgressBar,
    total: u64,
    /// Which shard, for logs that interleave a fleet's lines.
    what: String,
    started: Instant,
    last: Instant,
}

impl Reporter {
    pub(super) fn start(how: Progress, total: u64, what: &str) -> Reporter {
        let bar = match how {
            Progress::Bar => ProgressBar::new(total),
            _ => ProgressBar::hidden(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:18}] {pos}/{len} {msg} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        let now = Instant::now();
        Reporter {
            how,
            bar,
            total,
            what: what.to_string(),
            started: now,
            last: now,
        }
    }

    /// After each file: `done` files, `events` rows of events, `bytes` written.
    pub(super) fn update(&mut self, done: u64, events: u64, bytes: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = compact(events as f64 / secs);
        match self.how {
            Progress::Off => {}
            Progress::Bar => {
                self.bar.set_position(done);
                self.bar.set_message(format!(
                    "{} ev {rate}/s {}",
                    compact(events as f64),
                    human_bytes(bytes as f64)
                ));
            }
            Progress::Lines(every) => {
                // The last file always gets its line, so a log ends at 100%.
                if self.last.elapsed() < every && done < self.total {
                    return;
                }
                self.last = Instant::now();
                let left = self.total.saturating_sub(done);
                let eta = if done == 0 {
                    "unknown".to_string()
                } else {
                    seconds(Duration::from_secs_f64(secs * left as f64 / done as f64))
                };
                say!(
                    "marketpulse: {}: {done}/{} files ({:.0}%), {} events, {rate} events/s, {}, ETA {eta}",
                    self.what,
                    self.total,
                    100.0 * done as f64 / self.total.max(1) as f64,
                    compact(events as f64),
                    human_bytes(bytes as f64)
                );
            }
        }
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
