//! JSON lines, written column by column with each column's type resolved
//! once per batch, dictionary values escaped once, integers by `itoa` and
//! timestamps from a per-hour prefix. The bytes are exactly those of
//! arrow-json's line-delimited writer with explicit nulls (a test compares
//! them on every table), which it replaces for speed; a batch with a type
//! this writer does not know goes to arrow-json instead.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};

/// One column, ready to write row by row.
enum Column<'a> {
    I64(&'a Int64Array),
    I32(&'a Int32Array),
    Bool(&'a BooleanArray),
    Date(&'a Date32Array),
    /// UTC microseconds, written as RFC 3339 with `Z`.
    Timestamp(&'a TimestampMicrosecondArray),
    Text(&'a StringArray),
    /// Keys into values already written as JSON strings.
    Dictionary(&'a Int32Array, Vec<Vec<u8>>),
    Decimal(&'a Decimal128Array, i8),
    /// A list of structs: each field's `"name":` prefix and column.
    ListOfStructs(&'a ListArray, Vec<(Vec<u8>, Column<'a>)>),
}

fn json_string(s: &str, out: &mut Vec<u8>) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("strings serialise");
    }
}

/// `"name":` with `{` or `,` before it.
fn prefix(name: &str, first: bool) -> Vec<u8> {
    let mut p = vec![if first { b'{' } else { b',' }];
    json_string(name, &mut p);
    p.push(b':');
    p
}

fn column(array: &ArrayRef) -> Option<Column<'_>> {
    Some(match array.data_type() {
        DataType::Int64 => Column::I64(array.as_primitive::<Int64Type>()),
        DataType::Int32 => Column::I32(array.as_primitive::<Int32Type>()),
        DataType::Boolean => Column::Bool(array.as_boolean()),
        DataType::Date32 => Column::Date(array.as_primitive::<Date32Type>()),
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
            Column::Timestamp(array.as_primitive::<TimestampMicrosecondType>())
        }
        DataType::Utf8 => Column::Text(array.as_string::<i32>()),
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let dict = array.as_dictionary::<Int32Type>();
            let values = dict.values().as_string::<i32>();
            let encoded = (0..values.len())
                .map(|i| {
                    let mut v = Vec::new();
                    if values.is_null(i) {
                        v.extend_from_slice(b"null");
                    } else {
                        json_string(values.value(i), &mut v);
                    }
                    v
                })
                .collect();
            Column::Dictionary(dict.keys(), encoded)
        }
        DataType::Decimal128(_, scale) => {
            Column::Decimal(array.as_primitive::<Decimal128Type>(), *scale)
        }
        DataType::List(item) => {
            let DataType::Struct(fields) = item.data_type() else {
                return None;
            };
            let list = array.as_list::<i32>();
            let values = list.values().as_struct();
            let mut cols = Vec::new();
            for (i, f) in fields.iter().enumerate() {
                cols.push((prefix(f.name(), i == 0), column(values.column(i))?));
            }
            Column::ListOfStructs(list, cols)
        }
        _ => return None,
    })
}

/// Days since 1970-01-01 as (year, month, day), for any date (Howard
/// Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn two(v: u32, out: &mut Vec<u8>) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    if (0..=9999).contains(&y) {
        let y = y as u32;
        two(y / 100, out);
        two(y % 100, out);
    } else {
        // chrono's form for other years; never generated.
        out.extend_from_slice(format!("{y:+}").as_bytes());
    }
    out.push(b'-');
    two(m, out);
    out.push(b'-');
    two(d, out);
}

/// Formats UTC microsecond timestamps as chrono's `to_rfc3339_opts(AutoSi,
/// true)` does, reusing the `YYYY-MM-DDTHH:` of the last hour seen.
struct Timestamps {
    hour: i64,
    head: Vec<u8>,
}

impl Timestamps {
    fn new() -> Self {
        Timestamps {
            hour: i64::MIN,
            head: Vec::with_capacity(16),
        }
    }

