//! What the capacity model gives: line items, each with its formula with
//! the numbers put in, so it can be checked by hand.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Item {
    pub key: String,
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub formula: String,
}

#[derive(Default)]
pub(crate) struct Items(pub Vec<Item>);

impl Items {
    /// Appends an item; its value, for the items computed from it.
    pub(crate) fn add(
        &mut self,
        key: &str,
        label: &str,
        value: f64,
        unit: &str,
        formula: String,
    ) -> f64 {
        self.0.push(Item {
            key: key.to_string(),
            label: label.to_string(),
            value,
            unit: unit.to_string(),
            formula,
        });
        value
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().find(|i| i.key == key).map(|i| i.value)
    }
}
