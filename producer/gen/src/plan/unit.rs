//! A unit of work, (domain, date, hour, chunk): a file's worth of rows. Its
//! rows and random streams depend only on the spec and the unit, so any
//! thread or shard may run it.

use chrono::{Datelike, NaiveDate};

use crate::tables::catalog::Domain;

/// Most rows one unit (one file) holds. Part of the data contract.
pub const CHUNK_ROWS: u64 = 250_000;
/// Users per users file. Each user brings every SCD2 version, so files stay
/// near `CHUNK_ROWS` rows with a few versions per user.
pub const USERS_PER_FILE: u64 = 50_000;
/// Day 0 of unit ids.
pub const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub domain: Domain,
    pub date: NaiveDate,
    /// 0..24 for sales and clicks; 0 for snapshots.
    pub hour: u32,
    pub chunk: u32,
    /// Chunks in this hour (or snapshot).
    pub chunks: u32,
}

impl Unit {
    pub(crate) fn day_index(&self) -> u64 {
        (self.date - EPOCH).num_days() as u64
    }

    /// Words that seed this unit's streams: (seed, domain, date, hour, chunk).
    pub(crate) fn seed_words(&self, seed: u64, domain_tag: u64, stream_tag: u64) -> [u64; 6] {
        [
            seed,
            domain_tag,
            self.day_index(),
            self.hour as u64,
            self.chunk as u64,
            stream_tag,
        ]
    }

    /// Unique 63-bit id of row `seq` of this unit: day (20 bits), hour (5),
    /// chunk (14), sequence (24).
    #[inline]
    pub(crate) fn row_id(&self, seq: u64) -> i64 {
        debug_assert!(seq < 1 << 24 && self.chunk < 1 << 14);
        ((self.day_index() << 43) | ((self.hour as u64) << 38) | ((self.chunk as u64) << 24) | seq)
            as i64
    }

    fn is_event(&self) -> bool {
        self.domain.events().is_some()
    }

    /// File name stem, unique per domain: `YYYYMMDD-HH-CCCC` (events) or
    /// `YYYYMMDD-CCCC` (snapshots).
    pub fn name(&self) -> String {
        let d = self.date;
        if self.is_event() {
            format!(
                "{:04}{:02}{:02}-{:02}-{:04}",
                d.year(),
                d.month(),
                d.day(),
                self.hour,
                self.chunk
            )
        } else {
            format!(
                "{:04}{:02}{:02}-{:04}",
                d.year(),
                d.month(),
                d.day(),
                self.chunk
            )
        }
    }

    /// Partition path below the domain folder.
    pub fn partition(&self) -> String {
        if self.is_event() {
            format!("ingest_date={}/hour={:02}", self.date, self.hour)
        } else {
            format!("snapshot_date={}", self.date)
        }
    }

    pub fn path(&self, extension: &str) -> String {
        format!(
            "{}/{}/part-{}.{extension}",
            self.domain.name(),
            self.partition(),
            self.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_do_not_collide_across_units() {
        let date = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let u = |hour, chunk| Unit {
            domain: Domain::named("clicks"),
            date,
            hour,
            chunk,
            chunks: 2,
        };
        let ids = [
            u(0, 0).row_id(1),
            u(0, 1).row_id(1),
            u(1, 0).row_id(1),
            u(23, 1).row_id((1 << 24) - 1),
        ];
        let mut sorted = ids.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|&i| i > 0));
    }
}
