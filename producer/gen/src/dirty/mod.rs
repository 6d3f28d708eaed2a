//! Defects injected on purpose into a unit's clean batch, by exact seeded
//! amounts, with the truth of every injected record. A row gets at most one
//! defect; copies are made of clean rows only.
//!
//! [`DEFECTS`] lists every kind once: its name (in manifests and `_truth/`),
//! the `[dirty]` rate that selects it, and which tables and formats can carry
//! it. Adding a kind is a variant, a registry entry (`defects.rs`) and its edit
//! in `inject`.

pub(crate) mod defects;
mod inject;
mod late;
mod pick;

pub use defects::{
    DEFECTS, Defect, DefectKind, Defects, DirtyShape, MoneyColumns, Rate, UNKNOWN_CURRENCY,
};
pub use inject::break_lines;
pub(crate) use inject::inject;
pub use late::LateCache;