    fn write(&mut self, micros: i64, out: &mut Vec<u8>) {
        let secs = micros.div_euclid(1_000_000);
        let frac = micros.rem_euclid(1_000_000) as u32;
        let hour = secs.div_euclid(3600);
        if hour != self.hour {
            self.hour = hour;
            self.head.clear();
            date(hour.div_euclid(24), &mut self.head);
            self.head.push(b'T');
            two(hour.rem_euclid(24) as u32, &mut self.head);
            self.head.push(b':');
        }
        let in_hour = secs.rem_euclid(3600) as u32;
        out.push(b'"');
        out.extend_from_slice(&self.head);
        two(in_hour / 60, out);
        out.push(b':');
        two(in_hour % 60, out);
        if frac != 0 {
            out.push(b'.');
            let mut digits = itoa::Buffer::new();
            let s = digits.format(frac);
            // Zero-padded to six digits, then cut to three when whole ms.
            let mut six = [b'0'; 6];
            six[6 - s.len()..].copy_from_slice(s.as_bytes());
            let n = if frac.is_multiple_of(1000) { 3 } else { 6 };
            out.extend_from_slice(&six[..n]);
        }
        out.extend_from_slice(b"Z\"");
    }
}

fn decimal(value: i128, scale: i8, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    let text = buf.format(value);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text),
    };
    let scale = scale.max(0) as usize;
    if scale == 0 {
        out.extend_from_slice(text.as_bytes());
    } else if digits.len() > scale {
        let (whole, fraction) = text.split_at(text.len() - scale);
        out.extend_from_slice(whole.as_bytes());
        out.push(b'.');
        out.extend_from_slice(fraction.as_bytes());
    } else {
        out.extend_from_slice(sign.as_bytes());
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    }
}

fn write_value(col: &Column<'_>, i: usize, ts: &mut Timestamps, out: &mut Vec<u8>) {
    let null = match col {
        Column::I64(a) => a.is_null(i),
        Column::I32(a) => a.is_null(i),
        Column::Bool(a) => a.is_null(i),
        Column::Date(a) => a.is_null(i),
        Column::Timestamp(a) => a.is_null(i),
        Column::Text(a) => a.is_null(i),
        Column::Dictionary(k, _) => k.is_null(i),
        Column::Decimal(a, _) => a.is_null(i),
        Column::ListOfStructs(a, _) => a.is_null(i),
    };
    if null {
        out.extend_from_slice(b"null");
        return;
    }
    let mut buf = itoa::Buffer::new();
    match col {
        Column::I64(a) => out.extend_from_slice(buf.format(a.value(i)).as_bytes()),
        Column::I32(a) => out.extend_from_slice(buf.format(a.value(i)).as_bytes()),
        Column::Bool(a) => out.extend_from_slice(if a.value(i) { b"true" } else { b"false" }),
        Column::Date(a) => {
            out.push(b'"');
            date(i64::from(a.value(i)), out);
            out.push(b'"');
        }
        Column::Timestamp(a) => ts.write(a.value(i), out),
        Column::Text(a) => json_string(a.value(i), out),
        Column::Dictionary(keys, values) => {
            out.extend_from_slice(&values[keys.value(i) as usize]);
        }
        Column::Decimal(a, scale) => decimal(a.value(i), *scale, out),
        Column::ListOfStructs(list, fields) => {
            out.push(b'[');
            let offsets = list.value_offsets();
            for (n, j) in (offsets[i] as usize..offsets[i + 1] as usize).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                for (p, c) in fields {
                    out.extend_from_slice(p);
                    write_value(c, j, ts, out);
                }
                out.push(b'}');
            }
            out.push(b']');
        }
    }
}

/// Appends the batch as JSON lines to `out`; `false` (and nothing written)
/// when a column's type is not one this writer knows.
pub(super) fn write(batch: &RecordBatch, out: &mut Vec<u8>) -> bool {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (i, field) in schema.fields().iter().enumerate() {
        match column(batch.column(i)) {
            Some(c) => columns.push((prefix(field.name(), i == 0), c)),
            None => return false,
        }
    }
    out.reserve(batch.num_rows() * 24 * batch.num_columns().max(1));
    let mut ts = Timestamps::new();
    for row in 0..batch.num_rows() {
        if columns.is_empty() {
            out.push(b'{');
        }
        for (p, c) in &columns {
            out.extend_from_slice(p);
            write_value(c, row, &mut ts, out);
        }
        out.extend_from_slice(b"}\n");
    }
    true
}
