//! What the capacity model takes: the planned window's tables (volumes from
//! the generator's plan, speeds and sizes from a calibration), the machine,
//! and where the data goes. AWS's units come with it.

use serde::Serialize;

/// Hours in a month, as AWS bills them.
pub(crate) const MONTH_HOURS: f64 = 730.0;
/// GB as AWS bills storage and Firehose ingestion: 2^30 bytes.
pub(crate) const GB: f64 = 1_073_741_824.0;
/// Kinesis limits count KB and MB in powers of two.
pub(crate) const KB: f64 = 1024.0;
pub(crate) const MB: f64 = 1_048_576.0;
/// S3 multipart: files from this size go up in parts of `PART_BYTES`.
pub(crate) const MULTIPART_BYTES: f64 = 16.0 * MB;
pub(crate) const PART_BYTES: f64 = 8.0 * MB;
/// A record's partition key: a user or session id, as decimal text.
pub(crate) const PARTITION_KEY_BYTES: f64 = 10.0;

/// Where the data goes: the lake, or a stream of JSON-lines records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    S3,
    Kinesis,
    Firehose,
}

/// What runs the producers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Emr,
    Ecs,
}

/// One table of the planned window: what the generator's plan gives, and
/// what the calibration says of its format.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub name: String,
    pub events: bool,
    pub rows: f64,
    pub files: f64,
    pub events_per_core_second: f64,
    pub seconds_per_file: f64,
    /// CPU seconds per wall second of a one-thread run (the I/O threads
    /// work beside the worker).
    pub cpu_per_wall: f64,
    pub bytes_per_event: f64,
    pub bytes_per_file: f64,
    /// Sink requests per data file (manifest, journal and truth included).
    pub requests_per_file: f64,
    /// JSON-lines bytes per event: the size of a stream record.
    pub record_bytes: f64,
}

impl Table {
    /// Wall seconds of one worker thread for the table's rows and files.
    pub(crate) fn worker_seconds(&self) -> f64 {
        self.rows / self.events_per_core_second + self.files * self.seconds_per_file
    }
}

/// What the machine adds beyond the tables.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    pub startup_seconds: f64,
    pub cores: usize,
    pub efficiency: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub events_per_day: f64,
    pub days: f64,
    pub tables: Vec<Table>,
    /// Events per UTC hour of the window.
    pub hourly_events: Vec<f64>,
    pub sink: Sink,
    pub engine: Engine,
    pub spot: bool,
    pub instance_type: String,
    pub backfill_hours: Option<f64>,
    /// Threads of the local run whose wall time is predicted.
    pub threads: usize,
}

impl Input {
    /// The tables of events (sales, clicks), not snapshots.
    pub(crate) fn event_tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter().filter(|t| t.events)
    }
}
