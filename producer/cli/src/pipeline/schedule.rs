//! When each event of a paced run is due. A schedule is a list of segments,
//! each a rate that moves linearly from `from` to `to` events/s over its
//! seconds (`hold` and `spike` keep it). Event `k` (from 0) is due when the
//! events scheduled so far reach `k`, so a late wake-up is made up, never
//! lost, and a finite profile emits exactly its integral.
//!
//! `--rate R` is one endless segment at R. `--rate-profile` gives segments,
//! or `diurnal:SPEEDUP`: the run's own hourly event curve (the world's
//! intraday, weekday and holiday curves) with each hour lasting
//! 3600/SPEEDUP seconds. In a fleet every rate is the total: a shard paces
//! at its share of the plan's events, so all shards end together.

/// Largest rate a segment may ask for, as for `--rate`.
pub(crate) const MAX_RATE: f64 = 10_000_000.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Segment {
    pub from: f64,
    pub to: f64,
    pub seconds: f64,
}

impl Segment {
    fn events(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.seconds
    }

    /// Events by `t` seconds into the segment.
    fn events_by(&self, t: f64) -> f64 {
        if self.seconds.is_infinite() {
            return self.from * t;
        }
        self.from * t + (self.to - self.from) * t * t / (2.0 * self.seconds)
    }

    /// Seconds into the segment when its events reach `k` (`k` within it).
    fn time_of(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 0.0;
        }
        let slope = if self.seconds.is_infinite() {
            0.0
        } else {
            (self.to - self.from) / self.seconds
        };
        // Root of slope/2 t^2 + from t - k = 0, in the form that stays exact
        // as the slope goes to 0.
        let d = (self.from * self.from + 2.0 * slope * k).max(0.0).sqrt();
        (2.0 * k / (self.from + d)).min(self.seconds)
    }
}

/// A profile as given: segments, or the world's curve sped up.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Profile {
    Segments(Vec<Segment>),
    Diurnal(f64),
}

fn number(text: &str, what: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_RATE).contains(&v) => Ok(v),
        _ => Err(format!(
            "{what} '{text}' is not a number from 0 to {MAX_RATE}"
        )),
    }
}

/// `90`, `90s`, `1.5m` or `2h`, above 0.
fn duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * unit <= 1e9 => Ok(v * unit),
        _ => Err(format!(
            "duration '{text}' is not a time above 0 such as 30s, 5m or 1h"
        )),
    }
}

impl Profile {
    pub(crate) fn parse(text: &str) -> Result<Profile, String> {
        let text = text.trim();
        if let Some(x) = text.strip_prefix("diurnal:") {
            return match x.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 && v <= 1e7 => Ok(Profile::Diurnal(v)),
                _ => Err(format!(
                    "diurnal:SPEEDUP needs a speed-up above 0, not '{x}'"
                )),
            };
        }
        let mut segments = Vec::new();
        for (i, part) in text.split(',').enumerate() {
            let form = || {
                format!(
                    "segment {} '{part}' is not ramp:FROM..TO/DURATION, hold:RATE/DURATION or spike:RATE/DURATION",
                    i + 1
                )
            };
            let (kind, rest) = part.trim().split_once(':').ok_or_else(form)?;
            let (rates, time) = rest.split_once('/').ok_or_else(form)?;
            let seconds = duration(time).map_err(|e| format!("segment {}: {e}", i + 1))?;
            let rate = |t: &str| number(t, "rate").map_err(|e| format!("segment {}: {e}", i + 1));
            let (from, to) = match kind {
                "ramp" => {
                    let (a, b) = rates.split_once("..").ok_or_else(form)?;
                    (rate(a)?, rate(b)?)
                }
                "hold" | "spike" => {
                    let r = rate(rates)?;
                    (r, r)
                }
                _ => return Err(form()),
            };
            segments.push(Segment { from, to, seconds });
        }
        if segments.iter().all(|s| s.events() <= 0.0) {
            return Err("no segment has events: every rate is 0".to_string());
        }
        // The run ends with the last event: a pause after it would not run.
        if segments.last().is_some_and(|s| s.events() <= 0.0) {
            return Err(format!(
                "segment {} is a pause at the end: the run ends with the last event, so end the profile with the segment before it",
                segments.len()
            ));
        }
        Ok(Profile::Segments(segments))
    }
}

/// Due times of a run's events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Schedule {
    segments: Vec<Segment>,
    /// Each segment's start: seconds, and events before it.
    starts: Vec<(f64, f64)>,
    total: f64,
}

impl Schedule {
    pub(crate) fn new(segments: Vec<Segment>) -> Schedule {
        let mut starts = Vec::with_capacity(segments.len());
        let (mut t, mut k) = (0.0, 0.0);
        for s in &segments {
            starts.push((t, k));
            t += s.seconds;
            k += if s.seconds.is_infinite() && s.from > 0.0 {
                f64::INFINITY
            } else if s.seconds.is_infinite() {
                0.0
            } else {
                s.events()
            };
        }
        Schedule {
            segments,
            starts,
            total: k,
        }
    }

