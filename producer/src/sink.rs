//! Where encoded files land. Object sinks take whole files and make them
//! visible only when complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A destination for whole files addressed by a relative key (`a/b/c.parquet`).
pub trait Sink: Send + Sync {
    /// Stores `bytes` under `key`, atomically: readers see the old object,
    /// or the complete new one, never a part.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error>;
    /// Human-readable location of `key`, for messages.
    fn describe(&self, key: &str) -> String;
    /// Sets aside `bytes` of space for the manifest, where space can run out.
    fn reserve(&self, _bytes: u64) -> Result<(), Error> {
        Ok(())
    }
    /// Frees what `reserve` set aside, just before the manifest is written.
    fn release(&self) {}
    /// Record sinks (streams, stdout) take JSON lines through `put_records`.
    fn takes_records(&self) -> bool {
        false
    }
    /// Sends a file's JSON lines as records, one partition key per line.
    fn put_records(
        &self,
        key: &str,
        _jsonl: &[u8],
        _partition_keys: &[String],
    ) -> Result<(), Error> {
        Err(Error::runtime(format!(
            "{} takes files, not records",
            self.describe(key)
        )))
    }
    /// Files or record batches in flight at once.
    fn concurrency(&self) -> usize {
        1
    }
}

/// A local folder. Files are written to a hidden temporary file in the target
/// folder, flushed, then renamed over the final name.
pub struct FolderSink {
    root: PathBuf,
    /// A hidden file holding space for the manifest, so a full disk still
    /// gets a manifest of what was written. Deleted on release or drop.
    reserve: std::sync::Mutex<Option<tempfile::NamedTempFile>>,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl FolderSink {
    /// Creates `root` if needed and checks that files can be created in it.
    pub fn open(root: &Path) -> Result<FolderSink, Error> {
        let fail = |e: std::io::Error| {
            Error::runtime(format!(
                "output folder {} is not writable: {e}",
                root.display()
            ))
        };
        std::fs::create_dir_all(root).map_err(fail)?;
        tempfile::Builder::new()
            .prefix(".mp-probe-")
            .tempfile_in(root)
            .map_err(fail)?;
        Ok(FolderSink {
            root: root.to_path_buf(),
            reserve: std::sync::Mutex::new(None),
            metrics: None,
        })
    }

    /// Counts each file written as one request.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl Sink for FolderSink {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let path = self.root.join(key);
        let fail =
            |e: std::io::Error| Error::runtime(format!("cannot write {}: {e}", path.display()));
        let dir = path.parent().expect("keys name a file below the root");
        std::fs::create_dir_all(dir).map_err(fail)?;
        // The temporary file is removed on any error before the rename.
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(fail)?;
        tmp.write_all(bytes).map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        if let Some(m) = &self.metrics {
            m.request(started.elapsed(), bytes.len() as u64, 0);
        }
        Ok(())
    }

    fn describe(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    fn reserve(&self, bytes: u64) -> Result<(), Error> {
        let fail = |e: std::io::Error| {
            Error::runtime(format!(
                "cannot set aside {bytes} bytes for the manifest in {}: {e}",
                self.root.display()
            ))
        };
        let mut file = tempfile::Builder::new()
            .prefix(".tmp-reserve-")
            .tempfile_in(&self.root)
            .map_err(fail)?;
        // Written, not just sized: sparse files hold no space.
        let zeros = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n]).map_err(fail)?;
            left -= n as u64;
        }
        file.as_file().sync_all().map_err(fail)?;
        *self.reserve.lock().expect("reserve lock") = Some(file);
        Ok(())
    }

    fn release(&self) {
        self.reserve.lock().expect("reserve lock").take();
    }
}
