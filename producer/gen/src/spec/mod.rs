//! The dataset spec: everything that decides generated values, and nothing
//! else. Two runs with equal specs produce identical files; output place,
//! threads and shard live outside it (in the CLI's settings).
//!
//! Defaults come from one embedded file, `producer/defaults.toml`, which is
//! also the documented example of every key.

pub(crate) mod dirty;
pub(crate) mod error;
pub(crate) mod format;
mod limits;
pub(crate) mod world;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use dirty::DirtyConfig;
pub use error::SpecError;
pub use format::{Compression, Format};
pub use limits::{FIRST_DAY, LAST_DAY, MAX_CHUNKS_PER_HOUR, MAX_EVENTS_PER_HOUR, MAX_USERS};
pub use world::{Campaign, PaymentMix, WorldConfig, campaign_referrer};

use crate::tables::catalog::Domain;

/// Version of the data contract. Bump it whenever generated values change.
pub const CONTRACT_VERSION: u32 = 3;

/// Every key `marketpulse` reads, at its default: run settings at the top,
/// then `[world]` and `[dirty]`.
pub const DEFAULTS_TOML: &str = include_str!("../../../defaults.toml");

/// Longest run, in days.
pub const MAX_DAYS: u32 = 36_600;
/// Largest volume multiplier.
pub const MAX_SCALE: f64 = 10_000.0;

/// Everything that decides generated values. Field order is part of the
/// contract: the spec's JSON names the run (`id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub contract_version: u32,
    pub start: NaiveDate,
    pub days: u32,
    pub scale: f64,
    pub seed: u64,
    pub format: Format,
    pub compression: Compression,
    /// Tables to generate, in registry order.
    pub domains: Vec<Domain>,
    pub world: WorldConfig,
    pub dirty: DirtyConfig,
}

impl Default for DatasetSpec {
    /// The embedded defaults.
    fn default() -> Self {
        #[derive(Deserialize)]
        struct Top {
            start: NaiveDate,
            days: u32,
            scale: f64,
            seed: u64,
            format: Format,
            compression: Option<Compression>,
            domains: Vec<Domain>,
            world: WorldConfig,
            dirty: DirtyConfig,
        }
        let mut table: toml::Table = toml::from_str(DEFAULTS_TOML).expect("defaults.toml parses");
        let keep = [
            "start",
            "days",
            "scale",
            "seed",
            "format",
            "compression",
            "domains",
            "world",
            "dirty",
        ];
        table.retain(|k, _| keep.contains(&k));
        let t: Top = table.try_into().expect("defaults.toml holds a valid spec");
        DatasetSpec {
            contract_version: CONTRACT_VERSION,
            start: t.start,
            days: t.days,
            scale: t.scale,
            seed: t.seed,
            format: t.format,
            compression: t
                .compression
                .unwrap_or_else(|| Compression::default_for(t.format)),
            domains: t.domains,
            world: t.world,
            dirty: t.dirty,
        }
    }
}

impl Default for WorldConfig {
    /// The embedded defaults' `[world]`.
    fn default() -> Self {
        DatasetSpec::default().world
    }
}

impl Default for DirtyConfig {
    /// The embedded defaults' `[dirty]`.
    fn default() -> Self {
        DatasetSpec::default().dirty
    }
}

impl DatasetSpec {
    /// The ending of data files: `parquet`, `jsonl`, `jsonl.gz`, `csv.zst`.
    pub fn file_extension(&self) -> String {
        match (self.format, self.compression) {
            (Format::Parquet, _) | (_, Compression::None) => self.format.extension().to_string(),
            (f, Compression::Gzip) => format!("{}.gz", f.extension()),
            (f, Compression::Zstd) => format!("{}.zst", f.extension()),
            (f, Compression::Snappy) => format!("{}.snappy", f.extension()),
        }
    }

    /// Short content hash of the spec; names the run's manifests.
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).expect("spec serialises");
        let digest = Sha256::digest(&json);
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks every value and every cross-field rule; the first problem
    /// found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.contract_version != CONTRACT_VERSION {
            return Err(SpecError::new(
                "contract_version",
                format!(
                    "this producer writes contract v{CONTRACT_VERSION}, not v{}",
                    self.contract_version
                ),
            ));
        }
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(SpecError::new(
                "days",
                format!("must be between 1 and {MAX_DAYS}"),
            ));
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= MAX_SCALE) {
            return Err(SpecError::new(
                "scale",
                format!("must be a number above 0 and at most {MAX_SCALE}"),
            ));
        }
        if self.format != Format::Parquet && self.compression == Compression::Snappy {
            return Err(SpecError::new(
                "compression",
                format!(
                    "snappy is for Parquet pages; {} files take gzip, zstd or none",
                    self.format.name()
                ),
            ));
        }
        if self.domains.is_empty() {
            return Err(SpecError::new("domains", "name at least one table"));
        }
        if !self.domains.is_sorted_by(|a, b| a < b) {
            return Err(SpecError::new(
                "domains",
                "must be in registry order, without repeats",
            ));
        }
        self.world.validate()?;
        self.dirty.validate()?;
        limits::check(self.start, self.days, self.scale, &self.world)?;
        if self.world.signup_to >= self.start {
            return Err(SpecError::new(
                "start",
                format!(
                    "events reference signed-up users, so it must be after world.signup_to ({})",
                    self.world.signup_to
                ),
            ));
        }
        Ok(())
    }

    /// The spec's days, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..self.days).map(|d| self.start + chrono::Days::new(d as u64))
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let spec = DatasetSpec::default();
        spec.validate().unwrap();
        assert_eq!(spec.days, 1);
        assert_eq!(spec.start, NaiveDate::from_ymd_opt(2025, 1, 6).unwrap());
        assert_eq!(spec.domains.len(), 4);
    }

    /// The run id names manifests: the spec's JSON must not drift.
    #[test]
    fn default_spec_id_is_pinned() {
        assert_eq!(DatasetSpec::default().id(), "9c35f5cf2e46c6d7");
    }

    #[test]
    fn spec_id_tracks_values() {
        let a = DatasetSpec::default();
        let b = DatasetSpec {
            seed: 1,
            ..DatasetSpec::default()
        };
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn validation_names_the_key() {
        let spec = DatasetSpec {
            scale: 0.0,
            ..DatasetSpec::default()
        };
        assert_eq!(spec.validate().unwrap_err().key, "scale");
        let mut spec = DatasetSpec::default();
        spec.dirty.late = 0.6;
        spec.dirty.malformed = 0.6;
        let e = spec.validate().unwrap_err();
        assert_eq!(e.key, "dirty");
        assert!(e.message.contains("rates sum to 1.2"), "{e}");
    }
}