    /// One rate for ever.
    pub(crate) fn constant(rate: f64) -> Schedule {
        Schedule::new(vec![Segment {
            from: rate,
            to: rate,
            seconds: f64::INFINITY,
        }])
    }

    /// The curve of `hourly` events, each hour lasting 3600/`speedup` s; at
    /// `mean` events/s on average when given, else at the events' own pace.
    pub(crate) fn diurnal(hourly: &[u64], speedup: f64, mean: Option<f64>) -> Schedule {
        let avg = hourly.iter().sum::<u64>() as f64 / hourly.len().max(1) as f64;
        let seconds = 3600.0 / speedup;
        Schedule::new(
            hourly
                .iter()
                .map(|&h| {
                    let rate = match mean {
                        Some(m) if avg > 0.0 => m * h as f64 / avg,
                        Some(_) => 0.0,
                        None => h as f64 / seconds,
                    };
                    Segment {
                        from: rate,
                        to: rate,
                        seconds,
                    }
                })
                .collect(),
        )
    }

    /// This schedule, then on for ever at its last rate (or its mean rate,
    /// when it ends at 0).
    pub(crate) fn open_ended(&self) -> Schedule {
        let seconds = self.seconds();
        let last = self.segments.last().map_or(0.0, |s| s.to);
        let rate = if last > 0.0 {
            last
        } else if seconds > 0.0 && self.total.is_finite() {
            self.total / seconds
        } else {
            0.0
        };
        let mut segments = self.segments.clone();
        segments.push(Segment {
            from: rate,
            to: rate,
            seconds: f64::INFINITY,
        });
        Schedule::new(segments)
    }

    /// This schedule, ending after `events` events.
    pub(crate) fn capped(&self, events: u64) -> Schedule {
        let mut s = self.clone();
        s.total = s.total.min(events as f64);
        s
    }

    /// This schedule with every rate times `share` (a shard's part).
    pub(crate) fn scaled(&self, share: f64) -> Schedule {
        Schedule::new(
            self.segments
                .iter()
                .map(|s| Segment {
                    from: s.from * share,
                    to: s.to * share,
                    seconds: s.seconds,
                })
                .collect(),
        )
    }

    /// Events scheduled by `t` seconds.
    pub(crate) fn events_by(&self, t: f64) -> f64 {
        let i = self
            .starts
            .partition_point(|&(s, _)| s <= t)
            .saturating_sub(1);
        let (s, k) = self.starts[i];
        let seg = &self.segments[i];
        (k + seg.events_by((t - s).min(seg.seconds))).min(self.total)
    }

    /// Events due by `t`: event k is due once `events_by` reaches k.
    pub(crate) fn due_by(&self, t: f64) -> u64 {
        let n = self.events_by(t).floor() + 1.0;
        n.min(self.total.ceil()) as u64
    }

    /// When event `k` is due; `None` past the schedule's end.
    pub(crate) fn time_of(&self, k: u64) -> Option<f64> {
        let k = k as f64;
        if k >= self.total {
            return None;
        }
        // The last segment starting at or before k's events that has any.
        let i = self
            .starts
            .partition_point(|&(_, e)| e <= k)
            .saturating_sub(1);
        let mut i = i;
        while self.segments[i].events() <= 0.0 && i + 1 < self.segments.len() {
            i += 1;
        }
        let (s, e) = self.starts[i];
        Some(s + self.segments[i].time_of(k - e))
    }

    /// Seconds the schedule lasts (infinite for a plain rate).
    pub(crate) fn seconds(&self) -> f64 {
        self.segments.iter().map(|s| s.seconds).sum()
    }

    /// Every event it schedules (infinite for a plain rate).
    pub(crate) fn events(&self) -> f64 {
        self.total
    }
}

