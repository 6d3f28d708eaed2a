//! The registry of defect kinds ([`DEFECTS`]), the shape of a table that
//! can carry them, and what was injected into one file.

use std::collections::BTreeMap;

use crate::spec::format::Format;

/// Currency code no country uses.
pub const UNKNOWN_CURRENCY: &str = "ZZZ";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DefectKind {
    Late,
    Duplicate,
    NearDuplicate,
    NullKey,
    NegativeAmount,
    UnknownCurrency,
    FutureTimestamp,
    AmountMismatch,
    Unparseable,
}

/// Which `[dirty]` rate picks a row for a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Late,
    Duplicates,
    NearDuplicates,
    /// Malformed rows take one of the malformed kinds their table and
    /// format can carry, uniformly.
    Malformed,
}

/// One entry of the registry.
pub struct Defect {
    pub kind: DefectKind,
    /// Name in manifests and truth sidecars.
    pub name: &'static str,
    pub description: &'static str,
    pub rate: Rate,
    /// Whether a table of this shape, written in this format, can carry it.
    pub applies: fn(&DirtyShape, Format) -> bool,
}

fn always(_: &DirtyShape, _: Format) -> bool {
    true
}

fn has_money(shape: &DirtyShape, _: Format) -> bool {
    shape.money.is_some()
}

fn jsonl_only(_: &DirtyShape, format: Format) -> bool {
    format == Format::Jsonl
}

/// Every defect kind. The order of the malformed kinds is part of the data
/// contract: a malformed row draws its kind by index into this order.
pub const DEFECTS: [Defect; 9] = [
    Defect {
        kind: DefectKind::Late,
        name: "late",
        description: "lands in a later hour than its event time (values unchanged)",
        rate: Rate::Late,
        applies: always,
    },
    Defect {
        kind: DefectKind::Duplicate,
        name: "duplicate",
        description: "exact copy of the row before it",
        rate: Rate::Duplicates,
        applies: always,
    },
    Defect {
        kind: DefectKind::NearDuplicate,
        name: "near_duplicate",
        description: "same id as the row before it, one dictionary value changed",
        rate: Rate::NearDuplicates,
        applies: always,
    },
    Defect {
        kind: DefectKind::NullKey,
        name: "null_key",
        description: "the table's key column is null (clicks: user_id, sales: store_id)",
        rate: Rate::Malformed,
        applies: always,
    },
    Defect {
        kind: DefectKind::NegativeAmount,
        name: "negative_amount",
        description: "amount below zero",
        rate: Rate::Malformed,
        applies: has_money,
    },
    Defect {
        kind: DefectKind::UnknownCurrency,
        name: "unknown_currency",
        description: "currency ZZZ, which no country uses",
        rate: Rate::Malformed,
        applies: has_money,
    },
    Defect {
        kind: DefectKind::FutureTimestamp,
        name: "future_timestamp",
        description: "event time after the end of the hour the record lands in",
        rate: Rate::Malformed,
        applies: always,
    },
    Defect {
        kind: DefectKind::AmountMismatch,
        name: "amount_mismatch",
        description: "amount differs from the sum of qty x unit_price",
        rate: Rate::Malformed,
        applies: has_money,
    },
    Defect {
        kind: DefectKind::Unparseable,
        name: "unparseable",
        description: "the JSON line is cut short and cannot be parsed",
        rate: Rate::Malformed,
        applies: jsonl_only,
    },
];

impl DefectKind {
    pub fn info(self) -> &'static Defect {
        DEFECTS
            .iter()
            .find(|d| d.kind == self)
            .expect("every kind is registered")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// How defects apply to an event table: the columns they touch.
#[derive(Clone, Copy, Debug)]
pub struct DirtyShape {
    /// Made null by `null_key` (an Int64 or Int32 column).
    pub null_key: &'static str,
    /// The dictionary column a near-duplicate changes.
    pub near_duplicate_changes: &'static str,
    /// Money columns, for tables with amounts.
    pub money: Option<MoneyColumns>,
}

#[derive(Clone, Copy, Debug)]
pub struct MoneyColumns {
    /// A `decimal(12,2)` column.
    pub amount: &'static str,
    /// A dictionary column of currency codes.
    pub currency: &'static str,
}

/// The malformed kinds a table's rows can take in a format, in registry order.
pub(crate) fn malformed_kinds(shape: &DirtyShape, format: Format) -> Vec<DefectKind> {
    DEFECTS
        .iter()
        .filter(|d| d.rate == Rate::Malformed && (d.applies)(shape, format))
        .map(|d| d.kind)
        .collect()
}

/// What was injected into one file.
#[derive(Default)]
pub struct Defects {
    /// Id and kind of each injected record, in file order.
    pub truth: Vec<(i64, DefectKind)>,
    /// The row of each `truth` record in the unit's batch (same order), so
    /// a file cut from several units (a real-time micro-batch) carries its
    /// own truth.
    pub rows: Vec<usize>,
    /// Rows to write as unparseable lines (jsonl).
    pub unparseable_rows: Vec<usize>,
}

impl Defects {
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for (_, k) in &self.truth {
            *m.entry(k.name().to_string()).or_insert(0) += 1;
        }
        m
    }

    /// The truth sidecar: `id,kind` lines under a header.
    pub fn truth_csv(&self) -> Vec<u8> {
        let mut out = String::from("id,kind\n");
        for (id, kind) in &self.truth {
            out += &format!("{id},{}\n", kind.name());
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::catalog::Domain;

    fn shape(name: &str) -> DirtyShape {
        Domain::named(name).events().unwrap().dirty.unwrap()
    }

    /// The malformed kinds each table draws from, in the order the contract
    /// pins (a row's kind is an index into this list).
    #[test]
    fn malformed_kinds_per_table_and_format() {
        use DefectKind::*;
        assert_eq!(
            malformed_kinds(&shape("sales"), Format::Parquet),
            [
                NullKey,
                NegativeAmount,
                UnknownCurrency,
                FutureTimestamp,
                AmountMismatch
            ]
        );
        assert_eq!(
            malformed_kinds(&shape("clicks"), Format::Jsonl),
            [NullKey, FutureTimestamp, Unparseable]
        );
    }

    #[test]
    fn every_kind_is_registered_once_with_a_unique_name() {
        let mut names: Vec<&str> = DEFECTS.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DEFECTS.len());
        for d in &DEFECTS {
            assert_eq!(d.kind.name(), d.name);
        }
    }
}
