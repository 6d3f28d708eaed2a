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
}

/// A local folder. Files are written to a hidden temporary file in the target
/// folder, flushed, then renamed over the final name.
pub struct FolderSink {
    root: PathBuf,
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
        })
    }
}

impl Sink for FolderSink {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
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
        Ok(())
    }

    fn describe(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}
