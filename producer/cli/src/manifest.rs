//! The run manifest, `<out>/_manifests/<spec id>-shard-<i>-of-<n>.json`:
//! per file its rows, bytes, SHA-256 and injected defects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) const MANIFEST_DIR: &str = "_manifests";
/// Truth sidecars of injected defects mirror the data files' paths here.
pub(crate) const TRUTH_DIR: &str = "_truth";
/// `domain` of truth sidecar entries.
pub(crate) const TRUTH_DOMAIN: &str = "truth";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// Path relative to the lake root, `/`-separated.
    pub(crate) path: String,
    pub(crate) domain: String,
    pub(crate) partition: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    /// Injected defects by kind (dirty data); absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) defects: BTreeMap<String, u64>,
    /// Where the unit's records went (`kinesis://name`, `stdout`) when a
    /// record sink took them: `path` then names the unit, not a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sink: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) producer: String,
    pub(crate) producer_version: String,
    pub(crate) run: String,
    pub(crate) shard_index: u32,
    pub(crate) shard_count: u32,
    /// Where the shard index came from (`--shard-index`,
    /// `AWS_BATCH_JOB_ARRAY_INDEX`, `default`…); absent in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shard_source: Option<String>,
    /// False when the run stopped early; `files` then lists what was delivered.
    pub(crate) complete: bool,
    /// The dataset spec: config, seed and contract version.
    pub(crate) spec: serde_json::Value,
    pub(crate) files: Vec<FileEntry>,
}

impl Manifest {
    pub(crate) fn file_name(run: &str, shard_index: u32, shard_count: u32) -> String {
        format!("{run}-shard-{shard_index:05}-of-{shard_count:05}.json")
    }

    pub(crate) fn key(&self) -> String {
        format!(
            "{MANIFEST_DIR}/{}",
            Manifest::file_name(&self.run, self.shard_index, self.shard_count)
        )
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serialises");
        v.push(b'\n');
        v
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
