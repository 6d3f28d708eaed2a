//! Record sinks: Kinesis Data Streams (`kinesis://stream`, PutRecords),
//! Kinesis Data Firehose (`firehose://delivery-stream`, PutRecordBatch) and
//! stdout. One record is one JSON line (newline included, so Firehose
//! delivers valid JSON lines to S3).
//!
//! Batches stay within the API limits. When a batch partly fails, only the
//! failed entries are sent again, with jittered backoff. The APIs can still
//! duplicate: if a response is lost after the service stored the records
//! (a timeout or dropped connection), the SDK resends the whole request, and
//! neither API deduplicates. Consumers that need exactly-once deduplicate on
//! `event_id` / `transaction_id`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use tokio::runtime::Handle;

use crate::aws::{AwsOptions, CountRetries, sdk_message};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::sink::Sink;

/// Sends of one batch, the first included, before the run fails.
const BATCH_ATTEMPTS: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Kinesis,
    Firehose,
}

/// API limits of one kind of stream.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub records: usize,
    pub request_bytes: usize,
    /// Data plus partition key, per record.
    pub record_bytes: usize,
}

impl StreamKind {
    pub fn limits(self) -> Limits {
        match self {
            // PutRecords: 500 records, 5 MiB per request, 1 MiB per record.
            StreamKind::Kinesis => Limits {
                records: 500,
                request_bytes: 5 << 20,
                record_bytes: 1 << 20,
            },
            // PutRecordBatch: 500 records, 4 MiB per request, 1,000 KiB per record.
            StreamKind::Firehose => Limits {
                records: 500,
                request_bytes: 4 << 20,
                record_bytes: 1000 * 1024,
            },
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            StreamKind::Kinesis => "kinesis",
            StreamKind::Firehose => "firehose",
        }
    }
}

