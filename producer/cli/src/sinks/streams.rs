//! The core that Kinesis Data Streams and Firehose share: one record per
//! JSON line (newline included, so Firehose delivers valid JSON lines),
//! batches within the API's limits, and a resend of only the entries a
//! response marks as failed, with jittered backoff.
//!
//! The APIs can still duplicate: when a response is lost after the service
//! stored a batch (a timeout or dropped connection), the SDK resends the
//! whole request, and neither API deduplicates. Consumers that need
//! exactly-once deduplicate on `event_id` / `transaction_id`.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use super::api::{RecordSink, SinkContext};
use super::aws::{self, CountRetries};
use crate::error::Error;
use crate::metrics::Metrics;

/// Sends of one batch, the first included, before the run fails.
const BATCH_ATTEMPTS: u32 = 20;

/// An API's limits per request and per record.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub records: usize,
    pub request_bytes: usize,
    /// Data plus partition key, per record.
    pub record_bytes: usize,
}

/// One record: its data and partition key.
pub(super) type Record<'a> = (&'a [u8], &'a str);

/// A stream API: sends a batch and answers per entry.
pub(super) trait BatchApi: Send + Sync {
    /// `kinesis`, `firehose`.
    fn scheme(&self) -> &'static str;
    fn name(&self) -> &str;
    fn limits(&self) -> Limits;
    /// The stream exists and answers.
    async fn describe(&self) -> Result<(), String>;
    /// Sends `records`; per record, its error code when it failed.
    async fn put(&self, records: &[Record<'_>]) -> Result<Vec<Option<String>>, String>;
}

/// Cuts records into batches within `limits`; fails on a record that alone
/// is over the per-record limit.
pub(super) fn batches(
    records: &[Record<'_>],
    limits: Limits,
    what: &str,
) -> Result<Vec<Range<usize>>, Error> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (data, key)) in records.iter().enumerate() {
        let size = data.len() + key.len();
        if size > limits.record_bytes {
            return Err(Error::runtime(format!(
                "record {i} of {what} is {size} bytes, above the {} byte limit per record",
                limits.record_bytes
            )));
        }
        if i > start && (i - start == limits.records || bytes + size > limits.request_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        out.push(start..records.len());
    }
    Ok(out)
}

/// Backoff before resending failed entries: exponential, capped, with full
/// jitter from the clock (it never touches generated values).
fn backoff(attempt: u32) -> Duration {
    let cap = (50u64 << attempt.min(7)).min(5_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    Duration::from_millis(cap / 2 + nanos % (cap / 2 + 1))
}

fn is_throttle(code: &str) -> bool {
    code.contains("ProvisionedThroughputExceeded") || code.contains("Throttl")
}

/// Sends one batch until every entry is in, resending only failed entries
/// after `pause(attempt)`.
pub(super) async fn send<A: BatchApi>(
    api: &A,
    metrics: &Metrics,
    records: &[Record<'_>],
    pause: fn(u32) -> Duration,
) -> Result<(), String> {
    let mut pending: Vec<usize> = (0..records.len()).collect();
    for attempt in 0..BATCH_ATTEMPTS {
        if attempt > 0 {
            metrics.retry();
            tokio::time::sleep(pause(attempt)).await;
        }
        let batch: Vec<Record<'_>> = pending.iter().map(|&i| records[i]).collect();
        let bytes: usize = batch.iter().map(|(d, k)| d.len() + k.len()).sum();
        let started = Instant::now();
        let answers = api.put(&batch).await?;
        if answers.len() != batch.len() {
            return Err(format!(
                "{} answered {} entries for {} records",
                api.scheme(),
                answers.len(),
                batch.len()
            ));
        }
        let failed: Vec<(usize, String)> = answers
            .into_iter()
            .zip(&pending)
            .filter_map(|(code, &i)| code.map(|c| (i, c)))
            .collect();
        metrics.request(
            started.elapsed(),
            bytes as u64,
            (pending.len() - failed.len()) as u64,
        );
        if failed.iter().any(|(_, c)| is_throttle(c)) {
            metrics.throttle();
        }
        if failed.is_empty() {
            return Ok(());
        }
        if attempt + 1 == BATCH_ATTEMPTS {
            return Err(format!(
                "{} records still failing after {BATCH_ATTEMPTS} attempts ({})",
                failed.len(),
                failed[0].1
            ));
        }
        pending = failed.into_iter().map(|(i, _)| i).collect();
    }
    unreachable!("the loop returns")
}

/// A record sink over a stream API.
pub(super) struct StreamSink<A: BatchApi> {
    pub api: A,
    pub runtime: Handle,
    pub metrics: Arc<Metrics>,
    /// Batches in flight at once. 1 keeps each partition key's records in
    /// the order they were generated.
    pub concurrency: usize,
}

impl<A: BatchApi> RecordSink for StreamSink<A> {
    fn put_records(
        &self,
        what: &str,
        jsonl: &[u8],
        partition_keys: &[String],
    ) -> Result<(), Error> {
        let lines: Vec<&[u8]> = jsonl.split_inclusive(|&b| b == b'\n').collect();
        debug_assert_eq!(lines.len(), partition_keys.len());
        let records: Vec<Record<'_>> = lines
            .iter()
            .zip(partition_keys)
            .map(|(l, k)| (*l, k.as_str()))
            .collect();
        let what = format!("{what} for {}", self.describe());
        for range in batches(&records, self.api.limits(), &what)? {
            self.runtime
                .block_on(send(&self.api, &self.metrics, &records[range], backoff))
                .map_err(|why| Error::runtime(format!("cannot put {what}: {why}")))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{}://{}", self.api.scheme(), self.api.name())
    }

    fn check(&self) -> Result<(), Error> {
        self.runtime
            .block_on(self.api.describe())
            .map_err(|why| Error::runtime(format!("cannot use {}: {why}", self.describe())))
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

/// `scheme://rest` names one stream.
pub(super) fn check_name(scheme: &str, rest: &str) -> Result<(), Error> {
    if rest.is_empty() || rest.contains('/') {
        return Err(Error::usage(format!(
            "invalid sink '{scheme}://{rest}': name one stream, as {scheme}://NAME"
        )));
    }
    Ok(())
}

/// A stream sink for `scheme://rest`: `build` makes the API's client from
/// the shared SDK configuration, the retry counter and the stream name.
pub(super) fn open<A: BatchApi>(
    scheme: &str,
    rest: &str,
    ctx: &SinkContext<'_>,
    build: impl FnOnce(&aws_config::SdkConfig, CountRetries, String) -> A,
) -> Result<StreamSink<A>, Error> {
    check_name(scheme, rest)?;
    let conf = ctx
        .runtime
        .block_on(aws::load(ctx.options.endpoint_url.as_deref()));
    Ok(StreamSink {
        api: build(&conf, CountRetries(ctx.metrics.clone()), rest.to_string()),
        runtime: ctx.runtime.clone(),
        metrics: ctx.metrics.clone(),
        concurrency: ctx.options.concurrency.unwrap_or(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_size_limits() {
        let small = [0u8; 10];
        let limits = Limits {
            records: 3,
            request_bytes: 25,
            record_bytes: 12,
        };
        let recs: Vec<Record<'_>> = (0..7).map(|_| (&small[..], "k")).collect();
        // 11 bytes each: two fit in 25 bytes.
        let b = batches(&recs, limits, "t").unwrap();
        assert_eq!(b, vec![0..2, 2..4, 4..6, 6..7]);
        let loose = Limits {
            request_bytes: 1000,
            ..limits
        };
        assert_eq!(batches(&recs, loose, "t").unwrap(), vec![0..3, 3..6, 6..7]);
        let big = [0u8; 12];
        let err = batches(&[(&big[..], "k")], limits, "t").unwrap_err();
        assert!(
            err.to_string()
                .contains("13 bytes, above the 12 byte limit")
        );
    }
}
