//! Settings: every key works from the config file, the environment and the
//! command line, in that rising order, and takes effect; errors name the
//! key where it was written.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use super::{bin, manifest, stderr, tmp};

/// Runs `marketpulse generate` with a config file (if any), environment
/// variables and flags, and no other MARKETPULSE_* variable.
fn generate_with(config: Option<&Path>, env: &[(&str, &str)], flags: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("generate");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(flags).envs(env.iter().copied());
    cmd.output().expect("binary runs")
}

/// `--print-config` as key → (value, origin); unset keys have no entry.
fn print_config(
    config: Option<&Path>,
    env: &[(&str, &str)],
    flags: &[&str],
) -> BTreeMap<String, (String, String)> {
    let mut args = vec!["--print-config"];
    args.extend_from_slice(flags);
    let o = generate_with(config, env, &args);
    assert!(o.status.success(), "{flags:?} {env:?}: {}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (kv, origin) = l.rsplit_once("    # ").expect("value and origin");
            let (k, v) = kv.split_once(" = ").expect("key = value");
            (k.to_string(), (v.to_string(), origin.to_string()))
        })
        .collect()
}

/// Every key the binary knows, from its own report.
fn all_keys() -> Vec<String> {
    let o = generate_with(None, &[], &["--print-config"]);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let l = l.trim_start_matches("# ");
            l.split([' ', '=']).next().unwrap().to_string()
        })
        .collect()
}

/// How a setting's value prints: `domains` as a list; otherwise as `printed`.
fn printed_as(key: &str, raw: &str) -> String {
    match key {
        "domains" if !raw.starts_with('[') => format!("[\"{raw}\"]"),
        _ => printed(raw),
    }
}

/// How a value prints: text quoted, numbers and booleans bare.
fn printed(raw: &str) -> String {
    if raw.parse::<f64>().is_ok() || raw == "true" || raw == "false" || raw.starts_with('[') {
        raw.to_string()
    } else {
        format!("\"{raw}\"")
    }
}

struct Case {
    key: &'static str,
    /// Values for the file, the environment and the flag; distinct, so the
    /// winner shows.
    file: &'static str,
    env: &'static str,
    flag: &'static str,
    /// Other flags the key needs to be valid (`--mode realtime` for `--rate`).
    context: &'static [&'static str],
}

const fn case(
    key: &'static str,
    file: &'static str,
    env: &'static str,
    flag: &'static str,
) -> Case {
    Case {
        key,
        file,
        env,
        flag,
        context: &[],
    }
}

const REALTIME: &[&str] = &["--mode", "realtime"];

fn cases() -> Vec<Case> {
    vec![
        case("start", "2024-03-01", "2024-03-02", "2024-03-03"),
        case("days", "2", "3", "4"),
        case("scale", "0.004", "0.003", "0.002"),
        case("seed", "5", "6", "7"),
        case("format", "jsonl", "csv", "parquet"),
        case("compression", "snappy", "none", "zstd"),
        case("domains", "[\"stores\"]", "users", "sales"),
        case(
            "world.clicks_v2_from",
            "2025-01-01",
            "2025-02-01",
            "2025-03-01",
        ),
        case("out", "lake-file", "lake-env", "lake-flag"),
        case(
            "sink",
            "stdout",
            "kinesis://from-env",
            "firehose://from-flag",
        ),
        case("threads", "3", "5", "7"),
        Case {
            context: &["--shard-count", "10"],
            ..case("shard_index", "1", "2", "3")
        },
        case("shard_count", "10", "11", "12"),
        case("dry_run", "true", "false", "true"),
        case("resume", "true", "false", "true"),
        case("force", "true", "false", "true"),
        case("lock_lease_seconds", "10", "20", "30"),
        case("mode", "realtime", "backfill", "realtime"),
        Case {
            context: REALTIME,
            ..case("rate", "100.5", "200.5", "300.5")
        },
        Case {
            context: REALTIME,
            ..case("rate_profile", "hold:10/1s", "hold:20/1s", "hold:30/1s")
        },
        Case {
            context: REALTIME,
            ..case("speedup", "1.5", "2.5", "3.5")
        },
        Case {
            context: REALTIME,
            ..case("duration", "10.5", "20.5", "30.5")
        },
        Case {
            context: REALTIME,
            ..case("flush_seconds", "10", "20", "30")
        },
        Case {
            context: REALTIME,
            ..case("flush_mb", "1", "2", "3")
        },
        case(
            "endpoint_url",
            "http://127.0.0.1:1",
            "http://127.0.0.1:2",
            "http://127.0.0.1:3",
        ),
        Case {
            context: &["--out", "s3://bucket/lake"],
            ..case("sse_kms_key", "alias/file", "alias/env", "alias/flag")
        },
        case("no_overwrite", "true", "false", "true"),
        case("multipart_threshold_mib", "20", "30", "40"),
        case("part_size_mib", "6", "7", "9"),
        case("concurrency", "2", "3", "4"),
        case("skip_sink_check", "true", "false", "true"),
        case("metrics_json", "m-file.json", "m-env.json", "m-flag.json"),
        case("emf", "true", "false", "true"),
        case("quiet", "true", "false", "true"),
        case("progress_seconds", "10", "20", "30"),
    ]
}

