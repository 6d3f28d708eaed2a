//! MarketPulse: a deterministic synthetic retail/fintech world generator.
//!
//! Flow: [`plan`] (this shard's units) → [`generate`] (pure: unit → Arrow
//! batch) → [`encode`] (Parquet / JSON lines / CSV) → [`sink`] → [`manifest`].

pub mod calendar;
pub mod config;
pub mod dirty;
pub mod encode;
pub mod error;
pub mod generate;
pub mod manifest;
pub mod plan;
pub mod profile;
pub mod run;
pub mod schema;
pub mod seed;
pub mod sink;
pub mod world;
