//! Multipart uploads: parts in flight bounded, aborted on failure, and a
//! completion retried after a lost response recognised as done.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::Semaphore;

use super::client::{PART_CONCURRENCY, S3Sink, WRITER_KEY, is_412, write_error};
use crate::sinks::aws::sdk_message;

impl S3Sink {
    pub(super) async fn put_multipart(
        &self,
        key: &str,
        bytes: &[u8],
        guard: bool,
    ) -> Result<(), String> {
        let (sse, kms) = self.encryption();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .metadata(WRITER_KEY, &self.writer)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        let upload_id = created
            .upload_id()
            .ok_or("CreateMultipartUpload returned no upload id")?
            .to_string();
        let result = self.upload_parts(key, &upload_id, bytes, guard).await;
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

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        bytes: &[u8],
        guard: bool,
    ) -> Result<(), String> {
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
        if guard {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => {}
            // A retry after a lost response: the upload is already complete.
            Err(e)
                if (is_412(&e)
                    || e.as_service_error().and_then(|se| se.meta().code())
                        == Some("NoSuchUpload"))
                    && self.written_by_us(key, bytes.len()).await => {}
            Err(e) => return Err(write_error(&e)),
        }
        self.abort_orphans(key, upload_id).await;
        Ok(())
    }

    /// Aborts other unfinished uploads of `key`: a lost response to
    /// CreateMultipartUpload leaves one behind when the SDK retries. The
    /// shard's lock makes this process the only writer of its keys.
    async fn abort_orphans(&self, key: &str, done: &str) {
        let Ok(page) = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
        else {
            return;
        };
        for u in page.uploads() {
            if let (Some(k), Some(id)) = (u.key(), u.upload_id())
                && k == key
                && id != done
            {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await;
            }
        }
    }
}
