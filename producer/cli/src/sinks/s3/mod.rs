//! S3 object sink: `--out s3://bucket/prefix`. Object keys are the local
//! lake's paths under the prefix. Small files go up in one PutObject; large
//! ones as multipart uploads with bounded part concurrency, aborted on
//! failure, so an object appears complete or not at all.
//!
//! A response can be lost after S3 stored the object; the SDK then sends
//! the request again. A plain PUT just stores the same bytes again, but a
//! conditional PUT (`--no-overwrite`) gets 412 and completing a multipart
//! upload gets NoSuchUpload. Each object therefore carries this process's
//! writer token in its metadata: when the object in place has our token and
//! our length, the earlier attempt stored it and the write is done.

mod client;
mod multipart;

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use tokio::runtime::Handle;

use crate::error::Error;
use crate::sinks::api::{Listed, Lock, ObjectSink, guarded};
use crate::sinks::aws::sdk_message;
pub(crate) use client::S3Sink;
use client::{is_412, now_ms};

/// `rest` of s3://rest names a bucket.
pub(crate) fn check_url(rest: &str) -> Result<(), Error> {
    client::parse_url(rest).map(|_| ())
}

/// Files uploading at once, unless `--concurrency` says otherwise.
const FILE_CONCURRENCY: usize = 8;

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
            let guard = guarded(&self.opts, key);
            if bytes.len() >= self.opts.multipart_threshold {
                self.put_multipart(&object, bytes, guard).await
            } else {
                self.put_single(&object, bytes, guard).await
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

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, Error> {
        let full = self.object_key(prefix);
        let root = self.object_key("");
        let listed = self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk_message(&e))?;
                for o in page.contents() {
                    let key = o.key().unwrap_or_default();
                    if let Some(rel) = key.strip_prefix(&root) {
                        out.push(Listed {
                            key: rel.to_string(),
                            size: o.size().unwrap_or(0).max(0) as u64,
                        });
                    }
                }
            }
            Ok::<_, String>(out)
        });
        let mut listed = listed.map_err(|why| {
            Error::runtime(format!("cannot list s3://{}/{full}: {why}", self.bucket))
        })?;
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let object = self.object_key(key);
        let got = self.runtime.block_on(async {
            match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&object)
                .send()
                .await
            {
                Ok(out) => out
                    .body
                    .collect()
                    .await
                    .map(|b| Some(b.into_bytes().to_vec()))
                    .map_err(|e| e.to_string()),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
                Err(e) => Err(sdk_message(&e)),
            }
        });
        got.map_err(|why| {
            Error::runtime(format!("cannot read s3://{}/{object}: {why}", self.bucket))
        })
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        let object = self.object_key(key);
        self.runtime
            .block_on(
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(&object)
                    .send(),
            )
            .map(|_| ())
            .map_err(|e| {
                Error::runtime(format!(
                    "cannot delete s3://{}/{object}: {}",
                    self.bucket,
                    sdk_message(&e)
                ))
            })
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        let object = self.object_key(key);
        let (sse, kms) = self.encryption();
        let sent = self.runtime.block_on(
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&object)
                .body(ByteStream::from(bytes.to_vec()))
                .set_server_side_encryption(sse)
                .set_ssekms_key_id(kms)
                .if_none_match("*")
                .send(),
        );
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_412(&e) => Ok(false),
            Err(e) => Err(Error::runtime(format!(
                "cannot write s3://{}/{object}: {}",
                self.bucket,
                sdk_message(&e)
            ))),
        }
    }

    /// Aborts the unfinished multipart uploads of keys `mine` claims.
    fn clean_up(&self, _owner: &str, mine: &dyn Fn(&str) -> bool) -> Result<u64, Error> {
        let root = self.object_key("");
        let uploads = self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut marker: (Option<String>, Option<String>) = (None, None);
            loop {
                let page = self
                    .client
                    .list_multipart_uploads()
                    .bucket(&self.bucket)
                    .prefix(&root)
                    .set_key_marker(marker.0.clone())
                    .set_upload_id_marker(marker.1.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_message(&e))?;
                for u in page.uploads() {
                    if let (Some(k), Some(id)) = (u.key(), u.upload_id()) {
                        out.push((k.to_string(), id.to_string()));
                    }
                }
                if !page.is_truncated().unwrap_or(false) {
                    break;
                }
                marker = (
                    page.next_key_marker().map(str::to_string),
                    page.next_upload_id_marker().map(str::to_string),
                );
            }
            Ok::<_, String>(out)
        });
        let uploads = uploads.map_err(|why| {
            Error::runtime(format!(
                "cannot list uploads in s3://{}: {why}",
                self.bucket
            ))
        })?;
        let mut aborted = 0;
        for (key, id) in uploads {
            let Some(rel) = key.strip_prefix(&root) else {
                continue;
            };
            if !mine(rel) {
                continue;
            }
            self.runtime
                .block_on(
                    self.client
                        .abort_multipart_upload()
                        .bucket(&self.bucket)
                        .key(&key)
                        .upload_id(&id)
                        .send(),
                )
                .map_err(|e| {
                    Error::runtime(format!(
                        "cannot abort an upload of s3://{}/{key}: {}",
                        self.bucket,
                        sdk_message(&e)
                    ))
                })?;
            aborted += 1;
        }
        Ok(aborted)
    }

    /// A lease: the lock object holds its holder and the time it last
    /// renewed, every third of `lease`. S3 cannot tell a dead holder, so a
    /// lock not renewed for `lease` is taken over.
    fn lock(&self, key: &str, lease: Duration) -> Result<Box<dyn Lock>, Error> {
        let holder = format!("process {} ({:x})", std::process::id(), now_ms());
        let body = |holder: &str| {
            serde_json::json!({"holder": holder, "renewed_ms": now_ms()})
                .to_string()
                .into_bytes()
        };
        // The holder in the lock object now, with its last renewal.
        let read = || -> Result<(Option<String>, u64), Error> {
            let current = self.get(key)?.unwrap_or_default();
            let json: serde_json::Value = serde_json::from_slice(&current).unwrap_or_default();
            let holder = json["holder"].as_str().map(str::to_string);
            Ok((holder, json["renewed_ms"].as_u64().unwrap_or(0)))
        };
        // A create refused with our own holder inside: its first attempt
        // stored the lock and the response was lost.
        if !self.put_new(key, &body(&holder))? {
            let (current, renewed) = read()?;
            if current.as_deref() != Some(holder.as_str()) {
                let age = now_ms().saturating_sub(renewed);
                if age < lease.as_millis() as u64 {
                    return Err(Error::usage(format!(
                        "another run is writing this shard into s3://{}/{} ({}, renewed {:.1} s ago; a lock is free {} s after its last renewal)",
                        self.bucket,
                        self.prefix,
                        current.as_deref().unwrap_or("unknown"),
                        age as f64 / 1000.0,
                        lease.as_secs()
                    )));
                }
                // Stale: its holder died. One taker wins the re-creation.
                self.delete(key)?;
                if !self.put_new(key, &body(&holder))?
                    && read()?.0.as_deref() != Some(holder.as_str())
                {
                    return Err(Error::usage(format!(
                        "another run took over the lock {} first",
                        self.describe(key)
                    )));
                }
            }
        }
        let renew = {
            let (client, bucket, object) = (
                self.client.clone(),
                self.bucket.clone(),
                self.object_key(key),
            );
            let holder = holder.clone();
            self.runtime.spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let _ = client
                        .put_object()
                        .bucket(&bucket)
                        .key(&object)
                        .body(ByteStream::from(body(&holder)))
                        .send()
                        .await;
                }
            })
        };
        Ok(Box::new(LeaseLock {
            renew,
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            object: self.object_key(key),
            runtime: self.runtime.clone(),
        }))
    }
}

/// Renews its lock object until dropped, then deletes it.
struct LeaseLock {
    renew: tokio::task::JoinHandle<()>,
    client: Client,
    bucket: String,
    object: String,
    runtime: Handle,
}

impl Lock for LeaseLock {}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.renew.abort();
        let _ = self.runtime.block_on(
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.object)
                .send(),
        );
    }
}
