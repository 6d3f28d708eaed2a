//! The four layers as figment providers, and figment's errors turned into
//! one line that names the key where the user wrote it.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::origin::{self, DEFAULT, ENV, ENV_PREFIX, FILE, FLAG, FileText, Origin};
use crate::cli::{Cli, GenerateArgs};
use crate::error::Error;

/// A layer of settings already read.
struct Layer {
    name: &'static str,
    source: Option<PathBuf>,
    data: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let md = Metadata::named(self.name);
        match &self.source {
            Some(p) => md.source(figment::Source::File(p.clone())),
            None => md,
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// The embedded defaults as a table.
pub(super) fn default_table() -> Dict {
    toml::from_str(marketpulse_gen::spec::DEFAULTS_TOML).expect("defaults.toml parses")
}

/// Top-level defaults; `[world]` and `[dirty]` are overlaid key by key later.
pub(super) fn defaults() -> impl Provider {
    let mut data = default_table();
    data.remove("world");
    data.remove("dirty");
    Layer {
        name: DEFAULT,
        source: None,
        data,
    }
}

pub(super) fn read_file(path: &Path) -> Result<FileText, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read config file {}: {e}", path.display())))?;
    Ok(FileText {
        path: path.to_path_buf(),
        text,
    })
}

pub(super) fn file(f: &FileText) -> Result<impl Provider, Error> {
    let data: Dict = toml::from_str(&f.text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!(" line {}", origin::line_at(&f.text, s.start)))
            .unwrap_or_default();
        Error::usage(format!(
            "invalid config file {}{line}: {}",
            f.path.display(),
            e.message().trim().replace('\n', " ")
        ))
    })?;
    Ok(Layer {
        name: FILE,
        source: Some(f.path.clone()),
        data: data
            .into_iter()
            .map(|(k, v)| (k, dates_as_text(v)))
            .collect(),
    })
}

/// TOML dates (`start = 2025-01-06`, unquoted) arrive as a private one-key
/// table; settings read them as the text of the date.
fn dates_as_text(v: Value) -> Value {
    match v {
        Value::Dict(tag, d) => {
            if d.len() == 1
                && let Some(Value::String(_, s)) = d.get("$__toml_private_datetime")
            {
                return Value::from(s.clone());
            }
            Value::Dict(
                tag,
                d.into_iter().map(|(k, v)| (k, dates_as_text(v))).collect(),
            )
        }
        Value::Array(tag, a) => Value::Array(tag, a.into_iter().map(dates_as_text).collect()),
        other => other,
    }
}

/// The keys of `generate`'s settings: its flags' names, less those that
/// are not settings.
pub(super) fn setting_keys() -> Vec<String> {
    let cmd = Cli::command();
    let generate = cmd.find_subcommand("generate").expect("generate exists");
    generate
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .filter(|id| !matches!(id.as_str(), "config" | "print_config" | "help"))
        .map(|id| {
            if id == "clicks_v2_from" {
                "world.clicks_v2_from".to_string()
            } else {
                id
            }
        })
        .collect()
}

/// What an environment variable (its name after the prefix, lower case) sets.
enum EnvKey {
    /// A top-level setting; its value is taken as written.
    Setting(String),
    /// A `[world]` or `[dirty]` key; its value is parsed (numbers, lists,
    /// `{key = value}` tables).
    Table(String),
    /// Not a setting.
    Unknown,
}

fn env_key(name: &str, keys: &[String]) -> Result<EnvKey, Error> {
    if name == "clicks_v2_from" {
        return Ok(EnvKey::Setting("world.clicks_v2_from".into()));
    }
    if keys.iter().any(|k| k == name) {
        return Ok(EnvKey::Setting(name.to_string()));
    }
    let Some((table, rest)) = name.split_once("__") else {
        return Ok(EnvKey::Unknown);
    };
    if !matches!(table, "world" | "dirty") || rest.is_empty() {
        return Ok(EnvKey::Unknown);
    }
    if rest.contains("__") {
        let var = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
        let (head, _) = rest.split_once("__").expect("checked");
        return Err(Error::usage(format!(
            "invalid {var}: a variable sets a whole [{table}] key; give all of {head} as {ENV_PREFIX}{}__{}={{...}}, or set it in the config file",
            table.to_ascii_uppercase(),
            head.to_ascii_uppercase()
        )));
    }
    Ok(EnvKey::Table(format!("{table}.{rest}")))
}

/// `MARKETPULSE_*` variables, name after the prefix in lower case, sorted.
fn env_vars() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter_map(|(k, v)| Some((k.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase(), v)))
        .collect();
    vars.sort();
    vars
}

