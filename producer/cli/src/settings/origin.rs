//! Where each setting came from, so that an error names the value the way
//! the user wrote it: `--scale 0`, `MARKETPULSE_SCALE=0`, or `scale = 0` in
//! a file, with its line.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::value::{Num, Value};
use toml::de::{DeTable, DeValue};

/// Provider names, also used to tell the layers apart.
pub(crate) const DEFAULT: &str = "default";
pub(crate) const FILE: &str = "config file";
pub(crate) const ENV: &str = "environment";
pub(crate) const FLAG: &str = "flag";

/// Prefix of the environment variables that are settings.
pub(crate) const ENV_PREFIX: &str = "MARKETPULSE_";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Default,
    File { path: PathBuf, line: Option<usize> },
    Env(String),
    Flag(String),
}

/// The config file's text, kept to find the line of a key.
pub(crate) struct FileText {
    pub path: PathBuf,
    pub text: String,
}

/// The environment variable that sets `key`.
pub(crate) fn env_var(key: &str) -> String {
    let name = match key {
        "world.clicks_v2_from" => "clicks_v2_from".to_string(),
        k => k.replace('.', "__"),
    };
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// The flag that sets `key`.
pub(crate) fn flag(key: &str) -> String {
    let name = key.strip_prefix("world.").unwrap_or(key);
    format!("--{}", name.replace('_', "-"))
}

/// The segments of a dotted key; a segment may be quoted to hold dots
/// (`organic_referrers."https://t.co/"`).
pub(crate) fn segments(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Which layer set `key`. A key inside a value a layer set (an array
/// element, a map entry) belongs to that value's layer; the search stops
/// below `[world]` and `[dirty]`, whose other keys keep their defaults.
pub(crate) fn of(figment: &Figment, file: Option<&FileText>, key: &str) -> Origin {
    let parts = segments(key);
    let mut n = parts.len();
    let (found, md) = loop {
        let k = parts[..n].join(".");
        if !parts[..n].iter().any(|p| p.contains('.'))
            && let Some(md) = figment.find_metadata(&k)
        {
            break (k, md);
        }
        if n <= 1 || (n == 2 && matches!(parts[0].as_str(), "world" | "dirty")) {
            return Origin::Default;
        }
        n -= 1;
    };
    match md.name.as_ref() {
        FILE => {
            let path = file.map_or_else(PathBuf::new, |f| f.path.clone());
            let line = file.and_then(|f| {
                (1..=parts.len())
                    .rev()
                    .find_map(|n| line_of_parts(&f.text, &parts[..n]))
            });
            Origin::File { path, line }
        }
        ENV if matches!(found.as_str(), "world" | "dirty") => Origin::Env(format!(
            "{ENV_PREFIX}{}__* variables",
            found.to_ascii_uppercase()
        )),
        ENV => Origin::Env(env_var(&found)),
        FLAG => Origin::Flag(flag(&found)),
        _ => Origin::Default,
    }
}

/// A value for messages: strings quoted, numbers as written.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("'{s}'"),
        Value::Num(_, n) => number(n),
        Value::Bool(_, b) => b.to_string(),
        Value::Array(_, a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Dict(..) => "a table".into(),
        Value::Empty(..) => "nothing".into(),
        Value::Char(_, c) => format!("'{c}'"),
    }
}

fn number(n: &Num) -> String {
    match *n {
        Num::U8(v) => v.to_string(),
        Num::U16(v) => v.to_string(),
        Num::U32(v) => v.to_string(),
        Num::U64(v) => v.to_string(),
        Num::U128(v) => v.to_string(),
        Num::USize(v) => v.to_string(),
        Num::I8(v) => v.to_string(),
        Num::I16(v) => v.to_string(),
        Num::I32(v) => v.to_string(),
        Num::I64(v) => v.to_string(),
        Num::I128(v) => v.to_string(),
        Num::ISize(v) => v.to_string(),
        Num::F32(v) => v.to_string(),
        Num::F64(v) => v.to_string(),
    }
}

impl Origin {
    /// `key` set to `value`, as its source spells it: `--scale 0`,
    /// `MARKETPULSE_SCALE=0`, `scale = 0 (c.toml line 3)`.
    pub(crate) fn setting(&self, key: &str, value: Option<&str>) -> String {
        match (self, value) {
            (Origin::Flag(f), Some(v)) => format!("{f} {v}"),
            (Origin::Flag(f), None) => f.clone(),
            (Origin::Env(var), Some(v)) => format!("{var}={}", v.trim_matches('\'')),
            (Origin::Env(var), None) => var.clone(),
            (Origin::File { .. }, _) | (Origin::Default, _) => {
                let v = value.map(|v| format!(" = {v}")).unwrap_or_default();
                format!("{key}{v} ({})", self.location())
            }
        }
    }

    /// Where: `c.toml line 3`, `MARKETPULSE_X`, `--x`, `default`.
    pub(crate) fn location(&self) -> String {
        match self {
            Origin::Default => "default".into(),
            Origin::File { path, line } => match line {
                Some(n) => format!("{} line {n}", display(path)),
                None => display(path),
            },
            Origin::Env(var) => var.clone(),
            Origin::Flag(f) => f.clone(),
        }
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// 1-based line of the byte at `offset`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line where `key` (dotted; array elements by index) is set in a TOML text.
#[cfg(test)]
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    line_of_parts(text, &segments(key))
}

fn line_of_parts(text: &str, parts: &[String]) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut value: Option<&DeValue<'_>> = None;
    let mut offset = None;
    for part in parts {
        match value {
            Some(DeValue::Array(items)) => {
                let item = items.get(part.parse::<usize>().ok()?)?;
                offset = Some(item.span().start);
                value = Some(item.get_ref());
            }
            Some(DeValue::Table(t)) => {
                table = t;
                let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
                offset = Some(k.span().start);
                value = Some(v.get_ref());
            }
            Some(_) => return None,
            None => {
                let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
                offset = Some(k.span().start);
                value = Some(v.get_ref());
            }
        }
    }
    offset.map(|o| line_at(text, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_exact() {
        let text = "days = 1\nscale = \"lots\"\n\n[world]\nusers = 5\n\n[[world.campaigns]]\nname = \"a\"\n\n[[world.campaigns]]\nname = \"b\"\n";
        assert_eq!(line_of(text, "days"), Some(1));
        assert_eq!(line_of(text, "scale"), Some(2));
        assert_eq!(line_of(text, "world.users"), Some(5));
        assert_eq!(line_of(text, "world.campaigns.1.name"), Some(11));
        assert_eq!(line_of(text, "seed"), None);
        assert_eq!(line_at("a\nb\n", 2), 2);
        let quoted = "[world.organic_referrers]\ndirect = 0.5\n\"https://t.co/\" = -1\n";
        assert_eq!(
            line_of(quoted, "world.organic_referrers.\"https://t.co/\""),
            Some(3)
        );
        assert_eq!(
            segments("a.\"b.c\".d"),
            ["a".to_string(), "b.c".into(), "d".into()]
        );
    }

    #[test]
    fn names_follow_the_source() {
        assert_eq!(env_var("shard_index"), "MARKETPULSE_SHARD_INDEX");
        assert_eq!(env_var("world.users"), "MARKETPULSE_WORLD__USERS");
        assert_eq!(
            env_var("world.clicks_v2_from"),
            "MARKETPULSE_CLICKS_V2_FROM"
        );
        assert_eq!(flag("shard_index"), "--shard-index");
        assert_eq!(flag("world.clicks_v2_from"), "--clicks-v2-from");
    }
}