fn env_var(key: &str) -> String {
    match key {
        "world.clicks_v2_from" => "MARKETPULSE_CLICKS_V2_FROM".into(),
        k => format!("MARKETPULSE_{}", k.to_ascii_uppercase()),
    }
}

fn flag_args(c: &Case) -> Vec<String> {
    let name = format!("--{}", c.key.trim_start_matches("world.").replace('_', "-"));
    match c.flag {
        "true" => vec![name],
        v => vec![name, v.trim_matches(['[', ']', '"']).to_string()],
    }
}

/// The config file line that sets the case's key, on line 3 (4 in a table).
fn file_text(c: &Case) -> (String, usize) {
    let value = printed(c.file);
    match c.key.split_once('.') {
        Some((table, key)) => (format!("# test\n\n[{table}]\n{key} = {value}\n"), 4),
        None => (format!("# test\n\n{} = {value}\n", c.key), 3),
    }
}

#[test]
fn every_setting_comes_from_file_environment_or_flag_in_that_order() {
    let cases = cases();
    let mut covered: Vec<String> = cases.iter().map(|c| c.key.to_string()).collect();
    covered.sort();
    let mut keys = all_keys();
    keys.sort();
    assert_eq!(covered, keys, "every setting needs a case here");

    let d = tmp();
    for c in &cases {
        let cfg = d.path().join(format!("{}.toml", c.key));
        let (text, line) = file_text(c);
        std::fs::write(&cfg, text).unwrap();
        let var = env_var(c.key);
        let env = [(var.as_str(), c.env)];
        let mut flags: Vec<String> = c.context.iter().map(|s| s.to_string()).collect();
        let context: Vec<&str> = flags.iter().map(String::as_str).collect();
        let at = |m: &BTreeMap<String, (String, String)>| m.get(c.key).cloned().unwrap_or_default();

        let from_file = at(&print_config(Some(&cfg), &[], &context));
        let in_file = format!("{} line {line}", cfg.display());
        assert_eq!(
            from_file,
            (printed_as(c.key, c.file), in_file),
            "{} from the file",
            c.key
        );

        let from_env = at(&print_config(None, &env, &context));
        assert_eq!(
            from_env,
            (printed_as(c.key, c.env), var.clone()),
            "{} from the environment",
            c.key
        );

        let env_over_file = at(&print_config(Some(&cfg), &env, &context));
        assert_eq!(
            env_over_file, from_env,
            "{}: the environment beats the file",
            c.key
        );

        flags.extend(flag_args(c));
        let all: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (value, origin) = at(&print_config(Some(&cfg), &env, &all));
        let flag_name = format!("--{}", c.key.trim_start_matches("world.").replace('_', "-"));
        assert_eq!(
            origin, flag_name,
            "{}: the flag beats the environment",
            c.key
        );
        assert_eq!(value, printed_as(c.key, c.flag), "{} from the flag", c.key);
    }
}

