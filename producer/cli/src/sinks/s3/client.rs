//! The S3 sink's client: its bucket, prefix and writer token, and the
//! single-request writes that the object sink and multipart uploads share.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use tokio::runtime::Handle;

use crate::error::Error;
use crate::metrics::Metrics;
use crate::sinks::api::{SinkContext, SinkOptions};
use crate::sinks::aws::{self, CountRetries, sdk_message};

/// Parts of one file in flight at once.
pub(super) const PART_CONCURRENCY: usize = 4;

pub(crate) struct S3Sink {
    pub(super) client: Client,
    pub(super) bucket: String,
    pub(super) prefix: String,
    /// Unique to this process: `x-amz-meta-writer` of every object it puts.
    pub(super) writer: String,
    pub(super) opts: SinkOptions,
    pub(super) runtime: Handle,
    pub(super) metrics: Arc<Metrics>,
}

/// Splits `bucket/prefix` (after `s3://`) into bucket and prefix, without a
/// trailing slash.
pub(super) fn parse_url(rest: &str) -> Result<(String, String), Error> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::usage(format!(
            "invalid S3 URL 's3://{rest}': no bucket (expected s3://bucket/prefix)"
        )));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Why a write failed; 412 is the refusal of a conditional write.
pub(super) fn write_error<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
{
    if is_412(e) {
        "object exists and --no-overwrite is set".to_string()
    } else {
        sdk_message(e)
    }
}

impl S3Sink {
    pub(crate) fn open(rest: &str, ctx: &SinkContext<'_>) -> Result<S3Sink, Error> {
        let (bucket, prefix) = parse_url(rest)?;
        let conf = ctx
            .runtime
            .block_on(aws::load(ctx.options.endpoint_url.as_deref()));
        let mut builder =
            aws_sdk_s3::config::Builder::from(&conf).interceptor(CountRetries(ctx.metrics.clone()));
        if ctx.options.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            builder = builder.force_path_style(true);
        }
        Ok(S3Sink {
            client: Client::from_conf(builder.build()),
            bucket,
            prefix,
            writer: format!("{:x}-{:x}", std::process::id(), now_ms()),
            opts: ctx.options.clone(),
            runtime: ctx.runtime.clone(),
            metrics: ctx.metrics.clone(),
        })
    }

    pub(super) fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// SSE-KMS under `--sse-kms-key`, else no header at all: an explicit
    /// `AES256` would override the bucket's default encryption (the
    /// environment's KMS key) for every object written.
    pub(super) fn encryption(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        match &self.opts.sse_kms_key {
            Some(k) => (Some(ServerSideEncryption::AwsKms), Some(k.clone())),
            None => (None, None),
        }
    }

    /// Whether the object at `key` is the one this process wrote with
    /// `len` bytes: an earlier attempt whose response was lost.
    pub(super) async fn written_by_us(&self, key: &str, len: usize) -> bool {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        head.is_ok_and(|h| {
            h.content_length() == Some(len as i64)
                && h.metadata()
                    .and_then(|m| m.get(WRITER_KEY))
                    .is_some_and(|w| *w == self.writer)
        })
    }

    pub(super) async fn put_single(
        &self,
        key: &str,
        bytes: &[u8],
        guard: bool,
    ) -> Result<(), String> {
        let (sse, kms) = self.encryption();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .metadata(WRITER_KEY, &self.writer)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms);
        if guard {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_412(&e) && self.written_by_us(key, bytes.len()).await => Ok(()),
            Err(e) => Err(write_error(&e)),
        }
    }
}

/// Object metadata naming the process that wrote an object.
pub(super) const WRITER_KEY: &str = "writer";

pub(super) fn is_412<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 412)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
