//! `generate`'s pipeline: plan → generate → inject → encode → sink →
//! manifest. Backfill runs flat out on one worker per thread; real time
//! paces the same events in event-time order. Both share the produce step
//! (`produce.rs`) and the manifest builder (`ledger.rs`).

mod backfill;
mod ledger;
mod outputs;
mod pacer;
mod produce;
mod progress;
mod realtime;
pub(crate) mod schedule;

pub(crate) use outputs::{Outputs, Summary};
pub(crate) use progress::Progress;

use crate::error::Error;
use crate::lake::{self, Shard};
use crate::settings::Run;

/// The shard `run` writes.
pub(crate) fn shard_of(run: &Run) -> Shard {
    Shard {
        run: run.spec.id(),
        index: run.shard_index,
        count: run.shard_count,
    }
}

/// Runs `run` into `out`: claims the lake for the dataset, locks the shard,
/// then backfills, or emits in real time when the run has pacing.
pub(crate) fn run(run: &Run, out: &Outputs<'_>) -> Result<Summary, Error> {
    let shard = shard_of(run);
    lake::claim(out.lake, &run.spec, run.force)?;
    let _lock = out.lake.lock(&shard.lock_key(), run.lock_lease)?;
    match &run.realtime {
        None => backfill::run(run, out, &shard),
        Some(opts) => realtime::run(run, out, opts),
    }
}
