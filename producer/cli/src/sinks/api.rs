//! What every sink offers the pipeline, and what it is built from: the
//! object and record sink traits, the sinks' options and context.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::Error;
use crate::metrics::Metrics;

/// Options of the sinks that use them; the rest ignore them.
#[derive(Clone, Debug)]
pub(crate) struct SinkOptions {
    /// An AWS-compatible server; path-style S3 addressing is used with it.
    pub endpoint_url: Option<String>,
    /// S3: SSE-KMS with this key; the bucket's default encryption when unset.
    pub sse_kms_key: Option<String>,
    /// Refuse to replace a data file (conditional writes on S3). The
    /// bookkeeping under `_manifests/` is rewritten as runs go.
    pub no_overwrite: bool,
    /// S3: files at least this large use multipart upload.
    pub multipart_threshold: usize,
    pub part_size: usize,
    /// Requests in flight; each sink has its own default.
    pub concurrency: Option<usize>,
    /// Skip the health check.
    pub skip_check: bool,
}

impl SinkOptions {
    /// Options for reading a lake: only the endpoint matters.
    pub(crate) fn reading(endpoint_url: Option<String>) -> SinkOptions {
        SinkOptions {
            endpoint_url,
            sse_kms_key: None,
            no_overwrite: false,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            concurrency: None,
            skip_check: true,
        }
    }
}

/// What every sink gets to build itself.
pub(crate) struct SinkContext<'a> {
    pub options: &'a SinkOptions,
    /// The I/O runtime; sinks block on it from the pipeline's threads.
    pub runtime: Handle,
    pub metrics: Arc<Metrics>,
    /// Names the writer (run and shard) in its temporary files, so a restart
    /// removes its own leftovers and nobody else's.
    pub owner: String,
}

/// An object `list` found: its key below the sink's root and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Listed {
    pub key: String,
    pub size: u64,
}

/// Held while a run writes its shard; dropping it releases the lock.
pub(crate) trait Lock: Send {}

/// A destination for whole files addressed by a relative key.
pub(crate) trait ObjectSink: Send + Sync {
    /// Stores `bytes` under `key`, atomically: readers see the old object,
    /// or the complete new one, never a part.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error>;
    /// Human-readable location of `key`, for messages.
    fn describe(&self, key: &str) -> String;
    /// Fails fast when the destination cannot be written.
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Sets aside `bytes` of space for the manifest, where space can run out.
    fn reserve(&self, _bytes: u64) -> Result<(), Error> {
        Ok(())
    }
    /// Frees what `reserve` set aside, just before the manifest is written.
    fn release(&self) {}
    /// Files in flight at once.
    fn concurrency(&self) -> usize {
        1
    }
    /// Every object whose key starts with `prefix` (`""` for all), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, Error>;
    /// The bytes under `key`, or `None` when there is no such object.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;
    /// Removes `key`; an absent key is not an error.
    fn delete(&self, key: &str) -> Result<(), Error>;
    /// Stores `bytes` under `key` only if nothing is there yet; `false`
    /// when something was.
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, Error>;
    /// Removes what a killed writer named `owner` left half-written: its
    /// temporary files, or the multipart uploads of keys `mine` claims.
    /// Returns how many it removed.
    fn clean_up(&self, owner: &str, mine: &dyn Fn(&str) -> bool) -> Result<u64, Error>;
    /// Takes the exclusive lock `key`, or fails saying who holds it. A lock
    /// its holder stopped renewing for `lease` is free again (where the
    /// store cannot tell a dead holder by itself).
    fn lock(&self, key: &str, lease: Duration) -> Result<Box<dyn Lock>, Error>;
}

/// A destination for records: JSON lines with a partition key each.
pub(crate) trait RecordSink: Send + Sync {
    /// Sends every line of `jsonl` (newline included) as one record; `what`
    /// names the lines in messages.
    fn put_records(&self, what: &str, jsonl: &[u8], partition_keys: &[String])
    -> Result<(), Error>;
    /// `kinesis://name`, for messages and metrics.
    fn describe(&self) -> String;
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Batches in flight at once.
    fn concurrency(&self) -> usize {
        1
    }
}

/// Whether `--no-overwrite` guards `key`: data files, not bookkeeping.
pub(crate) fn guarded(options: &SinkOptions, key: &str) -> bool {
    options.no_overwrite && !key.starts_with("_manifests/")
}
