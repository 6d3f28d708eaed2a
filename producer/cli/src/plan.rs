//! The plan of a shard before it runs: the limit on its size, the warning
//! for a plan without events, and the `--dry-run` report. Nothing here
//! writes anywhere.

use marketpulse_capacity::numbers::{grouped, human_bytes};
use marketpulse_capacity::{Calibration, reference};
use marketpulse_gen::{Compression, Format, Generator, PlanSummary, TablePlan};

use crate::console::say;
use crate::error::Error;
use crate::settings::Run;

/// Most files one shard may write: its manifest lists each (about 400
/// bytes apiece), and a resumed run re-reads them.
pub(crate) const MAX_FILES_PER_SHARD: u64 = 1_000_000;

/// The shard's plan, checked against the limits.
pub(crate) fn check(run: &Run) -> Result<PlanSummary, Error> {
    let generator = Generator::new(&run.spec).map_err(|e| Error::usage(e.to_string()))?;
    let summary = generator.summarize(run.shard_index, run.shard_count);
    let files = summary.files();
    if files > MAX_FILES_PER_SHARD {
        return Err(Error::usage(format!(
            "the plan gives shard {} of {} {files} files; at most {MAX_FILES_PER_SHARD} a shard: add shards (--shard-count), fewer days, or a smaller --scale",
            run.shard_index, run.shard_count
        )));
    }
    let wants_events = run.spec.domains.iter().any(|d| d.events().is_some());
    if wants_events && summary.events() == 0 {
        let written = if run.spec.domains.iter().any(|d| d.events().is_none()) {
            "only snapshot tables will have rows"
        } else {
            "only the manifest will be written"
        };
        say!(
            "marketpulse: warning: the plan has no events (world clicks_per_day and pos_sales_per_day times --scale {} round to none); {written}",
            run.spec.scale
        );
    }
    Ok(summary)
}

/// Encoded bytes of a table's rows and files, from the reference
/// calibration (`load-tests/results/calibration.json`, as `plan` uses it):
/// for estimates only.
fn typical_bytes(
    calibration: &Calibration,
    table: &TablePlan,
    format: Format,
    compression: Compression,
) -> f64 {
    calibration
        .entry(table.domain.name(), format, compression)
        .map_or(0.0, |e| {
            table.rows as f64 * e.bytes_per_event + table.files as f64 * e.bytes_per_file
        })
}

/// The `--dry-run` report.
pub(crate) fn render(run: &Run, summary: &PlanSummary) -> String {
    let spec = &run.spec;
    let destination = run.records.as_deref().unwrap_or(&run.out);
    let mut s = format!(
        "plan of shard {} of {} (index from {}): {} day(s) from {}, {} ({}), to {destination}\n",
        run.shard_index,
        run.shard_count,
        run.shard_source,
        spec.days,
        spec.start,
        spec.format.name(),
        spec.compression.name(),
    );
    s += &format!(
        "{:<8} {:>10} {:>16} {:>14}\n",
        "table", "files", "rows", "bytes"
    );
    let (mut files, mut rows, mut bytes, mut estimated) = (0, 0, 0.0, false);
    let calibration = reference();
    for t in &summary.tables {
        let b = typical_bytes(&calibration, t, spec.format, spec.compression);
        let mark = if t.exact { " " } else { "~" };
        s += &format!(
            "{:<8} {:>10} {:>15}{mark} {:>13}~\n",
            t.domain.name(),
            grouped(t.files),
            grouped(t.rows),
            human_bytes(b)
        );
        files += t.files;
        rows += t.rows;
        bytes += b;
        estimated |= !t.exact;
    }
    let mark = if estimated { "~" } else { " " };
    s += &format!(
        "{:<8} {:>10} {:>15}{mark} {:>13}~\n",
        "total",
        grouped(files),
        grouped(rows),
        human_bytes(bytes)
    );
    s += "~ estimated (online sales from a sample hour, users' SCD2 versions from their rates, bytes from the reference calibration); nothing was written\n";
    s
}
