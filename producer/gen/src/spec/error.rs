//! A spec value out of range or inconsistent, named by its key.

use std::fmt;

/// A spec value out of range or inconsistent, named by its key path
/// (`scale`, `world.daily_growth`, `dirty`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub key: String,
    /// What is wrong, as a sentence that reads on its own.
    pub message: String,
}

impl SpecError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.key, self.message)
    }
}

impl std::error::Error for SpecError {}
