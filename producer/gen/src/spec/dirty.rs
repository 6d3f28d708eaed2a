//! Rates of the defects injected on purpose (`[dirty]`); what each defect
//! does is in `crate::dirty`.

use serde::{Deserialize, Serialize};

use super::error::SpecError;

/// Every rate is the share of a file's clean rows picked for that defect; a
/// row gets at most one. All are off by default. Field order is part of the
/// contract (it is hashed into the run id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirtyConfig {
    /// The row, unchanged, lands 1 + Exp(late_mean_hours) hours (at most
    /// `late_max_hours`) after its event hour (`crate::dirty` `late`).
    pub late: f64,
    pub late_mean_hours: f64,
    pub late_max_hours: u32,
    /// An exact copy of the row follows it.
    pub duplicates: f64,
    /// A copy with the same id and a changed payload follows it.
    pub near_duplicates: f64,
    /// The row is broken in one of the ways `crate::dirty::DEFECTS` lists
    /// for its table and format.
    pub malformed: f64,
}

/// Longest delay of a late row: a unit gathers the late rows of this many
/// hours before it, so the cost of late data grows with it.
pub const MAX_LATE_HOURS: u32 = 168;

impl DirtyConfig {
    pub fn any(&self) -> bool {
        self.late + self.duplicates + self.near_duplicates + self.malformed > 0.0
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |key: &str, m: String| Err(SpecError::new(format!("dirty.{key}"), m));
        for (name, v) in [
            ("late", self.late),
            ("duplicates", self.duplicates),
            ("near_duplicates", self.near_duplicates),
            ("malformed", self.malformed),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return bad(name, format!("{name} = {v} must be a rate between 0 and 1"));
            }
        }
        let sum = self.late + self.duplicates + self.near_duplicates + self.malformed;
        if sum > 1.0 + 1e-9 {
            return Err(SpecError::new(
                "dirty",
                format!("rates sum to {sum}, above 1: a row gets at most one defect"),
            ));
        }
        if !(self.late_mean_hours.is_finite() && (0.0..=1000.0).contains(&self.late_mean_hours)) {
            return bad(
                "late_mean_hours",
                "late_mean_hours must be between 0 and 1000".into(),
            );
        }
        // Each unit gathers the late rows of this many hours before it.
        if !(1..=MAX_LATE_HOURS).contains(&self.late_max_hours) {
            return bad(
                "late_max_hours",
                format!("late_max_hours must be between 1 and {MAX_LATE_HOURS} (a week)"),
            );
        }
        Ok(())
    }
}