/// The dataset, output and metrics keys change the run itself when they
/// come from a file and when they come from the environment.
#[test]
fn settings_from_a_file_or_the_environment_take_effect() {
    let pairs = [
        ("start", "2024-03-01"),
        ("days", "2"),
        ("scale", "0.001"),
        ("seed", "9"),
        ("format", "jsonl"),
        ("compression", "zstd"),
        ("domains", "clicks"),
        ("shard_count", "2"),
        ("shard_index", "1"),
        ("threads", "1"),
        ("emf", "true"),
    ];
    for layer in ["file", "env"] {
        let d = tmp();
        let lake = d.path().join("lake");
        let metrics = d.path().join("metrics.json");
        let mut all: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("out".into(), lake.display().to_string()));
        all.push(("metrics_json".into(), metrics.display().to_string()));
        let o = if layer == "file" {
            let mut text: String = all
                .iter()
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("domains", v) => format!("domains = [\"{v}\"]\n"),
                    (k, v) => format!("{k} = {}\n", printed(v)),
                })
                .collect();
            text += "[world]\nclicks_v2_from = \"2024-03-02\"\n";
            let cfg = d.path().join("c.toml");
            std::fs::write(&cfg, text).unwrap();
            generate_with(Some(&cfg), &[], &[])
        } else {
            let mut env: Vec<(String, String)> =
                all.iter().map(|(k, v)| (env_var(k), v.clone())).collect();
            env.push(("MARKETPULSE_CLICKS_V2_FROM".into(), "2024-03-02".into()));
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            generate_with(None, &env, &[])
        };
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let m = manifest(&lake);
        let spec = &m["spec"];
        assert_eq!(spec["start"], "2024-03-01", "{layer}");
        assert_eq!(spec["days"], 2, "{layer}");
        assert_eq!(spec["scale"], 0.001, "{layer}");
        assert_eq!(spec["seed"], 9, "{layer}");
        assert_eq!(spec["format"], "jsonl", "{layer}");
        assert_eq!(spec["compression"], "zstd", "{layer}");
        assert_eq!(spec["domains"], serde_json::json!(["clicks"]), "{layer}");
        assert_eq!(spec["world"]["clicks_v2_from"], "2024-03-02", "{layer}");
        assert_eq!(
            (m["shard_index"].as_u64(), m["shard_count"].as_u64()),
            (Some(1), Some(2))
        );
        let files = m["files"].as_array().unwrap();
        assert!(files.len() > 10, "{layer}");
        // Clicks carry v2 columns from the second day only.
        for f in files {
            let path = f["path"].as_str().unwrap();
            assert!(
                path.starts_with("clicks/") && path.ends_with(".jsonl.zst"),
                "{path}"
            );
            let packed = std::fs::read(lake.join(path)).unwrap();
            let first = String::from_utf8(zstd::decode_all(&packed[..]).unwrap()).unwrap();
            let v2 = first.lines().next().unwrap().contains("\"device_type\"");
            assert_eq!(
                v2,
                path.contains("ingest_date=2024-03-02"),
                "{layer}: {path}"
            );
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
        assert_eq!(json["complete"], true, "{layer}");
        assert!(
            stderr(&o)
                .lines()
                .any(|l| l.starts_with('{') && l.contains("\"CloudWatchMetrics\"")),
            "{layer}: no EMF line"
        );
    }
}

