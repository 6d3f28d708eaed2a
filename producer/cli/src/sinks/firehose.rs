//! Kinesis Data Firehose (`firehose://delivery-stream`): PutRecordBatch, 500
//! records and 4 MiB per request, 1,000 KiB per record. Firehose has no
//! partition key; records keep their generation order within a batch.

use aws_sdk_firehose::Client;
use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record as FirehoseRecord;

use super::api::SinkContext;
use super::aws::sdk_message;
use super::streams::{self, BatchApi, Limits, Record, StreamSink};
use crate::error::Error;

pub(super) struct Firehose {
    client: Client,
    name: String,
}

pub(super) fn open(rest: &str, ctx: &SinkContext<'_>) -> Result<StreamSink<Firehose>, Error> {
    streams::open("firehose", rest, ctx, |conf, counter, name| Firehose {
        client: Client::from_conf(
            aws_sdk_firehose::config::Builder::from(conf)
                .interceptor(counter)
                .build(),
        ),
        name,
    })
}

/// Each entry's error code, in request order.
fn failures(out: &PutRecordBatchOutput) -> Vec<Option<String>> {
    out.request_responses()
        .iter()
        .map(|r| r.error_code().map(str::to_string))
        .collect()
}

impl BatchApi for Firehose {
    fn scheme(&self) -> &'static str {
        "firehose"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn limits(&self) -> Limits {
        Limits {
            records: 500,
            request_bytes: 4 << 20,
            record_bytes: 1000 * 1024,
        }
    }

    async fn describe(&self) -> Result<(), String> {
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(2);
        self.client
            .describe_delivery_stream()
            .delivery_stream_name(&self.name)
            .customize()
            .config_override(aws_sdk_firehose::config::Builder::default().retry_config(once))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    }

    async fn put(&self, records: &[Record<'_>]) -> Result<Vec<Option<String>>, String> {
        let entries = records
            .iter()
            .map(|(data, _)| {
                FirehoseRecord::builder()
                    .data(Blob::new(*data))
                    .build()
                    .expect("data is set")
            })
            .collect();
        let out = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        Ok(failures(&out))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_firehose::types::PutRecordBatchResponseEntry;

    use super::*;

    #[test]
    fn failures_follow_the_response_entries() {
        let out = PutRecordBatchOutput::builder()
            .failed_put_count(1)
            .set_request_responses(Some(vec![
                PutRecordBatchResponseEntry::builder()
                    .record_id("1")
                    .build(),
                PutRecordBatchResponseEntry::builder()
                    .error_code("ServiceUnavailableException")
                    .build(),
            ]))
            .build()
            .unwrap();
        assert_eq!(
            failures(&out),
            [None, Some("ServiceUnavailableException".to_string())]
        );
    }
}
