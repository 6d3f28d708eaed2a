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

/// Which of the two kinds a destination URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A lake of files: a folder or s3://.
    Objects,
    /// A stream of records: kinesis://, firehose:// or stdout.
    Records,
}

impl Destination {
    /// What `url` names, refused as `open` refuses it, without building
    /// anything: `--dry-run` and `--print-config` check what a run checks.
    pub(crate) fn kind(url: &str) -> Result<Kind, Error> {
        let (scheme, rest) = split(url);
        match scheme {
            "file" => folder::check_root(rest).map(|()| Kind::Objects),
            "s3" => s3::check_url(rest).map(|()| Kind::Objects),
            "kinesis" | "firehose" => streams::check_name(scheme, rest).map(|()| Kind::Records),
            "stdout" => Ok(Kind::Records),
            other => Err(unknown_scheme(url, other)),
        }
    }

    /// The sink `url` names. Builds clients but sends nothing.
    pub(crate) fn open(url: &str, ctx: &SinkContext<'_>) -> Result<Destination, Error> {
        let (scheme, rest) = split(url);
        Ok(match scheme {
            "file" => Destination::Objects(Box::new(folder::FolderSink::open(rest, ctx)?)),
            "s3" => Destination::Objects(Box::new(s3::S3Sink::open(rest, ctx)?)),
            "kinesis" => Destination::Records(Box::new(kinesis::open(rest, ctx)?)),
            "firehose" => Destination::Records(Box::new(firehose::open(rest, ctx)?)),
            "stdout" => Destination::Records(Box::new(stdout::StdoutSink::open(ctx))),
            other => return Err(unknown_scheme(url, other)),
        })
    }
}

fn unknown_scheme(url: &str, scheme: &str) -> Error {
    Error::usage(format!(
        "invalid destination '{url}': unknown scheme '{scheme}' (expected a folder, s3://, kinesis://, firehose:// or stdout)"
    ))
}