/// Real-time keys (mode, sink, pacing, duration, flush window) from a file
/// and from the environment.
#[test]
fn realtime_settings_from_a_file_or_the_environment_take_effect() {
    for layer in ["file", "env"] {
        let d = tmp();
        let run = |pairs: &[(&str, &str)]| {
            if layer == "file" {
                let text: String = pairs
                    .iter()
                    .map(|(k, v)| format!("{k} = {}\n", printed(v)))
                    .collect();
                let cfg = d.path().join("rt.toml");
                std::fs::write(&cfg, text).unwrap();
                generate_with(Some(&cfg), &[], &[])
            } else {
                let env: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (env_var(k), v.to_string()))
                    .collect();
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                generate_with(None, &env, &[])
            }
        };
        // Paced by rate, stopped by duration: an incomplete manifest of what went out.
        let out = d.path().join("rate");
        let o = run(&[
            ("out", out.to_str().unwrap()),
            ("scale", "0.001"),
            ("mode", "realtime"),
            ("sink", "stdout"),
            ("rate", "2000"),
            ("duration", "0.5"),
        ]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let sent = String::from_utf8_lossy(&o.stdout).lines().count();
        assert!(
            (200..=2000).contains(&sent),
            "{layer}: {sent} events in 0.5 s at 2000/s"
        );
        let m = manifest(&out);
        assert_eq!(m["complete"], false, "{layer}");
        assert!(stderr(&o).contains("event lag p50"), "{layer}");
        // Micro-batch files every 900 s of event time: four per hour.
        let out = d.path().join("flush");
        let o = run(&[
            ("out", out.to_str().unwrap()),
            ("scale", "0.001"),
            ("domains", "clicks"),
            ("mode", "realtime"),
            ("speedup", "10000000"),
            ("flush_seconds", "900"),
        ]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let hour = std::fs::read_dir(out.join("clicks/ingest_date=2025-01-06/hour=13"))
            .unwrap()
            .count();
        assert_eq!(hour, 4, "{layer}");
    }
}

#[test]
fn flags_beat_environment_beat_config_file() {
    let d = tmp();
    let cfg = d.path().join("c.toml");
    std::fs::write(
        &cfg,
        "seed = 5\ndays = 1\nscale = 0.001\ndomains = [\"stores\"]\n",
    )
    .unwrap();
    let out = d.path().join("lake");
    let o = generate_with(
        Some(&cfg),
        &[
            ("MARKETPULSE_SEED", "8"),
            ("MARKETPULSE_START", "2024-02-29"),
        ],
        &["--out", out.to_str().unwrap(), "--seed", "9"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&out);
    assert_eq!(m["spec"]["seed"], 9);
    assert_eq!(m["spec"]["start"], "2024-02-29");
    assert_eq!(m["spec"]["domains"], serde_json::json!(["stores"]));
    assert_eq!(
        m["files"][0]["path"],
        "stores/snapshot_date=2024-02-29/part-20240229-0000.parquet"
    );
}

/// Errors name the key as its source spells it, and a file's exact line.
#[test]
fn errors_name_the_key_the_file_and_the_line() {
    let d = tmp();
    let file = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // (config file, environment, flags, the message's expected text)
    type ErrorCase<'a> = (
        Option<std::path::PathBuf>,
        Vec<(&'a str, &'a str)>,
        Vec<&'a str>,
        String,
    );
    let cases: Vec<ErrorCase<'_>> = vec![
        (
            Some(file("type.toml", "days = 1\n\nscale = \"lots\"\n")),
            vec![],
            vec![],
            "invalid scale = 'lots' (PATH line 3): expected a number".into(),
        ),
        (
            Some(file("range.toml", "# first\nscale = 0\n")),
            vec![],
            vec![],
            "invalid scale = 0 (PATH line 2): must be a number above 0".into(),
        ),
        (
            Some(file("nested.toml", "\n[world]\n\nusers = -4\n")),
            vec![],
            vec![],
            "invalid world.users = -4 (PATH line 4): expected a whole number".into(),
        ),
        (
            Some(file("typo.toml", "seed = 1\nsclae = 2\n")),
            vec![],
            vec![],
            "unknown key sclae (PATH line 2): not a setting (did you mean scale?)".into(),
        ),
        (
            Some(file("campaign.toml", "[[world.campaigns]]\nname = \"x\"\nsource = \"tiktok\"\nmedium = \"cpc\"\nstart = \"2025-01-01\"\nweight = 0.1\n")),
            vec![],
            vec![],
            "invalid [world] config (PATH line 3): campaign 'x': source 'tiktok' is not a search engine".into(),
        ),
        (None, vec![("MARKETPULSE_SHARD_COUNT", "many")], vec![], "invalid MARKETPULSE_SHARD_COUNT=many: expected an integer".into()),
        (None, vec![("MARKETPULSE_DIRTY__LATE", "2")], vec![], "invalid [dirty] config (MARKETPULSE_DIRTY__LATE): late = 2 must be a rate between 0 and 1".into()),
        (None, vec![], vec!["--days", "-3"], "invalid --days -3: must be between 1 and 36600".into()),
        (None, vec![], vec!["--rate", "5"], "--rate 5 needs --mode realtime".into()),
    ];
    for (cfg, env, flags, expected) in cases {
        let mut flags = flags;
        let lake = d.path().join("lake");
        flags.extend(["--out", lake.to_str().unwrap()]);
        let o = generate_with(cfg.as_deref(), &env, &flags);
        let err = stderr(&o);
        let expected = match &cfg {
            Some(p) => expected.replace("PATH", &p.display().to_string()),
            None => expected,
        };
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&expected), "'{err}' lacks '{expected}'");
        assert!(!lake.exists(), "{expected}: wrote {}", lake.display());
    }
}

