//! Where data lands. Object sinks take whole files under relative keys
//! (`clicks/ingest_date=…/part-….parquet`) and make each visible only when
//! complete; record sinks take JSON lines, one record each, with a partition
//! key per line.
//!
//! [`Destination::open`] builds a sink from a URL without touching the
//! network; `check` is the separate health check (bucket or stream exists,
//! credentials work), skipped with `--skip-sink-check`. Adding a sink is one
//! file here and one arm in `open`.

mod api;
mod aws;
mod firehose;
mod folder;
mod kinesis;
mod s3;
mod stdout;
mod streams;

use crate::error::Error;

pub(crate) use api::{Listed, ObjectSink, RecordSink, SinkContext, SinkOptions};

pub(crate) enum Destination {
    Objects(Box<dyn ObjectSink>),
    Records(Box<dyn RecordSink>),
}

/// The name prefix of temporary files in folder lakes.
pub(crate) fn folder_temp_prefix() -> &'static str {
    folder::TEMP_PREFIX
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