/// Inserts `value` at a dotted `key`.
fn insert(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

pub(super) fn env() -> Result<impl Provider, Error> {
    let keys = setting_keys();
    let mut data = Dict::new();
    let mut set_by: Vec<(String, String)> = Vec::new();
    for (name, value) in env_vars() {
        let (key, value) = match env_key(&name, &keys)? {
            EnvKey::Setting(key) => (key, Value::from(value)),
            EnvKey::Table(key) => {
                let parsed: Value = value.parse().expect("parsing a value is infallible");
                (key, parsed)
            }
            EnvKey::Unknown => continue,
        };
        let var = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
        if let Some((_, other)) = set_by.iter().find(|(k, _)| *k == key) {
            return Err(Error::usage(format!(
                "{other} and {var} both set {key}: keep one"
            )));
        }
        set_by.push((key.clone(), var));
        insert(&mut data, &key, value);
    }
    Ok(Layer {
        name: ENV,
        source: None,
        data,
    })
}

/// Edit distance with transpositions (optimal string alignment), for "did
/// you mean".
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The known key `name` is most likely a misspelling of: one edit away, or
/// two in a long key.
fn closest<'a>(name: &str, keys: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    keys.map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d == 1 || (*d == 2 && k.len() >= 8))
        .min()
        .map(|(_, k)| k)
}

/// `MARKETPULSE_*` variables that are not settings but look like a
/// misspelt one. Others (MARKETPULSE_CONFIG, a tool's own) pass quietly.
pub(super) fn unknown_env_warnings() -> Vec<String> {
    let keys = setting_keys();
    env_vars()
        .into_iter()
        .filter(|(name, _)| {
            name != "config" && matches!(env_key(name, &keys), Ok(EnvKey::Unknown))
        })
        .filter_map(|(name, _)| {
            let var = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
            for table in ["world", "dirty"] {
                if name.starts_with(&format!("{table}_")) {
                    return Some(format!(
                        "ignoring {var}: not a setting ([{table}] keys are {ENV_PREFIX}{}__<KEY>, with two underscores)",
                        table.to_ascii_uppercase()
                    ));
                }
            }
            let near = closest(&name, keys.iter().map(String::as_str))?;
            Some(format!(
                "ignoring {var}: not a setting (did you mean {}?)",
                origin::env_var(near)
            ))
        })
        .collect()
}

pub(super) fn flags(args: &GenerateArgs) -> impl Provider {
    let mut data = match Value::serialize(args) {
        Ok(Value::Dict(_, d)) => d,
        _ => Dict::new(),
    };
    if let Some(d) = &args.clicks_v2_from {
        insert(&mut data, "world.clicks_v2_from", Value::from(d.clone()));
    }
    Layer {
        name: FLAG,
        source: None,
        data,
    }
}

/// What a serde type name means to a user.
fn expected(what: &str) -> String {
    match what {
        "f64" | "f32" => "a number".into(),
        "i64" | "i32" | "isize" => "an integer".into(),
        "u64" | "u32" | "u16" | "u8" | "usize" => "a whole number, 0 or more".into(),
        "bool" | "a boolean" => "true or false".into(),
        other => other.to_string(),
    }
}

/// One line for the first of figment's errors. `prefix` is the path the
/// extracted value sits at (`world` when extracting `[world]`).
pub(super) fn explain(
    figment: &Figment,
    file: Option<&FileText>,
    prefix: &[&str],
    e: figment::Error,
) -> Error {
    let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    path.extend(e.path.iter().cloned());
    let key = |path: &[String]| path.join(".");
    let origin_of = |k: &str| origin::of(figment, file, k);
    match &e.kind {
        Kind::UnknownField(field, _) => {
            // figment's path already ends with the field.
            let mut full = path.clone();
            if full.last() != Some(field) {
                full.push(field.clone());
            }
            let path = &full[..full.len() - 1];
            let k = key(&full);
            let keys = setting_keys();
            let hint = if path.is_empty() {
                closest(field, keys.iter().map(String::as_str))
                    .map(|n| format!(" (did you mean {n}?)"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let place = match origin_of(&k) {
                Origin::Default => String::new(),
                o => format!(" ({})", o.location()),
            };
            Error::usage(format!("unknown key {k}{place}: not a setting{hint}"))
        }
        kind => {
            let k = key(&path);
            let why = match kind {
                Kind::InvalidType(actual, exp) | Kind::InvalidValue(actual, exp) => {
                    format!("expected {}, found {actual}", expected(exp))
                }
                Kind::UnknownVariant(v, allowed) => {
                    format!("'{v}' is not one of {}", allowed.join(", "))
                }
                Kind::MissingField(f) => format!("{f} is missing"),
                Kind::Message(m) => m.clone(),
                other => other.to_string(),
            };
            let value = figment.find_value(&k).ok().map(|v| origin::show(&v));
            let shown = origin_of(&k).setting(&k, value.as_deref());
            Error::usage(format!("invalid {shown}: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_only_for_near_misses() {
        let keys = setting_keys();
        let near = |n: &str| closest(n, keys.iter().map(String::as_str));
        assert_eq!(near("sclae"), Some("scale"));
        assert_eq!(near("seeed"), Some("seed"));
        assert_eq!(near("shard_cuont"), Some("shard_count"));
        assert_eq!(near("bin"), None);
        assert_eq!(near("test_binary"), None);
    }
}