/// Environment values are text as written; `[world]`/`[dirty]` variables set
/// a whole key; mistakes are refused or warned about, never ignored.
#[test]
fn environment_edge_cases() {
    let d = tmp();
    let lake = d.path().join("lake");
    let out = lake.to_str().unwrap();
    let config = |env: &[(&str, &str)], flags: &[&str]| {
        let mut all = vec!["--print-config"];
        all.extend_from_slice(flags);
        generate_with(None, env, &all)
    };
    // Text stays text: not 2025.1, not 42.
    let o = config(
        &[
            ("MARKETPULSE_OUT", "2025.10"),
            ("MARKETPULSE_START", "2024-03-01"),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("out = \"2025.10\""), "{text}");
    // A whole map from the environment replaces the default map.
    let fx = "{USD=1.0, GBP=0.8, EUR=0.9, JPY=150.0, BRL=5.0, CAD=1.3, AUD=1.5, INR=80.0}";
    let o = generate_with(
        None,
        &[("MARKETPULSE_WORLD__FX_PER_USD", fx)],
        &["--out", out, "--scale", "0.001", "--domains", "stores"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&lake);
    assert_eq!(m["spec"]["world"]["fx_per_usd"]["GBP"], 0.8);
    assert_eq!(m["spec"]["world"]["fx_per_usd"]["INR"], 80.0);
    // A nested key would drop the rest of its map: refused.
    let o = config(&[("MARKETPULSE_WORLD__FUNNEL__CART__CHECKOUT", "0.6")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("MARKETPULSE_WORLD__FUNNEL={...}"),
        "{}",
        stderr(&o)
    );
    // One underscore is not a [dirty] key: a warning says so.
    let o = config(&[("MARKETPULSE_DIRTY_LATE", "0.1")], &[]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("ignoring MARKETPULSE_DIRTY_LATE"),
        "{}",
        stderr(&o)
    );
    // Two names for one key: refused rather than picked by chance.
    let o = config(
        &[
            ("MARKETPULSE_CLICKS_V2_FROM", "2025-01-01"),
            ("MARKETPULSE_WORLD__CLICKS_V2_FROM", "2025-01-02"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Real-time settings in a backfill are refused, not ignored.
    let o = generate_with(
        None,
        &[("MARKETPULSE_FLUSH_SECONDS", "30")],
        &["--out", out],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("MARKETPULSE_FLUSH_SECONDS=30 needs --mode realtime"),
        "{}",
        stderr(&o)
    );
}
