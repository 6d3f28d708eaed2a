//! One settings struct, layered with figment: the embedded defaults
//! (`producer/defaults.toml`) < the config file (`--config`) <
//! `MARKETPULSE_*` environment variables < flags. Every key works in all
//! three places; `[world]` and `[dirty]` keys replace their default whole
//! (a map given in the file is the whole map).
//!
//! Errors name the key as its source spells it, with the file and line.

mod engine;
mod layers;
mod loaded;
mod origin;
mod run;

use figment::value::Value;

use crate::error::Error;
pub(crate) use loaded::{Loaded, load};
use origin::show;
pub(crate) use run::{Pace, RealtimeOptions, Run};

/// Checks loaded settings into a run.
pub(crate) fn resolve(loaded: &Loaded) -> Result<Run, Error> {
    run::build(loaded)
}

/// The `--print-config` report: every setting in key order, as read from
/// its layers, with where it came from (unset optional keys as comments),
/// then the `[world]` and `[dirty]` keys that a layer set.
pub(crate) fn report(loaded: &Loaded) -> String {
    let Ok(Value::Dict(_, values)) = Value::serialize(&loaded.settings) else {
        return String::new();
    };
    let mut out = String::new();
    let line = |key: &str, v: &Value| {
        format!(
            "{key} = {}    # {}\n",
            toml_value(v),
            loaded.origin(key).location()
        )
    };
    let mut keys = layers::setting_keys();
    keys.sort();
    for key in keys {
        let value = match key.split_once('.') {
            Some((table, k)) => match values.get(table) {
                Some(Value::Dict(_, d)) => d.get(k),
                _ => None,
            },
            None => values.get(&key),
        };
        match value {
            Some(v) if !matches!(v, Value::Empty(..)) => out += &line(&key, v),
            _ => out += &format!("# {key} is not set\n"),
        }
    }
    for table in ["dirty", "world"] {
        if let Some(Value::Dict(_, d)) = values.get(table) {
            for (k, v) in d {
                let key = format!("{table}.{k}");
                if key != "world.clicks_v2_from" {
                    out += &line(&key, v);
                }
            }
        }
    }
    out
}

/// A value as TOML: text quoted, lists and tables inline.
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Array(_, a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Dict(_, d) => format!(
            "{{ {} }}",
            d.iter()
                .map(|(k, v)| format!("{k:?} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => show(other),
    }
}