/// Cuts records into batches within `limits`; fails on a record that alone
/// is over the per-record limit.
pub fn batches(
    records: &[(&[u8], &str)],
    limits: Limits,
    what: &str,
) -> Result<Vec<std::ops::Range<usize>>, Error> {
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

enum Client {
    Kinesis(aws_sdk_kinesis::Client),
    Firehose(aws_sdk_firehose::Client),
}

pub struct StreamSink {
    kind: StreamKind,
    name: String,
    client: Client,
    runtime: Handle,
    metrics: Arc<Metrics>,
    /// Batches in flight at once. 1 keeps each partition key's records in
    /// the order they were generated.
    pub concurrency: usize,
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

impl StreamSink {
    /// Connects and checks that the stream exists, failing fast on a bad
    /// endpoint, an unknown stream or missing credentials.
    pub fn open(
        kind: StreamKind,
        name: &str,
        aws: &AwsOptions,
        runtime: Handle,
        metrics: Arc<Metrics>,
    ) -> Result<StreamSink, Error> {
        if name.is_empty() {
            return Err(Error::usage(format!(
                "invalid --sink {}://: name the stream",
                kind.scheme()
            )));
        }
        let conf = runtime.block_on(crate::aws::load(aws));
        let fail =
            |why: String| Error::runtime(format!("cannot use {}://{name}: {why}", kind.scheme()));
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(2);
        let client = match kind {
            StreamKind::Kinesis => {
                let c = aws_sdk_kinesis::Client::from_conf(
                    aws_sdk_kinesis::config::Builder::from(&conf)
                        .interceptor(CountRetries(metrics.clone()))
                        .build(),
                );
                runtime
                    .block_on(
                        c.describe_stream_summary()
                            .stream_name(name)
                            .customize()
                            .config_override(
                                aws_sdk_kinesis::config::Builder::default().retry_config(once),
                            )
                            .send(),
                    )
                    .map_err(|e| fail(sdk_message(&e)))?;
                Client::Kinesis(c)
            }
            StreamKind::Firehose => {
                let c = aws_sdk_firehose::Client::from_conf(
                    aws_sdk_firehose::config::Builder::from(&conf)
                        .interceptor(CountRetries(metrics.clone()))
                        .build(),
                );
                runtime
                    .block_on(
                        c.describe_delivery_stream()
                            .delivery_stream_name(name)
                            .customize()
                            .config_override(
                                aws_sdk_firehose::config::Builder::default().retry_config(once),
                            )
                            .send(),
                    )
                    .map_err(|e| fail(sdk_message(&e)))?;
                Client::Firehose(c)
            }
        };
        Ok(StreamSink {
            kind,
            name: name.to_string(),
            client,
            runtime,
            metrics,
            concurrency: 1,
        })
    }

    /// Sends one batch until every entry is in; returns the attempts used.
    async fn send(&self, records: &[(&[u8], &str)]) -> Result<(), String> {
        let mut pending: Vec<usize> = (0..records.len()).collect();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                self.metrics.retry();
                tokio::time::sleep(backoff(attempt)).await;
            }
            let bytes: usize = pending
                .iter()
                .map(|&i| records[i].0.len() + records[i].1.len())
                .sum();
            let started = Instant::now();
            let failed: Vec<(usize, String)> = match &self.client {
                Client::Kinesis(c) => {
                    let entries = pending
                        .iter()
                        .map(|&i| {
                            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                                .data(Blob::new(records[i].0))
                                .partition_key(records[i].1)
                                .build()
                                .expect("data and key are set")
                        })
                        .collect();
                    let out = c
                        .put_records()
                        .stream_name(&self.name)
                        .set_records(Some(entries))
                        .send()
                        .await
                        .map_err(|e| sdk_message(&e))?;
                    out.records()
                        .iter()
                        .zip(&pending)
                        .filter_map(|(r, &i)| r.error_code().map(|c| (i, c.to_string())))
                        .collect()
                }
                Client::Firehose(c) => {
                    let entries = pending
                        .iter()
                        .map(|&i| {
                            aws_sdk_firehose::types::Record::builder()
                                .data(aws_sdk_firehose::primitives::Blob::new(records[i].0))
                                .build()
                                .expect("data is set")
                        })
                        .collect();
                    let out = c
                        .put_record_batch()
                        .delivery_stream_name(&self.name)
                        .set_records(Some(entries))
                        .send()
                        .await
                        .map_err(|e| sdk_message(&e))?;
                    out.request_responses()
                        .iter()
                        .zip(&pending)
                        .filter_map(|(r, &i)| r.error_code().map(|c| (i, c.to_string())))
                        .collect()
                }
            };
            let delivered = pending.len() - failed.len();
            self.metrics
                .request(started.elapsed(), bytes as u64, delivered as u64);
            if failed
                .iter()
                .any(|(_, c)| c.contains("ProvisionedThroughputExceeded") || c.contains("Throttl"))
            {
                self.metrics.throttle();
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
}

/// Splits JSON lines into records (newline kept).
fn lines(jsonl: &[u8]) -> Vec<&[u8]> {
    jsonl.split_inclusive(|&b| b == b'\n').collect()
}

impl Sink for StreamSink {
    fn put(&self, key: &str, _bytes: &[u8]) -> Result<(), Error> {
        Err(Error::runtime(format!(
            "{}://{} takes records, not files ({key})",
            self.kind.scheme(),
            self.name
        )))
    }

    fn takes_records(&self) -> bool {
        true
    }

    fn put_records(&self, key: &str, jsonl: &[u8], partition_keys: &[String]) -> Result<(), Error> {
        let lines = lines(jsonl);
        debug_assert_eq!(lines.len(), partition_keys.len());
        let records: Vec<(&[u8], &str)> = lines
            .iter()
            .zip(partition_keys)
            .map(|(l, k)| (*l, k.as_str()))
            .collect();
        let what = format!("{key} for {}://{}", self.kind.scheme(), self.name);
        for range in batches(&records, self.kind.limits(), &what)? {
            self.runtime
                .block_on(self.send(&records[range]))
                .map_err(|why| Error::runtime(format!("cannot put {what}: {why}")))?;
        }
        Ok(())
    }

    fn describe(&self, key: &str) -> String {
        format!("{}://{} ({key})", self.kind.scheme(), self.name)
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

/// `--sink stdout`: JSON lines on standard output, for piping.
pub struct StdoutSink {
    pub metrics: Arc<Metrics>,
}

impl Sink for StdoutSink {
    fn put(&self, key: &str, _bytes: &[u8]) -> Result<(), Error> {
        Err(Error::runtime(format!(
            "stdout takes records, not files ({key})"
        )))
    }

    fn takes_records(&self) -> bool {
        true
    }

    fn put_records(
        &self,
        _key: &str,
        jsonl: &[u8],
        partition_keys: &[String],
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut out = std::io::stdout().lock();
        out.write_all(jsonl)
            .and_then(|_| out.flush())
            .map_err(|e| Error::runtime(format!("cannot write to stdout: {e}")))?;
        self.metrics.request(
            started.elapsed(),
            jsonl.len() as u64,
            partition_keys.len() as u64,
        );
        Ok(())
    }

    fn describe(&self, key: &str) -> String {
        format!("stdout ({key})")
    }
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
        let recs: Vec<(&[u8], &str)> = (0..7).map(|_| (&small[..], "k")).collect();
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
        for kind in [StreamKind::Kinesis, StreamKind::Firehose] {
            let l = kind.limits();
            assert_eq!(l.records, 500);
            assert!(l.request_bytes <= 5 << 20);
        }
    }
}
