//! Which rows of a unit get a defect, and which: one seeded draw per row
//! from the unit's dirty stream, against the `[dirty]` rates.

use rand::RngExt;
use rand_distr::{Distribution, Exp};

use super::defects::{DefectKind, malformed_kinds};
use crate::plan::unit::Unit;
use crate::seed::{StreamRng, stream, tag};
use crate::world::World;

/// Per-row edit before the batch is rebuilt.
pub(super) enum Edit {
    /// Leaves this unit to land this many hours later (see `late`).
    Late(i64),
    Copy,
    NearCopy,
    Malformed(DefectKind),
}

/// The rows of a unit's clean batch of `n` rows that get a defect, in row
/// order, and the unit's dirty stream positioned after those draws.
pub(super) fn pick(
    world: &World,
    unit: &Unit,
    n: usize,
) -> Option<(StreamRng, Vec<(usize, Edit)>)> {
    let spec = &world.spec;
    let cfg = &spec.dirty;
    let shape = unit.domain.events().and_then(|e| e.dirty)?;
    if !cfg.any() {
        return None;
    }
    let mut rng: StreamRng =
        stream(&unit.seed_words(spec.seed, tag(unit.domain.name()), tag("dirty")));
    let kinds = malformed_kinds(&shape, spec.format);
    let delay = (cfg.late_mean_hours > 0.0).then(|| Exp::new(1.0 / cfg.late_mean_hours).unwrap());
    let cuts = [
        cfg.late,
        cfg.late + cfg.duplicates,
        cfg.late + cfg.duplicates + cfg.near_duplicates,
        cfg.late + cfg.duplicates + cfg.near_duplicates + cfg.malformed,
    ];
    let mut edits: Vec<(usize, Edit)> = Vec::new();
    for row in 0..n {
        let u = rng.random::<f64>();
        if u >= cuts[3] {
            continue;
        }
        let edit = if u < cuts[0] {
            let extra = delay.map_or(0.0, |d| d.sample(&mut rng)).floor();
            let hours = (1.0 + extra).min(cfg.late_max_hours as f64) as i64;
            Edit::Late(hours)
        } else if u < cuts[1] {
            Edit::Copy
        } else if u < cuts[2] {
            Edit::NearCopy
        } else {
            Edit::Malformed(kinds[rng.random_range(0..kinds.len())])
        };
        edits.push((row, edit));
    }
    Some((rng, edits))
}
