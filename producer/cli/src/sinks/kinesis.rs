//! Kinesis Data Streams (`kinesis://stream`): PutRecords, 500 records and
//! 5 MiB per request, 1 MiB per record (data plus partition key).

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::api::SinkContext;
use super::aws::sdk_message;
use super::streams::{self, BatchApi, Limits, Record, StreamSink};
use crate::error::Error;

pub(super) struct Kinesis {
    client: Client,
    name: String,
}

/// PutRecords limits: 500 records, 5 MiB per request, 1 MiB per record.
const LIMITS: Limits = Limits {
    records: 500,
    request_bytes: 5 << 20,
    record_bytes: 1 << 20,
};

pub(super) fn open(rest: &str, ctx: &SinkContext<'_>) -> Result<StreamSink<Kinesis>, Error> {
    streams::open("kinesis", rest, ctx, |conf, counter, name| Kinesis {
        client: Client::from_conf(
            aws_sdk_kinesis::config::Builder::from(conf)
                .interceptor(counter)
                .build(),
        ),
        name,
    })
}

/// Each entry's error code, in request order.
fn failures(out: &PutRecordsOutput) -> Vec<Option<String>> {
    out.records()
        .iter()
        .map(|r| r.error_code().map(str::to_string))
        .collect()
}

impl BatchApi for Kinesis {
    fn scheme(&self) -> &'static str {
        "kinesis"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn limits(&self) -> Limits {
        LIMITS
    }

    async fn describe(&self) -> Result<(), String> {
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(2);
        self.client
            .describe_stream_summary()
            .stream_name(&self.name)
            .customize()
            .config_override(aws_sdk_kinesis::config::Builder::default().retry_config(once))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    }

    async fn put(&self, records: &[Record<'_>]) -> Result<Vec<Option<String>>, String> {
        let entries = records
            .iter()
            .map(|(data, key)| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(*data))
                    .partition_key(*key)
                    .build()
                    .expect("data and key are set")
            })
            .collect();
        let out = self
            .client
            .put_records()
            .stream_name(&self.name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        Ok(failures(&out))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aws_sdk_kinesis::types::PutRecordsResultEntry;

    use super::*;
    use crate::metrics::Metrics;
    use crate::sinks::streams::send;

    /// Answers each request with the next scripted PutRecords response,
    /// built from the SDK's own output types, and records what was sent.
    struct Scripted {
        answers: Mutex<Vec<PutRecordsOutput>>,
        sent: Mutex<Vec<Vec<String>>>,
    }

    fn entry(failed: Option<&str>) -> PutRecordsResultEntry {
        match failed {
            Some(code) => PutRecordsResultEntry::builder()
                .error_code(code)
                .error_message("injected")
                .build(),
            None => PutRecordsResultEntry::builder()
                .sequence_number("1")
                .shard_id("shardId-000000000000")
                .build(),
        }
    }

    fn output(codes: &[Option<&str>]) -> PutRecordsOutput {
        let failed = codes.iter().filter(|c| c.is_some()).count() as i32;
        PutRecordsOutput::builder()
            .failed_record_count(failed)
            .set_records(Some(codes.iter().map(|c| entry(*c)).collect()))
            .build()
            .expect("records are set")
    }

    impl BatchApi for Scripted {
        fn scheme(&self) -> &'static str {
            "kinesis"
        }
        fn name(&self) -> &str {
            "scripted"
        }
        fn limits(&self) -> Limits {
            LIMITS
        }
        async fn describe(&self) -> Result<(), String> {
            Ok(())
        }
        async fn put(&self, records: &[Record<'_>]) -> Result<Vec<Option<String>>, String> {
            self.sent.lock().unwrap().push(
                records
                    .iter()
                    .map(|(d, _)| String::from_utf8_lossy(d).into_owned())
                    .collect(),
            );
            let out = self.answers.lock().unwrap().remove(0);
            Ok(failures(&out))
        }
    }

    fn no_pause(_: u32) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    #[test]
    fn only_failed_entries_are_resent_until_all_are_in() {
        const THROTTLED: &str = "ProvisionedThroughputExceededException";
        let api = Scripted {
            answers: Mutex::new(vec![
                output(&[None, Some(THROTTLED), None, Some("InternalFailure")]),
                output(&[None, Some(THROTTLED)]),
                output(&[None]),
            ]),
            sent: Mutex::new(Vec::new()),
        };
        let metrics = Metrics::default();
        let records: Vec<Record<'_>> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| (s.as_bytes(), "k"))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(send(&api, &metrics, &records, no_pause))
            .unwrap();
        let sent = api.sent.lock().unwrap().clone();
        assert_eq!(sent, [vec!["a", "b", "c", "d"], vec!["b", "d"], vec!["d"]]);
        let m = metrics.snapshot();
        assert_eq!((m.requests, m.retries, m.records), (3, 2, 4));
        assert_eq!(m.throttles, 2);
    }

    #[test]
    fn a_batch_that_never_gets_in_fails_with_its_error_code() {
        let answers = (0..20)
            .map(|_| output(&[Some("InternalFailure")]))
            .collect();
        let api = Scripted {
            answers: Mutex::new(answers),
            sent: Mutex::new(Vec::new()),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let records: Vec<Record<'_>> = vec![(b"x".as_slice(), "k")];
        let err = rt
            .block_on(send(&api, &Metrics::default(), &records, no_pause))
            .unwrap_err();
        assert!(
            err.contains("1 records still failing after 20 attempts (InternalFailure)"),
            "{err}"
        );
        assert_eq!(api.sent.lock().unwrap().len(), 20);
    }
}
