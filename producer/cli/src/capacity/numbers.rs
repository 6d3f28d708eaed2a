//! Numbers as the plan prints them: grouped, with enough digits to
//! recompute a line by hand.

/// A number for a formula: enough digits to recompute from.
pub(crate) fn n(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        let s = format!("{}", x as i64);
        group(&s)
    } else if x.abs() >= 100.0 {
        let t = format!("{x:.1}");
        let (int, frac) = t.split_once('.').unwrap_or((&t, "0"));
        format!("{}.{frac}", group(int))
    } else if x.abs() >= 1.0 {
        format!("{x:.4}")
    } else if x.abs() >= 1e-4 || x == 0.0 {
        format!("{x:.6}")
    } else {
        format!("{x:.4e}")
    }
}

/// Dollars and cents, thousands grouped.
pub(crate) fn money(x: f64) -> String {
    let t = format!("{x:.2}");
    let (int, cents) = t.split_once('.').unwrap_or((&t, "00"));
    format!("{}.{cents}", group(int))
}

/// Digits of a whole number, thousands grouped as the dry run groups them.
fn group(digits: &str) -> String {
    let (sign, d) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let whole = d
        .parse::<u64>()
        .map_or_else(|_| d.to_string(), crate::plan::grouped);
    format!("{sign}{whole}")
}

pub(crate) fn sum_formula(parts: &[(&str, f64)]) -> String {
    parts
        .iter()
        .map(|(name, v)| format!("{name} {}", n(*v)))
        .collect::<Vec<_>>()
        .join(" + ")
}
