//! One settings struct, layered with figment: the embedded defaults
//! (`producer/defaults.toml`) < the config file (`--config`) <
//! `MARKETPULSE_*` environment variables < flags. Every key works in all
//! three places; `[world]` and `[dirty]` keys replace their default whole
//! (a map given in the file is the whole map).
//!
//! Errors name the key as its source spells it, with the file and line.

mod layers;
mod origin;
mod run;

use std::path::PathBuf;

use figment::Figment;
use figment::value::{Dict, Value};
use serde::{Deserialize, Deserializer, Serialize};

use crate::cli::GenerateArgs;
use crate::error::Error;
pub(crate) use origin::Origin;
use origin::{FileText, show};
pub(crate) use run::{Mode, Run};

/// Every key `generate` reads. Field names are the keys (and, with `-`, the
/// flags); defaults are in `producer/defaults.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(deserialize_with = "text")]
    pub out: String,
    #[serde(deserialize_with = "text")]
    pub start: String,
    pub days: i64,
    pub scale: f64,
    pub seed: u64,
    pub format: marketpulse_gen::Format,
    pub compression: marketpulse_gen::Compression,
    #[serde(deserialize_with = "list")]
    pub domains: Vec<String>,
    pub threads: Option<i64>,
    pub shard_index: i64,
    pub shard_count: i64,
    #[serde(default, deserialize_with = "opt_text")]
    pub sink: Option<String>,
    pub mode: Mode,
    pub rate: Option<f64>,
    pub speedup: Option<f64>,
    pub duration: Option<f64>,
    pub flush_seconds: i64,
    pub flush_mb: i64,
    #[serde(default, deserialize_with = "opt_text")]
    pub endpoint_url: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub sse_kms_key: Option<String>,
    pub no_overwrite: bool,
    pub multipart_threshold_mib: i64,
    pub part_size_mib: i64,
    pub concurrency: Option<i64>,
    pub skip_sink_check: bool,
    #[serde(default, deserialize_with = "opt_text")]
    pub metrics_json: Option<String>,
    pub emf: bool,
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

/// A list, or one comma-separated string (`MARKETPULSE_DOMAINS=sales,clicks`).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}

/// The settings of one `generate`, with the means to say where each came from.
pub(crate) struct Loaded {
    pub settings: Settings,
    figment: Figment,
    file: Option<FileText>,
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
        eprintln!("marketpulse: warning: {warning}");
    }
    let mut figment = Figment::new().merge(layers::defaults());
    if let Some(f) = &file {
        figment = figment.merge(layers::file(f)?);
    }
    figment = figment.merge(layers::env()).merge(layers::flags(args));
    match figment.extract::<Settings>() {
        Ok(settings) => Ok(Loaded {
            settings,
            figment,
            file,
        }),
        Err(e) => Err(layers::explain(&figment, file.as_ref(), &[], e)),
    }
}

/// Resolves `args` into a validated run.
pub(crate) fn resolve(args: &GenerateArgs) -> Result<(Run, Loaded), Error> {
    let loaded = load(args)?;
    let run = run::build(&loaded)?;
    Ok((run, loaded))
}

/// The `--print-config` report: every setting in key order with its value
/// and where it came from (unset optional keys as comments), then the
/// `[world]` and `[dirty]` keys that a layer set.
pub(crate) fn report(loaded: &Loaded) -> String {
    let Ok(top) = loaded.figment.extract::<Dict>() else {
        return String::new();
    };
    let mut keys = layers::setting_keys();
    for table in ["world", "dirty"] {
        if let Some(Value::Dict(_, inner)) = top.get(table) {
            keys.extend(inner.keys().map(|k| format!("{table}.{k}")));
        }
    }
    keys.sort();
    keys.dedup();
    let mut out = String::new();
    for key in keys {
        match loaded.figment.find_value(&key) {
            Ok(v) => {
                out += &format!(
                    "{key} = {}    # {}\n",
                    toml_value(&v),
                    loaded.origin(&key).location()
                )
            }
            Err(_) => out += &format!("# {key} is not set\n"),
        }
    }
    out
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Array(_, a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        other => show(other),
    }
}
