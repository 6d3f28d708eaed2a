//! MarketPulse's capacity and cost model. `calibrate` ([`measure`]) runs
//! the producer to learn what a machine does per table, format and codec;
//! [`plan`] answers "what does N events a day need, and cost" from a
//! calibration and a dated price table, with volumes from the generator's
//! own plan (`marketpulse-gen`). Both compiled-in defaults are files of the
//! repository (`load-tests/results/calibration.json`, `load-tests/prices/`),
//! so a plan needs no network and names what it used.
//!
//! The command line (`marketpulse`) parses the flags, resolves the planned
//! window through its settings, and calls in; this crate never depends on
//! it.
//!
//! Modules, from the leaves up: [`error`], [`numbers`], `prices`,
//! `calibration`, `input` and `items` (what the model takes and gives),
//! `compute` (compute cost), `model` (the line items), `plan` (a request
//! to a plan), `measure` (a calibration run).

mod calibration;
mod compute;
pub mod error;
mod input;
mod items;
mod measure;
mod model;
pub mod numbers;
mod plan;
mod prices;
#[cfg(test)]
mod tests;

pub use calibration::{Calibration, Entry, Parallel, REFERENCE_NAME, Rss, reference};
pub use error::Error;
pub use input::{Engine, Sink};
pub use measure::{LakeTotals, Options, calibrate};
pub use plan::{Plan, Request, plan};
