//! A local folder: each file is written to a hidden temporary file in its
//! target folder, then renamed over its final name. Files get the process
//! umask's permissions (0644 under the usual 022), not a temporary file's
//! 0600, so other users and containers can read the lake.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::api::{Listed, Lock, ObjectSink, SinkContext, SinkOptions, guarded};
use crate::error::Error;
use crate::metrics::Metrics;

/// Prefix of every temporary file; `verify` reports leftovers by it.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

pub(super) struct FolderSink {
    root: PathBuf,
    /// A hidden file holding space for the manifest, so a full disk still
    /// gets a manifest of what was written. Deleted on release or drop.
    reserve: Mutex<Option<tempfile::NamedTempFile>>,
    /// Each file written counts as one request.
    metrics: Arc<Metrics>,
    options: SinkOptions,
    /// `.tmp-<owner>-` names this writer's temporary files.
    temp_prefix: String,
}

/// A folder path, not a URL with a mistyped scheme separator.
pub(super) fn check_root(root: &str) -> Result<(), Error> {
    if root.split('/').next().is_some_and(|c| c.ends_with(':')) {
        return Err(Error::usage(format!(
            "invalid destination '{root}': it looks like a URL; write scheme://, as in s3://bucket/prefix"
        )));
    }
    Ok(())
}

impl FolderSink {
    /// The folder `root`; nothing is created until `check` or the first file.
    pub(super) fn open(root: &str, ctx: &SinkContext<'_>) -> Result<FolderSink, Error> {
        check_root(root)?;
        Ok(FolderSink {
            root: PathBuf::from(root),
            reserve: Mutex::new(None),
            metrics: ctx.metrics.clone(),
            options: ctx.options.clone(),
            temp_prefix: format!("{TEMP_PREFIX}{}-", ctx.owner),
        })
    }

    fn temp_in(&self, dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(&self.temp_prefix)
            // The umask decides, as for any file the user creates.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
    }

    /// Writes `bytes` to a temporary file next to `key`'s path (removed on
    /// any error before it is persisted).
    fn write_temp(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> Result<(PathBuf, tempfile::NamedTempFile), Error> {
        let path = self.root.join(key);
        let fail = write_failed(&path);
        let dir = path.parent().expect("keys name a file below the root");
        let mut tmp = in_folder(dir, || self.temp_in(dir)).map_err(fail)?;
        tmp.write_all(bytes).map_err(fail)?;
        Ok((path, tmp))
    }
}

/// Runs `create` in `dir`, making the folder first. Shards sharing a lake
/// remove folders they emptied, so `dir` can vanish between the two steps:
/// then it is made again.
fn in_folder<T>(dir: &Path, mut create: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    use std::io::ErrorKind::{AlreadyExists, NotFound};
    let mut tries = 0;
    loop {
        // create_dir_all itself reports AlreadyExists when the folder it
        // found made goes again before it looks.
        match std::fs::create_dir_all(dir).and_then(|()| create()) {
            Err(e) if matches!(e.kind(), NotFound | AlreadyExists) && tries < 100 => tries += 1,
            done => return done,
        }
    }
}

fn write_failed(path: &Path) -> impl Fn(std::io::Error) -> Error + Copy + '_ {
    move |e| Error::runtime(format!("cannot write {}: {e}", path.display()))
}

/// Every file below `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        // Another shard's temporary file can be renamed or removed between
        // the folder read and this look at it: it is no longer there to list.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("below root");
            out.push(Listed {
                key: rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
                size: meta.len(),
            });
        }
    }
    Ok(())
}

/// A lock file held with `flock`: the kernel releases it when the process
/// dies, so a killed run never leaves a held lock behind. A released lock
/// removes its file, so finished lakes hold none.
struct FileLock {
    path: PathBuf,
    file: Option<File>,
}

impl Lock for FileLock {}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock: a run that opens the path
        // afterwards creates a new file, and `lock` checks for that race.
        let _ = std::fs::remove_file(&self.path);
        self.file.take();
    }
}

