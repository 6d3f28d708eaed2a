//! Numbers as the producer prints them to people: thousands grouped, bytes
//! in decimal units, and a plan's formulas with enough digits to recompute
//! a line by hand. The dry run, the run summary and `plan` share them.

/// `12,345,678`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.2 GB`, `340 kB`, `17 B`: decimal units, three significant digits.
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 || v >= 100.0 {
        format!("{v:.0} {}", units[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", units[u])
    } else {
        format!("{v:.2} {}", units[u])
    }
}

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

/// Digits of a whole number, thousands grouped as `grouped` groups them.
fn group(digits: &str) -> String {
    let (sign, d) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let whole = d.parse::<u64>().map_or_else(|_| d.to_string(), grouped);
    format!("{sign}{whole}")
}

pub(crate) fn sum_formula(parts: &[(&str, f64)]) -> String {
    parts
        .iter()
        .map(|(name, v)| format!("{name} {}", n(*v)))
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(human_bytes(17.0), "17 B");
        assert_eq!(human_bytes(1234.0), "1.23 kB");
        assert_eq!(human_bytes(45_600_000.0), "45.6 MB");
        assert_eq!(human_bytes(1.2e12), "1.20 TB");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn formulas_keep_enough_digits() {
        assert_eq!(n(1234567.0), "1,234,567");
        assert_eq!(n(-1234.0), "-1,234");
        assert_eq!(n(12345.678), "12,345.7");
        assert_eq!(n(2.5), "2.5000");
        assert_eq!(n(0.00123), "0.001230");
        assert_eq!(n(0.00001234), "1.2340e-5");
        assert_eq!(money(1234567.891), "1,234,567.89");
        assert_eq!(sum_formula(&[("a", 1.0), ("b", 2.0)]), "a 1 + b 2");
    }
}
