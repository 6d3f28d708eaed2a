//! Where data lands. Object sinks take whole files under relative keys
//! (`clicks/ingest_date=…/part-….parquet`) and make each visible only when
//! complete; record sinks take JSON lines, one record each, with a partition
//! key per line.
//!
//! [`Destination::open`] builds a sink from a URL without touching the
//! network; `check` is the separate health check (bucket or stream exists,
//! credentials work), skipped with `--skip-sink-check`. Adding a sink is one
//! file here and one arm in `open`.

mod aws;
mod firehose;
mod folder;
mod kinesis;
mod s3;
mod stdout;
mod streams;

use std::sync::Arc;

use tokio::runtime::Handle;

use crate::error::Error;
use crate::metrics::Metrics;

/// Options of the sinks that use them; the rest ignore them.
#[derive(Clone, Debug)]
pub(crate) struct SinkOptions {
    /// An AWS-compatible server; path-style S3 addressing is used with it.
    pub endpoint_url: Option<String>,
    /// S3: SSE-KMS with this key; SSE-S3 when unset.
    pub sse_kms_key: Option<String>,
    /// S3: conditional writes that refuse to replace an object.
    pub no_overwrite: bool,
    /// S3: files at least this large use multipart upload.
    pub multipart_threshold: usize,
    pub part_size: usize,
    /// Requests in flight; each sink has its own default.
    pub concurrency: Option<usize>,
    /// Skip the health check.
    pub skip_check: bool,
}

/// What every sink gets to build itself.
pub(crate) struct SinkContext<'a> {
    pub options: &'a SinkOptions,
    /// The I/O runtime; sinks block on it from the pipeline's threads.
    pub runtime: Handle,
    pub metrics: Arc<Metrics>,
}

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

pub(crate) enum Destination {
    Objects(Box<dyn ObjectSink>),
    Records(Box<dyn RecordSink>),
}

/// `scheme://rest`; a bare path is a local folder.
fn split(url: &str) -> (&str, &str) {
    match url.split_once("://") {
        Some(parts) => parts,
        None if url == "stdout" => ("stdout", ""),
        None => ("file", url),
    }
}

impl Destination {
    /// The sink `url` names. Builds clients but sends nothing.
    pub(crate) fn open(url: &str, ctx: &SinkContext<'_>) -> Result<Destination, Error> {
        let (scheme, rest) = split(url);
        Ok(match scheme {
            "file" => Destination::Objects(Box::new(folder::FolderSink::open(rest, ctx)?)),
            "s3" => Destination::Objects(Box::new(s3::S3Sink::open(rest, ctx)?)),
            "kinesis" => Destination::Records(Box::new(kinesis::open(rest, ctx)?)),
            "firehose" => Destination::Records(Box::new(firehose::open(rest, ctx)?)),
            "stdout" => Destination::Records(Box::new(stdout::StdoutSink::open(ctx))),
            other => {
                return Err(Error::usage(format!(
                    "invalid destination '{url}': unknown scheme '{other}' (expected a folder, s3://, kinesis://, firehose:// or stdout)"
                )));
            }
        })
    }
}
