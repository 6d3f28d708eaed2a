//! MarketPulse: a deterministic synthetic retail/fintech world generator.
//!
//! Flow: [`plan`] (this shard's units) → [`generate`] (pure: unit → Arrow
//! batch) → [`encode`] (Parquet / JSON lines / CSV) → [`sink`] → [`manifest`].

pub mod aws;
pub mod calendar;
pub mod config;
pub mod dirty;
pub mod encode;
pub mod error;
pub mod generate;
pub mod manifest;
pub mod metrics;
pub mod plan;
pub mod profile;
pub mod realtime;
pub mod run;
pub mod s3;
pub mod schema;
pub mod seed;
pub mod sink;
pub mod stream;
pub mod world;
