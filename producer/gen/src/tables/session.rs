//! Click sessions: who visits, from which source, and which funnel steps
//! they walk. Clicks write the steps; sales replay the same sessions from the
//! same stream to find those that reached checkout confirmation.

use rand::RngExt;
use rand_distr::{Distribution, Exp};

use super::columns::{HOUR, SECOND, hour_start_us};
use crate::calendar::local_start;
use crate::plan::unit::Unit;
use crate::plan::volumes::{DayVolumes, PerCountry, chunk_share};
use crate::seed::{StreamRng, stream, tag};
use crate::world::{COUNTRIES, PageKind, SourceTable, World};

/// Cumulative probabilities of the landing page and of the next page kind
/// (six kinds, then exit).
struct Transitions {
    landing: [f64; 3],
    rows: [[f64; 7]; 5],
}

impl Transitions {
    fn new(world: &World) -> Transitions {
        let w = &world.config;
        let mut landing = [0.0; 3];
        let mut acc = 0.0;
        for (i, kind) in PageKind::ALL[..3].iter().enumerate() {
            acc += w.landing.get(kind.name()).copied().unwrap_or(0.0);
            landing[i] = acc;
        }
        // Landing shares are normalised: every session lands somewhere.
        for l in &mut landing {
            *l /= acc.max(f64::MIN_POSITIVE);
        }
        let mut rows = [[1.0; 7]; 5];
        for (from, row) in rows.iter_mut().enumerate() {
            let probs = w.funnel.get(PageKind::ALL[from].name());
            let mut acc = 0.0;
            for (to, cell) in row.iter_mut().enumerate().take(6) {
                acc += probs
                    .and_then(|p| p.get(PageKind::ALL[to].name()))
                    .copied()
                    .unwrap_or(0.0);
                *cell = acc;
            }
        }
        Transitions { landing, rows }
    }

    fn landing(&self, u: f64) -> PageKind {
        PageKind::ALL[self.landing.iter().position(|&c| u < c).unwrap_or(2)]
    }

    /// The next page kind, or `None` when the session exits.
    fn next(&self, from: PageKind, u: f64) -> Option<PageKind> {
        if from == PageKind::Confirmation {
            return None;
        }
        let to = self.rows[from as usize].iter().position(|&c| u < c)?;
        PageKind::ALL.get(to).copied()
    }
}

/// One session's structure; its steps live in the walker's buffer.
pub(crate) struct Session {
    pub(crate) seq: u64,
    pub(crate) user: u64,
    pub(crate) country: usize,
    pub(crate) source: u16,
    /// Indexes into the source's utm_term and utm_content values.
    pub(crate) term: u8,
    pub(crate) content: u8,
    pub(crate) start_us: i64,
    /// Time of the purchase, for sessions that reached confirmation.
    pub(crate) sale_us: Option<i64>,
}

pub(crate) struct Step {
    pub(crate) kind: PageKind,
    pub(crate) offset_us: i64,
}

/// Replays the sessions of a clicks unit from its structure stream, country
/// by country, until each country's planned clicks are used up.
pub(crate) struct SessionWalker<'w> {
    world: &'w World,
    rng: StreamRng,
    transitions: Transitions,
    gap: Option<Exp<f64>>,
    hour_start: i64,
    remaining: PerCountry,
    pub(crate) total: u64,
    country: usize,
    sources: Vec<SourceTable>,
    next_seq: u64,
    pub(crate) steps: Vec<Step>,
}

impl<'w> SessionWalker<'w> {
    pub(crate) fn new(world: &'w World, unit: &Unit) -> Self {
        let vol = DayVolumes::new(world, unit.date);
        let remaining: PerCountry = std::array::from_fn(|c| {
            chunk_share(vol.clicks[unit.hour as usize][c], unit.chunks, unit.chunk)
        });
        let hour_start = hour_start_us(unit);
        let utc = chrono::DateTime::from_timestamp_micros(hour_start).expect("valid hour");
        let sources = (0..COUNTRIES.len())
            .map(|c| world.source_table(local_start(world.timezones_of_country[c], utc).date))
            .collect();
        let mean = world.config.click_gap_mean_seconds;
        SessionWalker {
            world,
            rng: stream(&unit.seed_words(world.seed, tag("clicks"), tag("sessions"))),
            transitions: Transitions::new(world),
            gap: (mean > 0.0).then(|| Exp::new(1.0 / mean).expect("positive rate")),
            hour_start,
            total: remaining.iter().sum(),
            remaining,
            country: 0,
            sources,
            next_seq: 0,
            steps: Vec::with_capacity(64),
        }
    }

    pub(crate) fn next_session(&mut self) -> Option<Session> {
        while self.remaining[self.country] == 0 {
            self.country += 1;
            if self.country == COUNTRIES.len() {
                return None;
            }
        }
        let country = self.country;
        let remaining = self.remaining[country];
        let rng = &mut self.rng;
        let user = self.world.active_user(rng, country);
        let source = self.sources[country].sample(rng);
        let src = &self.world.sources[source as usize];
        let pick = |rng: &mut StreamRng, n: usize| {
            if n > 1 {
                rng.random_range(0..n) as u8
            } else {
                0
            }
        };
        let term = pick(rng, src.terms.len());
        let content = pick(rng, src.contents.len());
        let max_steps = (self.world.config.max_session_clicks as u64).min(remaining);
        self.steps.clear();
        let mut kind = self.transitions.landing(rng.random::<f64>());
        let mut offset = 0i64;
        loop {
            self.steps.push(Step {
                kind,
                offset_us: offset,
            });
            if self.steps.len() as u64 >= max_steps {
                break;
            }
            let Some(next) = self.transitions.next(kind, rng.random::<f64>()) else {
                break;
            };
            let gap_s = self.gap.map_or(0.0, |g| g.sample(rng)).min(600.0);
            let gap = SECOND + (gap_s * SECOND as f64) as i64;
            if offset + gap >= HOUR - 60 * SECOND {
                break; // the visit times out within the hour
            }
            offset += gap;
            kind = next;
        }
        let mut duration = offset;
        let mut sale_offset = None;
        if kind == PageKind::Confirmation {
            let delay =
                rng.random_range(1..=self.world.config.checkout_delay_max_seconds as i64) * SECOND;
            sale_offset = Some(offset + delay);
            duration += delay;
        }
        let start = self.hour_start + rng.random_range(0..(HOUR - duration).max(1));
        self.remaining[country] -= self.steps.len() as u64;
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Session {
            seq,
            user,
            country,
            source,
            term,
            content,
            start_us: start,
            sale_us: sale_offset.map(|o| start + o),
        })
    }
}