/// `total` events split by `shares` into whole numbers that add up to it:
/// each its share rounded down, the rest one each to the largest remainders.
pub(crate) fn quotas(total: u64, shares: &[f64]) -> Vec<u64> {
    let sum: f64 = shares.iter().sum();
    if sum <= 0.0 {
        return vec![0; shares.len()];
    }
    let exact: Vec<f64> = shares.iter().map(|s| total as f64 * s / sum).collect();
    let mut q: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let short = total.saturating_sub(q.iter().sum());
    for &i in order.iter().take(short as usize) {
        q[i] += 1;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(text: &str) -> Vec<Segment> {
        match Profile::parse(text).unwrap() {
            Profile::Segments(s) => s,
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn parses_the_segment_forms() {
        let s = segments("ramp:1000..20000/60s,hold:20000/2m,spike:50000/10,hold:5000/0.5h");
        let want = [
            (1000.0, 20000.0, 60.0),
            (20000.0, 20000.0, 120.0),
            (50000.0, 50000.0, 10.0),
            (5000.0, 5000.0, 1800.0),
        ];
        assert_eq!(s.len(), 4);
        for (s, (f, t, d)) in s.iter().zip(want) {
            assert_eq!((s.from, s.to, s.seconds), (f, t, d));
        }
        assert_eq!(
            Profile::parse("diurnal:96").unwrap(),
            Profile::Diurnal(96.0)
        );
    }

    #[test]
    fn malformed_profiles_say_what_is_wrong() {
        for (text, want) in [
            (
                "ramp:1..2",
                "segment 1 'ramp:1..2' is not ramp:FROM..TO/DURATION",
            ),
            ("hold:10/5s,jump:5/1s", "segment 2 'jump:5/1s' is not"),
            ("hold:-5/1s", "segment 1: rate '-5' is not a number"),
            (
                "hold:5/0s",
                "segment 1: duration '0s' is not a time above 0",
            ),
            ("ramp:5/10s", "segment 1 'ramp:5/10s' is not"),
            ("hold:0/10s", "no segment has events"),
            ("hold:10/1s,hold:0/5s", "segment 2 is a pause at the end"),
            ("diurnal:0", "diurnal:SPEEDUP needs a speed-up above 0"),
            ("", "segment 1 '' is not"),
        ] {
            let e = Profile::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }

    #[test]
    fn due_times_invert_the_integral() {
        let s = Schedule::new(segments("ramp:100..1100/10s,hold:0/5s,hold:500/2s"));
        // 6,000 in the ramp, none in the pause, 1,000 in the hold.
        assert_eq!(s.events(), 7000.0);
        assert_eq!(s.seconds(), 17.0);
        for k in [0u64, 1, 99, 3000, 5999, 6000, 6500, 6999] {
            let t = s.time_of(k).unwrap();
            let back = s.events_by(t);
            assert!((back - k as f64).abs() < 1e-6, "k {k}: t {t}, back {back}");
        }
        // The pause: event 6,000 waits for the hold that starts at 15 s.
        assert!((s.time_of(6000).unwrap() - 15.0).abs() < 1e-9);
        assert_eq!(s.time_of(7000), None);
        assert_eq!(s.due_by(1e9), 7000);
    }

    #[test]
    fn a_ramp_is_monotone_per_second() {
        let s = Schedule::new(segments("ramp:1000..20000/60s"));
        let per_second: Vec<f64> = (0..60)
            .map(|i| s.events_by(i as f64 + 1.0) - s.events_by(i as f64))
            .collect();
        assert!(per_second.windows(2).all(|w| w[1] > w[0]), "{per_second:?}");
        assert!((per_second[0] - 1158.33).abs() < 0.01);
        assert!((per_second[59] - 19841.67).abs() < 0.01);
    }

    #[test]
    fn a_constant_rate_never_ends() {
        let s = Schedule::constant(250.0);
        assert_eq!(s.time_of(1000), Some(4.0));
        assert_eq!(s.due_by(1.0), 251);
        assert!(s.time_of(u64::MAX / 2).is_some());
    }

    #[test]
    fn shares_add_up_to_the_total() {
        let s = Schedule::new(segments("ramp:0..4000/2s,hold:4000/1s"));
        let shares = [0.1, 0.2, 0.3, 0.4];
        let sum: f64 = shares.iter().map(|&f| s.scaled(f).events_by(2.5)).sum();
        assert!((sum - s.events_by(2.5)).abs() < 1e-6);
    }

    #[test]
    fn quotas_add_up_to_the_whole() {
        assert_eq!(quotas(400, &[0.25, 0.25, 0.25, 0.25]), [100, 100, 100, 100]);
        assert_eq!(quotas(10, &[0.5, 0.3, 0.2]), [5, 3, 2]);
        let q = quotas(1001, &[0.31, 0.29, 0.4]);
        assert_eq!(q.iter().sum::<u64>(), 1001);
        assert_eq!(q, [310, 290, 401]);
        assert_eq!(quotas(5, &[0.0, 0.0]), [0, 0]);
    }

    #[test]
    fn a_zero_share_of_a_rate_schedules_nothing() {
        let s = Schedule::constant(100.0).scaled(0.0);
        assert_eq!(s.time_of(0), None);
        let capped = Schedule::constant(100.0).capped(3);
        assert_eq!(capped.time_of(2), Some(0.02));
        assert_eq!(capped.time_of(3), None);
    }

    #[test]
    fn open_ended_runs_on_at_the_last_rate() {
        let s = Schedule::new(segments("hold:100/1s,ramp:100..50/1s")).open_ended();
        assert!(s.events().is_infinite());
        assert!((s.events_by(3.0) - (100.0 + 75.0 + 50.0)).abs() < 1e-9);
    }

    #[test]
    fn diurnal_follows_the_hours() {
        let hourly = [3600u64, 7200, 0, 3600];
        // At the events' own pace, sped up 60 times: a minute per hour.
        let s = Schedule::diurnal(&hourly, 60.0, None);
        assert_eq!(s.seconds(), 240.0);
        assert_eq!(s.events(), 14400.0);
        assert!((s.events_by(60.0) - 3600.0).abs() < 1e-9);
        // With a mean rate: the same shape, scaled to it.
        let m = Schedule::diurnal(&hourly, 60.0, Some(10.0));
        assert!((m.events_by(240.0) / 240.0 - 10.0).abs() < 1e-9);
        assert!((m.events_by(120.0) - m.events_by(60.0) - 2.0 * m.events_by(60.0)).abs() < 1e-9);
    }
}