/// Whether `file` is still the file at `path` (not unlinked and replaced).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl ObjectSink for FolderSink {
    /// Creates the folder if needed and checks that files can be created in it.
    fn check(&self) -> Result<(), Error> {
        if self.root.exists() && !self.root.is_dir() {
            return Err(Error::usage(format!(
                "invalid --out {}: it is a file, not a folder",
                self.root.display()
            )));
        }
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
        let (path, tmp) = self.write_temp(key, bytes)?;
        let fail = write_failed(&path);
        if guarded(&self.options, key) {
            tmp.persist_noclobber(&path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::runtime(format!(
                        "cannot write {}: it exists and --no-overwrite is set",
                        path.display()
                    ))
                } else {
                    fail(e.error)
                }
            })?;
        } else {
            tmp.persist(&path).map_err(|e| fail(e.error))?;
        }
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
        let mut file = self.temp_in(&self.root).map_err(fail)?;
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

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, Error> {
        // Walk from the deepest folder the prefix names.
        let start = match prefix.rfind('/') {
            Some(i) => self.root.join(&prefix[..i]),
            None => self.root.clone(),
        };
        let mut out = Vec::new();
        walk(&self.root, &start, &mut out)
            .map_err(|e| Error::runtime(format!("cannot list {}: {e}", start.display())))?;
        out.retain(|l| l.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let path = self.root.join(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::runtime(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Removes the file, then its folders up to the root while they are empty.
    fn delete(&self, key: &str) -> Result<(), Error> {
        let path = self.root.join(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::runtime(format!(
                    "cannot remove {}: {e}",
                    path.display()
                )));
            }
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        let (path, tmp) = self.write_temp(key, bytes)?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(write_failed(&path)(e.error)),
        }
    }

    fn clean_up(&self, owner: &str, _mine: &dyn Fn(&str) -> bool) -> Result<u64, Error> {
        let prefix = format!("{TEMP_PREFIX}{owner}-");
        let mut removed = 0;
        for l in self.list("")? {
            let name = l.key.rsplit('/').next().unwrap_or("");
            if name.starts_with(&prefix) {
                self.delete(&l.key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn lock(&self, key: &str, _lease: Duration) -> Result<Box<dyn Lock>, Error> {
        let path = self.root.join(key);
        let fail =
            |e: std::io::Error| Error::runtime(format!("cannot lock {}: {e}", path.display()));
        let dir = path.parent().expect("lock keys name a file");
        // A few tries: the holder may unlink the file between our open and
        // our lock, and then the lock we got is on a file no one sees.
        for _ in 0..10 {
            let file = in_folder(dir, || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .map_err(fail)?;
            match file.try_lock() {
                Ok(()) if same_file(&file, &path) => {
                    return Ok(Box::new(FileLock {
                        path,
                        file: Some(file),
                    }));
                }
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::usage(format!(
                        "another run is writing this shard into {} now: wait for it, or use another --out",
                        self.root.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            }
        }
        Err(Error::runtime(format!(
            "cannot lock {}: it keeps changing",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::{in_folder, walk};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Shards sharing a folder list it while others rename their temporary
    /// files into place: a file gone by the time it is looked at is skipped.
    #[test]
    fn a_listing_skips_files_renamed_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("_manifests");
        std::fs::create_dir(&folder).unwrap();
        for i in 0..300 {
            std::fs::write(folder.join(format!("kept-{i}")), b"x").unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (folder, stop) = (folder.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (temp, done) = (folder.join(".tmp-m"), folder.join("m"));
                    std::fs::write(&temp, b"y").unwrap();
                    std::fs::rename(&temp, &done).unwrap();
                    std::fs::remove_file(&done).unwrap();
                }
            })
        };
        for _ in 0..500 {
            let mut out = Vec::new();
            walk(dir.path(), &folder, &mut out).unwrap();
            assert!(
                out.iter()
                    .filter(|l| l.key.starts_with("_manifests/kept-"))
                    .count()
                    == 300
            );
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
    }

    /// Another shard removes a folder it emptied while this one is about to
    /// write into it: the folder is made again and the write goes through.
    #[test]
    fn a_write_remakes_a_folder_removed_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("sales").join("dt=2025-01-06");
        let stop = Arc::new(AtomicBool::new(false));
        let remover = {
            let (folder, stop) = (folder.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut removed = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    removed += u32::from(std::fs::remove_dir(&folder).is_ok());
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                removed
            })
        };
        for _ in 0..2000 {
            in_folder(&folder, || tempfile::NamedTempFile::new_in(&folder)).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(remover.join().unwrap() > 0, "the folder was never removed");
    }
}
