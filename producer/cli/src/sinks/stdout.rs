//! `stdout`: JSON lines on standard output, for piping.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use super::api::{RecordSink, SinkContext};
use crate::error::Error;
use crate::metrics::Metrics;

pub(super) struct StdoutSink {
    metrics: Arc<Metrics>,
}

impl StdoutSink {
    pub(super) fn open(ctx: &SinkContext<'_>) -> StdoutSink {
        StdoutSink {
            metrics: ctx.metrics.clone(),
        }
    }
}

impl RecordSink for StdoutSink {
    fn put_records(
        &self,
        _what: &str,
        jsonl: &[u8],
        partition_keys: &[String],
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut out = std::io::stdout().lock();
        out.write_all(jsonl)
            .and_then(|_| out.flush())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => {
                    Error::Closed("stdout was closed by its reader".into())
                }
                _ => Error::runtime(format!("cannot write to stdout: {e}")),
            })?;
        self.metrics.request(
            started.elapsed(),
            jsonl.len() as u64,
            partition_keys.len() as u64,
        );
        Ok(())
    }

    fn describe(&self) -> String {
        "stdout".into()
    }
}
