//! The settings as read from their layers, before any check: one
//! `Settings` struct, and where each value came from.

use std::path::PathBuf;

use figment::Figment;
use figment::value::{Dict, Value};
use serde::{Deserialize, Deserializer, Serialize};

use super::layers;
use super::origin::{self, FileText, Origin, show};
use crate::cli::GenerateArgs;
use crate::console::say;
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// As fast as possible.
    Backfill,
    /// Paced, in event-time order.
    Realtime,
}

/// Every key `generate` reads. Field names are the keys (and, with `-`, the
/// flags); defaults are in `producer/defaults.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(deserialize_with = "text")]
    pub out: String,
    #[serde(deserialize_with = "text")]
    pub start: String,
    #[serde(deserialize_with = "lenient")]
    pub days: i64,
    #[serde(deserialize_with = "lenient")]
    pub scale: f64,
    #[serde(deserialize_with = "lenient")]
    pub seed: u64,
    pub format: marketpulse_gen::Format,
    #[serde(default)]
    pub compression: Option<marketpulse_gen::Compression>,
    #[serde(deserialize_with = "list")]
    pub domains: Vec<String>,
    #[serde(default, deserialize_with = "opt_lenient")]
    pub threads: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub shard_index: i64,
    #[serde(deserialize_with = "lenient")]
    pub shard_count: i64,
    #[serde(deserialize_with = "lenient")]
    pub dry_run: bool,
    #[serde(deserialize_with = "lenient")]
    pub resume: bool,
    #[serde(deserialize_with = "lenient")]
    pub force: bool,
    #[serde(deserialize_with = "lenient")]
    pub lock_lease_seconds: i64,
    #[serde(default, deserialize_with = "opt_text")]
    pub sink: Option<String>,
    pub mode: Mode,
    #[serde(default, deserialize_with = "opt_lenient")]
    pub rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_text")]
    pub rate_profile: Option<String>,
    #[serde(default, deserialize_with = "opt_lenient")]
    pub speedup: Option<f64>,
    #[serde(default, deserialize_with = "opt_lenient")]
    pub duration: Option<f64>,
    #[serde(deserialize_with = "lenient")]
    pub flush_seconds: i64,
    #[serde(deserialize_with = "lenient")]
    pub flush_mb: i64,
    #[serde(default, deserialize_with = "opt_text")]
    pub endpoint_url: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub sse_kms_key: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub no_overwrite: bool,
    #[serde(deserialize_with = "lenient")]
    pub multipart_threshold_mib: i64,
    #[serde(deserialize_with = "lenient")]
    pub part_size_mib: i64,
    #[serde(default, deserialize_with = "opt_lenient")]
    pub concurrency: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub skip_sink_check: bool,
    #[serde(default, deserialize_with = "opt_text")]
    pub metrics_json: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub emf: bool,
    #[serde(deserialize_with = "lenient")]
    pub quiet: bool,
    #[serde(deserialize_with = "lenient")]
    pub progress_seconds: i64,
    /// `[world]` and `[dirty]` keys given by a layer; the rest default.
    #[serde(default)]
    pub world: Dict,
    #[serde(default)]
    pub dirty: Dict,
}

/// Strings may come from the environment as numbers (`MARKETPULSE_OUT=2025`).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = <Value as Deserialize>::deserialize(d)?;
    match &v {
        Value::String(_, s) => Ok(s.clone()),
        Value::Num(..) | Value::Bool(..) | Value::Char(..) => Ok(show(&v)),
        _ => Err(serde::de::Error::custom(format!(
            "expected text, found {}",
            show(&v)
        ))),
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d).map(Some)
}

/// A number or boolean, also from text: environment values arrive as
/// written (`MARKETPULSE_DAYS=3`).
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + std::str::FromStr,
{
    let v = <Value as Deserialize>::deserialize(d)?;
    match &v {
        Value::String(_, s) => s.trim().parse::<T>().map_err(|_| {
            serde::de::Error::invalid_type(
                serde::de::Unexpected::Str(s),
                &std::any::type_name::<T>(),
            )
        }),
        _ => v.deserialize::<T>().map_err(|_| {
            let shown = show(&v);
            let unexpected = match &v {
                Value::Num(..) => serde::de::Unexpected::Other(&shown),
                Value::Bool(_, b) => serde::de::Unexpected::Bool(*b),
                Value::Array(..) => serde::de::Unexpected::Seq,
                Value::Dict(..) => serde::de::Unexpected::Map,
                _ => serde::de::Unexpected::Other("a value"),
            };
            serde::de::Error::invalid_type(unexpected, &std::any::type_name::<T>())
        }),
    }
}

fn opt_lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + std::str::FromStr,
{
    lenient(d).map(Some)
}

/// A list, or one comma-separated string (`MARKETPULSE_DOMAINS=sales,clicks`).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = <Value as Deserialize>::deserialize(d)?;
    match &v {
        Value::String(_, s) => Ok(s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()),
        Value::Array(_, items) => items
            .iter()
            .map(|i| match i {
                Value::String(_, s) => Ok(s.clone()),
                other => Err(serde::de::Error::custom(format!(
                    "expected names, found {}",
                    show(other)
                ))),
            })
            .collect(),
        other => Err(serde::de::Error::custom(format!(
            "expected a list of names, found {}",
            show(other)
        ))),
    }
}

/// The settings of one `generate`, with the means to say where each came from.
pub(crate) struct Loaded {
    pub settings: Settings,
    pub(super) figment: Figment,
    pub(super) file: Option<FileText>,
}

impl Loaded {
    pub(crate) fn origin(&self, key: &str) -> Origin {
        origin::of(&self.figment, self.file.as_ref(), key)
    }

    /// `key`'s value as its source spells it: `--scale 0`.
    pub(crate) fn describe(&self, key: &str) -> String {
        let value = self.figment.find_value(key).ok().map(|v| show(&v));
        self.origin(key).setting(key, value.as_deref())
    }

    /// A bad value of `key`: `invalid --scale 0: must be above 0`.
    pub(crate) fn invalid(&self, key: &str, why: impl std::fmt::Display) -> Error {
        Error::usage(format!("invalid {}: {why}", self.describe(key)))
    }
}

/// Reads the layers for `args` (the config file from `--config` or
/// `MARKETPULSE_CONFIG`) and extracts the settings.
pub(crate) fn load(args: &GenerateArgs) -> Result<Loaded, Error> {
    let config = args
        .config
        .clone()
        .or_else(|| std::env::var_os("MARKETPULSE_CONFIG").map(PathBuf::from));
    let file = config.map(|p| layers::read_file(&p)).transpose()?;
    for warning in layers::unknown_env_warnings() {
        say!("marketpulse: warning: {warning}");
    }
    let mut figment = Figment::new().merge(layers::defaults());
    if let Some(f) = &file {
        figment = figment.merge(layers::file(f)?);
    }
    figment = figment.merge(layers::env()?).merge(layers::flags(args));
    match figment.extract::<Settings>() {
        Ok(settings) => Ok(Loaded {
            settings,
            figment,
            file,
        }),
        Err(e) => Err(layers::explain(&figment, file.as_ref(), &[], e)),
    }
}
