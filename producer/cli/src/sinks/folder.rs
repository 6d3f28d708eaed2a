//! A local folder: each file is written to a hidden temporary file in its
//! target folder, then renamed over its final name.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{ObjectSink, SinkContext};
use crate::error::Error;
use crate::metrics::Metrics;

/// A local folder. Files are written to a hidden temporary file in the target
/// folder, flushed, then renamed over the final name.
pub(super) struct FolderSink {
    root: PathBuf,
    /// A hidden file holding space for the manifest, so a full disk still
    /// gets a manifest of what was written. Deleted on release or drop.
    reserve: Mutex<Option<tempfile::NamedTempFile>>,
    /// Each file written counts as one request.
    metrics: Arc<Metrics>,
}

impl FolderSink {
    /// The folder `root`; nothing is created until `check` or the first file.
    pub(super) fn open(root: &str, ctx: &SinkContext<'_>) -> Result<FolderSink, Error> {
        if root.split('/').next().is_some_and(|c| c.ends_with(':')) {
            return Err(Error::usage(format!(
                "invalid destination '{root}': it looks like a URL; write scheme://, as in s3://bucket/prefix"
            )));
        }
        Ok(FolderSink {
            root: PathBuf::from(root),
            reserve: Mutex::new(None),
            metrics: ctx.metrics.clone(),
        })
    }
}

impl ObjectSink for FolderSink {
    /// Creates the folder if needed and checks that files can be created in it.
    fn check(&self) -> Result<(), Error> {
        let fail = |e: std::io::Error| {
            Error::runtime(format!(
                "output folder {} is not writable: {e}",
                self.root.display()
            ))
        };
        std::fs::create_dir_all(&self.root).map_err(fail)?;
        tempfile::Builder::new()
            .prefix(".mp-probe-")
            .tempfile_in(&self.root)
            .map_err(fail)?;
        Ok(())
    }

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
        self.metrics
            .request(started.elapsed(), bytes.len() as u64, 0);
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
        std::fs::create_dir_all(&self.root).map_err(fail)?;
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
