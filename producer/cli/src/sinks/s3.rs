//! S3 object sink: `--out s3://bucket/prefix`. Object keys are the local
//! lake's paths under the prefix. Small files go up in one PutObject; large
//! ones as multipart uploads with bounded part concurrency, aborted on
//! failure, so an object appears complete or not at all.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use super::aws::{CountRetries, sdk_message};
use super::{ObjectSink, SinkContext, SinkOptions};
use crate::error::Error;
use crate::metrics::Metrics;

/// Parts of one file in flight at once.
const PART_CONCURRENCY: usize = 4;
/// Files uploading at once, unless `--concurrency` says otherwise.
const FILE_CONCURRENCY: usize = 8;

pub(super) struct S3Sink {
    client: Client,
    bucket: String,
    prefix: String,
    opts: SinkOptions,
    runtime: Handle,
    metrics: Arc<Metrics>,
}

/// Splits `bucket/prefix` (after `s3://`) into bucket and prefix, without a
/// trailing slash.
fn parse_url(rest: &str) -> Result<(String, String), Error> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::usage(format!(
            "invalid S3 URL 's3://{rest}': no bucket (expected s3://bucket/prefix)"
        )));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Why a write failed; 412 is the refusal of a conditional write.
fn write_error<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
{
    if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) {
        "object exists and --no-overwrite is set".to_string()
    } else {
        sdk_message(e)
    }
}

impl S3Sink {
    pub(super) fn open(rest: &str, ctx: &SinkContext<'_>) -> Result<S3Sink, Error> {
        let (bucket, prefix) = parse_url(rest)?;
        let conf = ctx
            .runtime
            .block_on(super::aws::load(ctx.options.endpoint_url.as_deref()));
        let mut builder =
            aws_sdk_s3::config::Builder::from(&conf).interceptor(CountRetries(ctx.metrics.clone()));
        if ctx.options.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            builder = builder.force_path_style(true);
        }
        Ok(S3Sink {
            client: Client::from_conf(builder.build()),
            bucket,
            prefix,
            opts: ctx.options.clone(),
            runtime: ctx.runtime.clone(),
            metrics: ctx.metrics.clone(),
        })
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn encryption(&self) -> (ServerSideEncryption, Option<String>) {
        match &self.opts.sse_kms_key {
            Some(k) => (ServerSideEncryption::AwsKms, Some(k.clone())),
            None => (ServerSideEncryption::Aes256, None),
        }
    }

    async fn put_single(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        let (sse, kms) = self.encryption();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms);
        if self.opts.no_overwrite {
            req = req.if_none_match("*");
        }
        req.send().await.map(|_| ()).map_err(|e| write_error(&e))
    }

    async fn put_multipart(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        let (sse, kms) = self.encryption();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        let upload_id = created
            .upload_id()
            .ok_or("CreateMultipartUpload returned no upload id")?
            .to_string();
        let result = self.upload_parts(key, &upload_id, bytes).await;
        if result.is_err() {
            // Nothing becomes visible; free the parts already stored.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(&self, key: &str, upload_id: &str, bytes: &[u8]) -> Result<(), String> {
        let permits = Arc::new(Semaphore::new(PART_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, chunk) in bytes.chunks(self.opts.part_size).enumerate() {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            let req = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(i as i32 + 1)
                .body(ByteStream::from(chunk.to_vec()));
            tasks.spawn(async move {
                let _permit = permit;
                let out = req.send().await.map_err(|e| sdk_message(&e))?;
                Ok::<_, String>(
                    CompletedPart::builder()
                        .part_number(i as i32 + 1)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build(),
                )
            });
        }
        let mut parts = Vec::new();
        while let Some(done) = tasks.join_next().await {
            parts.push(done.map_err(|e| e.to_string())??);
        }
        parts.sort_by_key(|p| p.part_number());
        let mut req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if self.opts.no_overwrite {
            req = req.if_none_match("*");
        }
        req.send().await.map(|_| ()).map_err(|e| write_error(&e))
    }
}

impl ObjectSink for S3Sink {
    /// The bucket answers: fails fast on a bad endpoint, an unknown bucket or
    /// missing credentials.
    fn check(&self) -> Result<(), Error> {
        let probe =
            self.runtime.block_on(async {
                self.client
                    .head_bucket()
                    .bucket(&self.bucket)
                    .customize()
                    .config_override(aws_sdk_s3::config::Builder::default().retry_config(
                        aws_config::retry::RetryConfig::standard().with_max_attempts(2),
                    ))
                    .send()
                    .await
            });
        probe.map(|_| ()).map_err(|e| {
            let why = match &e {
                SdkError::ServiceError(se) if se.raw().status().as_u16() == 404 => {
                    "no such bucket".to_string()
                }
                SdkError::ServiceError(se) if se.raw().status().as_u16() == 403 => {
                    "access denied (check credentials)".to_string()
                }
                _ => sdk_message(&e),
            };
            Error::runtime(format!("cannot use s3://{}: {why}", self.bucket))
        })
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let object = self.object_key(key);
        let started = Instant::now();
        let result = self.runtime.block_on(async {
            if bytes.len() >= self.opts.multipart_threshold {
                self.put_multipart(&object, bytes).await
            } else {
                self.put_single(&object, bytes).await
            }
        });
        self.metrics
            .request(started.elapsed(), bytes.len() as u64, 0);
        result.map_err(|why| {
            Error::runtime(format!("cannot write s3://{}/{object}: {why}", self.bucket))
        })
    }

    fn describe(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.object_key(key))
    }

    fn concurrency(&self) -> usize {
        self.opts.concurrency.unwrap_or(FILE_CONCURRENCY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("b/p/q/").unwrap(), ("b".into(), "p/q".into()));
        assert_eq!(parse_url("b").unwrap(), ("b".into(), "".into()));
        assert!(parse_url("/x").is_err());
    }
}
