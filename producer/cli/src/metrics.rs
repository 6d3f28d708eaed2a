//! What the sink did: per-request latency and (real-time mode) event lag as
//! HdrHistograms, plus request, retry, throttle and byte counters. Rendered
//! in the run summary, as JSON (`--metrics-json`) and as CloudWatch Embedded
//! Metric Format lines (`--emf`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Shared by every sink call; cheap to update from any thread.
pub(crate) struct Metrics {
    latency_us: Mutex<Histogram<u64>>,
    lag_us: Mutex<Histogram<u64>>,
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttles: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) records: AtomicU64,
    /// Real-time mode: events emitted and seconds since the first emission.
    paced: Mutex<(u64, f64)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        // 1 µs to 1 hour at 3 significant digits.
        let h = || Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds"));
        Metrics {
            latency_us: h(),
            lag_us: h(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            paced: Mutex::new((0, 0.0)),
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Snapshot {
    pub(crate) requests: u64,
    pub(crate) retries: u64,
    pub(crate) throttles: u64,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    pub(crate) request_latency: Percentiles,
    /// Real-time mode only: emit time minus scheduled time.
    pub(crate) event_lag: Option<Percentiles>,
    /// Real-time mode only: events emitted per second since the first emission.
    pub(crate) achieved_rate: Option<f64>,
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

impl Metrics {
    /// One sink request (with its retries) that took `took`.
    pub(crate) fn request(&self, took: Duration, bytes: u64, records: u64) {
        let us = (took.as_micros() as u64).clamp(1, 3_600_000_000);
        self.latency_us
            .lock()
            .expect("metrics lock")
            .saturating_record(us);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttle(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` events emitted `lag` after their scheduled time.
    pub(crate) fn lag(&self, lag: Duration, n: u64) {
        let us = (lag.as_micros() as u64).clamp(1, 3_600_000_000);
        let _ = self.lag_us.lock().expect("metrics lock").record_n(us, n);
    }

    /// Real-time mode: `events` emitted in `elapsed` since the first emission.
    pub(crate) fn paced(&self, elapsed: Duration, events: u64) {
        *self.paced.lock().expect("metrics lock") = (events, elapsed.as_secs_f64());
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let lag = self.lag_us.lock().expect("metrics lock");
        let (paced_events, paced_secs) = *self.paced.lock().expect("metrics lock");
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            request_latency: percentiles(&self.latency_us.lock().expect("metrics lock")),
            event_lag: (!lag.is_empty()).then(|| percentiles(&lag)),
            achieved_rate: (paced_secs > 0.0).then(|| paced_events as f64 / paced_secs),
        }
    }
}

impl Snapshot {
    pub(crate) fn render(&self) -> String {
        let row = |name: &str, p: &Percentiles| {
            format!(
                "{name:<9} p50 {:.2}, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2} ms (n={})\n",
                p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms, p.count
            )
        };
        let mut s = format!(
            "sink: {} requests, {} retries, {} throttles, {}, {} records\n",
            self.requests,
            self.retries,
            self.throttles,
            marketpulse_capacity::numbers::human_bytes(self.bytes as f64),
            self.records
        );
        s += &row("latency", &self.request_latency);
        if let Some(lag) = &self.event_lag {
            s += &row("event lag", lag);
        }
        if let Some(rate) = self.achieved_rate {
            s += &format!("achieved {rate:.1} events/s\n");
        }
        s
    }

    /// One CloudWatch Embedded Metric Format line (namespace MarketPulse).
    pub(crate) fn emf(&self, timestamp_ms: i64, sink: &str) -> String {
        let mut metrics = vec![
            ("Requests", "Count", self.requests as f64),
            ("Retries", "Count", self.retries as f64),
            ("Throttles", "Count", self.throttles as f64),
            ("Bytes", "Bytes", self.bytes as f64),
            ("Records", "Count", self.records as f64),
            (
                "RequestLatencyP50",
                "Milliseconds",
                self.request_latency.p50_ms,
            ),
            (
                "RequestLatencyP99",
                "Milliseconds",
                self.request_latency.p99_ms,
            ),
            (
                "RequestLatencyMax",
                "Milliseconds",
                self.request_latency.max_ms,
            ),
        ];
        if let Some(lag) = &self.event_lag {
            metrics.push(("EventLagP50", "Milliseconds", lag.p50_ms));
            metrics.push(("EventLagP99", "Milliseconds", lag.p99_ms));
            metrics.push(("EventLagMax", "Milliseconds", lag.max_ms));
        }
        let mut root = serde_json::Map::new();
        root.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "MarketPulse",
                    "Dimensions": [["Sink"]],
                    "Metrics": metrics.iter().map(|(n, u, _)| serde_json::json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert("Sink".into(), sink.into());
        for (name, _, value) in &metrics {
            root.insert((*name).into(), serde_json::json!(value));
        }
        serde_json::Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_emf() {
        let m = Metrics::default();
        for ms in 1..=100 {
            m.request(Duration::from_millis(ms), 10, 1);
        }
        m.retry();
        m.throttle();
        let s = m.snapshot();
        assert_eq!(
            (s.requests, s.retries, s.throttles, s.bytes),
            (100, 1, 1, 1000)
        );
        assert!((s.request_latency.p50_ms - 50.0).abs() < 0.1);
        assert!((s.request_latency.p99_ms - 99.0).abs() < 0.1);
        assert!((s.request_latency.max_ms - 100.0).abs() < 0.1);
        assert!(s.event_lag.is_none());
        let line: serde_json::Value = serde_json::from_str(&s.emf(1, "s3://b/p")).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "MarketPulse"
        );
        assert_eq!(line["Requests"], 100.0);
        assert_eq!(line["Sink"], "s3://b/p");
    }
}
