//! `marketpulse`: the command line over the generator (`marketpulse-gen`)
//! and the capacity model (`marketpulse-capacity`): the encoders, the sinks
//! and the pipeline. See ARCHITECTURE.md.

mod capacity;
mod cli;
mod console;
mod encode;
mod error;
mod lake;
mod manifest;
mod metrics;
mod pipeline;
mod plan;
mod profile;
mod settings;
mod signals;
mod sinks;
mod verify;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;

use cli::{Cli, Command, GenerateArgs};
use console::say;
use error::Error;
use metrics::Metrics;
use pipeline::Outputs;
use sinks::{Destination, Kind, SinkContext, SinkOptions};

fn io_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the I/O runtime: {e}")))
}

fn verify_lake(url: &str, json: bool, endpoint_url: Option<String>) -> Result<(), Error> {
    if !url.contains("://") && !std::path::Path::new(url).is_dir() {
        return Err(Error::usage(format!("cannot verify {url}: not a folder")));
    }
    let runtime = io_runtime()?;
    let options = SinkOptions::reading(endpoint_url);
    let ctx = SinkContext {
        options: &options,
        runtime: runtime.handle().clone(),
        metrics: Arc::new(Metrics::default()),
        owner: String::new(),
    };
    let lake = match Destination::open(url, &ctx)? {
        Destination::Objects(o) => o,
        Destination::Records(r) => {
            return Err(Error::usage(format!(
                "cannot verify {}: a stream is not a lake",
                r.describe()
            )));
        }
    };
    let report = verify::verify(lake.as_ref())?;
    if json {
        console::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("report serialises")
        ));
    } else {
        for p in &report.problems {
            say!("{p}");
        }
    }
    if report.ok {
        if !json {
            say!(
                "ok: {} files, {} bytes match {} manifest(s)",
                report.files,
                report.bytes,
                report.manifests
            );
        }
        Ok(())
    } else {
        Err(Error::runtime(format!(
            "verify failed: {} problem(s) in {url}",
            report.problems.len()
        )))
    }
}

fn generate(args: &GenerateArgs) -> Result<(), Error> {
    let loaded = settings::load(args)?;
    if args.print_config {
        // The settings first, so a run that fails its checks still shows them.
        console::out(&settings::report(&loaded));
        return check_destinations(&settings::resolve(&loaded)?);
    }
    let run = settings::resolve(&loaded)?;
    check_destinations(&run)?;
    let summary = plan::check(&run)?;
    if run.dry_run {
        console::out(&plan::render(&run, &summary));
        return Ok(());
    }
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let signal = signals::watch(&runtime, stop.clone());
    let metrics = Arc::new(Metrics::default());
    let ctx = SinkContext {
        options: &run.sinks,
        runtime: runtime.handle().clone(),
        metrics: metrics.clone(),
        owner: pipeline::shard_of(&run).name(),
    };
    // Both are built before either is checked: nothing is created before
    // both are known good.
    let records = match &run.records {
        None => None,
        Some(url) => match Destination::open(url, &ctx)? {
            Destination::Records(r) => Some(r),
            Destination::Objects(_) => unreachable!("check_destinations: --sink names records"),
        },
    };
    let lake = match Destination::open(&run.out, &ctx)? {
        Destination::Objects(o) => o,
        Destination::Records(_) => unreachable!("check_destinations: --out names a lake"),
    };
    if !run.sinks.skip_check {
        // The stream first: checking the lake creates its folder.
        if let Some(r) = &records {
            r.check()?;
        }
        lake.check()?;
    }
    let sink_name = match &records {
        Some(r) => r.describe(),
        None => run.out.clone(),
    };
    let outputs = Outputs {
        lake: lake.as_ref(),
        records: records.as_deref(),
        metrics: metrics.clone(),
        stop: &stop,
        progress: if run.quiet {
            pipeline::Progress::Off
        } else if std::io::stderr().is_terminal() {
            pipeline::Progress::Bar
        } else {
            pipeline::Progress::Lines(run.progress_every)
        },
    };
    let result = pipeline::run(&run, &outputs);
    let snapshot = metrics.snapshot();
    if let Some(path) = &run.metrics_json {
        let json = serde_json::json!({
            "sink": sink_name,
            "complete": result.is_ok(),
            "metrics": snapshot,
        });
        std::fs::write(path, format!("{json:#}\n"))
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    if run.emf {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        say!("{}", snapshot.emf(now, &sink_name));
    }
    match (result, signal.received()) {
        (Ok(summary), _) => {
            console::err(&summary.render());
            Ok(())
        }
        (Err(e), Some(sig)) => Err(Error::interrupted(sig, e.to_string())),
        (Err(e), None) => Err(e),
    }
}

/// `--sink` names a stream and `--out` a lake, each a URL a run accepts.
fn check_destinations(run: &settings::Run) -> Result<(), Error> {
    if let Some(url) = &run.records
        && Destination::kind(url)? != Kind::Records
    {
        return Err(Error::usage(format!(
            "invalid --sink '{url}': expected kinesis://STREAM, firehose://DELIVERY-STREAM or stdout (files go to --out)"
        )));
    }
    if Destination::kind(&run.out)? != Kind::Objects {
        return Err(Error::usage(format!(
            "invalid --out {}: the lake is a folder or s3://bucket/prefix; send records with --sink",
            run.out
        )));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate(args) => generate(&args),
        Command::Calibrate { out, quick } => capacity::calibrate(out, quick),
        Command::Plan(args) => capacity::plan(&args),
        Command::Profile { dir, json } => {
            let p = profile::profile(&dir)?;
            if json {
                console::out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&p).expect("profile serialises")
                ));
            } else {
                console::out(&p.render());
            }
            Ok(())
        }
        Command::Verify {
            lake,
            json,
            endpoint_url,
        } => verify_lake(&lake, json, endpoint_url),
    }
}

/// clap's message on one line: the problem, then its hints (valid values,
/// "did you mean", the missing arguments), without the usage block.
fn one_line(clap_text: &str) -> String {
    let mut lines = clap_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .take_while(|l| !l.starts_with("Usage:"));
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    // clap brackets some hints: "[possible values: a, b]".
    let hints: Vec<&str> = lines
        .map(|l| l.trim_start_matches('[').trim_end_matches(']'))
        .collect();
    if hints.is_empty() {
        first
    } else if first.ends_with(':') {
        format!("{first} {}", hints.join(", "))
    } else {
        format!("{first} ({})", hints.join("; "))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            say!("marketpulse: {}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `| head` closed stdout on purpose: end quietly, as `yes | head` does.
        Err(e @ Error::Closed(_)) => ExitCode::from(e.exit_code() as u8),
        Err(e) => {
            say!("marketpulse: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
