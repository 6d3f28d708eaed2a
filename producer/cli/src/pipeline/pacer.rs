//! How a real-time run keeps its pace: the shard's schedule (its share of
//! the fleet's rate or profile) or the speed-up, and waiting for the next
//! event without missing a stop.

use std::time::{Duration, Instant};

use marketpulse_gen::Generator;

use super::schedule::{Profile, Schedule, quotas};
use crate::settings::{Pace, Run};

/// How the run is paced: by a schedule of due times (`--rate`,
/// `--rate-profile`), or by event time sped up (`--speedup`).
pub(super) enum Pacer {
    Schedule(Schedule),
    Speedup(f64),
}

impl Pacer {
    /// Seconds from the start when the run's event `k`, whose event time
    /// is `key`, is due; `None` past the end of a schedule.
    pub(super) fn due(&self, k: u64, key: i64, sim0: i64) -> Option<f64> {
        match self {
            Pacer::Schedule(s) => s.time_of(k),
            Pacer::Speedup(x) => Some((key - sim0) as f64 / 1e6 / x),
        }
    }
}

/// The shard's pacer. A schedule is the fleet's, times this shard's share
/// of the plan's events; a finite one is split into whole events by
/// largest remainder, so the shards together emit what one process would.
/// A diurnal profile runs on past its last hour at that hour's rate: its
/// curve is the plan's, whose online sales are estimated.
pub(super) fn pacer_of(generator: &Generator, run: &Run, pace: &Pace) -> Pacer {
    let fleet = match pace {
        Pace::Speedup(x) => return Pacer::Speedup(*x),
        Pace::Rate(r) => Schedule::constant(*r),
        Pace::Profile(Profile::Segments(s), _) => Schedule::new(s.clone()),
        Pace::Profile(Profile::Diurnal(x), mean) => {
            Schedule::diurnal(&generator.summarize(0, 1).hourly_events, *x, *mean).open_ended()
        }
    };
    if run.shard_count == 1 {
        return Pacer::Schedule(fleet);
    }
    let events = generator.shard_events(run.shard_count);
    let total: f64 = events.iter().sum();
    let shares: Vec<f64> = events
        .iter()
        .map(|e| if total > 0.0 { e / total } else { 0.0 })
        .collect();
    let i = run.shard_index as usize;
    let mine = fleet.scaled(shares[i]);
    Pacer::Schedule(if fleet.events().is_finite() {
        mine.capped(quotas(fleet.events().ceil() as u64, &shares)[i])
    } else {
        mine
    })
}

/// Sleeps until `due_at`, waking every 100 ms to see whether the run was
/// stopped or its `--duration` is over; true when the time came.
pub(super) fn wait_until(
    runtime: &tokio::runtime::Runtime,
    due_at: Instant,
    stop: impl Fn() -> bool,
) -> bool {
    loop {
        let now = Instant::now();
        if now >= due_at {
            return true;
        }
        if stop() {
            return false;
        }
        let wake = due_at.min(now + Duration::from_millis(100));
        runtime.block_on(async { tokio::time::sleep_until(wake.into()).await });
    }
}
