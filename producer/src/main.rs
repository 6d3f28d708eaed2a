use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use marketpulse::config::{Compression, Domain, FileConfig, Format, Overrides, Settings};
use marketpulse::error::Error;
use marketpulse::manifest::verify;
use marketpulse::run::generate;
use marketpulse::sink::FolderSink;

/// Deterministic synthetic retail world: users, stores, sales and clicks.
#[derive(Parser)]
#[command(name = "marketpulse", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a dataset into a partitioned lake folder.
    Generate(GenerateArgs),
    /// Check a lake against its manifests: sizes, SHA-256, missing and extra files.
    Verify {
        /// Lake folder to check.
        dir: PathBuf,
    },
    /// Print a Parquet lake's realised distributions next to its config:
    /// hourly curves, top pages and stores, funnel, baskets, defects.
    Profile {
        /// Lake folder written by `generate`.
        dir: PathBuf,
        /// Print JSON instead of the text report.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Output folder [default: ./lake]
    #[arg(long, env = "MARKETPULSE_OUT")]
    out: Option<PathBuf>,
    /// First day, YYYY-MM-DD [default: 2025-01-06]
    #[arg(long, env = "MARKETPULSE_START")]
    start: Option<String>,
    /// Number of days [default: 1]
    #[arg(long, env = "MARKETPULSE_DAYS", allow_hyphen_values = true)]
    days: Option<i64>,
    /// Volume multiplier; 1 gives 5,000,000 clicks a day [default: 1]
    #[arg(long, env = "MARKETPULSE_SCALE", allow_hyphen_values = true)]
    scale: Option<f64>,
    /// Seed of every random stream [default: 42]
    #[arg(long, env = "MARKETPULSE_SEED")]
    seed: Option<u64>,
    /// File format [default: parquet]
    #[arg(long, env = "MARKETPULSE_FORMAT", value_enum)]
    format: Option<Format>,
    /// Parquet compression codec [default: zstd]
    #[arg(long, env = "MARKETPULSE_COMPRESSION", value_enum)]
    compression: Option<Compression>,
    /// Worker threads [default: number of cores]
    #[arg(long, env = "MARKETPULSE_THREADS", allow_hyphen_values = true)]
    threads: Option<i64>,
    /// This shard's index, below --shard-count [default: 0]
    #[arg(long, env = "MARKETPULSE_SHARD_INDEX", allow_hyphen_values = true)]
    shard_index: Option<i64>,
    /// Number of shards sharing the run [default: 1]
    #[arg(long, env = "MARKETPULSE_SHARD_COUNT", allow_hyphen_values = true)]
    shard_count: Option<i64>,
    /// Domains to generate, comma-separated [default: all]
    #[arg(long, env = "MARKETPULSE_DOMAINS", value_enum, value_delimiter = ',')]
    domains: Option<Vec<Domain>>,
    /// Clicks switch to schema v2 from this day, YYYY-MM-DD
    #[arg(long, env = "MARKETPULSE_CLICKS_V2_FROM")]
    clicks_v2_from: Option<String>,
    /// TOML config file; flags and environment override its values
    #[arg(long, env = "MARKETPULSE_CONFIG")]
    config: Option<PathBuf>,
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate(a) => {
            let file = match &a.config {
                Some(p) => FileConfig::load(p)?,
                None => FileConfig::default(),
            };
            let overrides = Overrides {
                out: a.out,
                start: a.start,
                days: a.days,
                scale: a.scale,
                seed: a.seed,
                format: a.format,
                compression: a.compression,
                threads: a.threads,
                shard_index: a.shard_index,
                shard_count: a.shard_count,
                domains: a.domains,
                clicks_v2_from: a.clicks_v2_from,
            };
            let settings = Settings::resolve(overrides, file)?;
            let sink = FolderSink::open(&settings.out)?;
            let summary = generate(&settings, &sink, std::io::stderr().is_terminal())?;
            eprint!("{}", summary.render());
            Ok(())
        }
        Command::Profile { dir, json } => {
            let p = marketpulse::profile::profile(&dir)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&p).expect("profile serialises")
                );
            } else {
                print!("{}", p.render());
            }
            Ok(())
        }
        Command::Verify { dir } => {
            let report = verify(&dir)?;
            for p in &report.problems {
                eprintln!("{p}");
            }
            if report.problems.is_empty() {
                eprintln!(
                    "ok: {} files, {} bytes match {} manifest(s)",
                    report.files, report.bytes, report.manifests
                );
                Ok(())
            } else {
                Err(Error::runtime(format!(
                    "verify failed: {} problem(s) in {}",
                    report.problems.len(),
                    dir.display()
                )))
            }
        }
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
            // One line: clap's own first line names the problem.
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("marketpulse: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("marketpulse: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
