//! Pure generators: a unit in, an Arrow record batch out. No I/O, no clock.
//!
//! Each attribute group draws from its own stream, seeded from
//! (seed, domain, date, hour, chunk, group). Session structure (who, when,
//! which funnel steps) is keyed to the clicks domain so the sales generator
//! can replay it and find the sessions that checked out.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, DictionaryArray, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Fields};
use chrono::{NaiveDate, NaiveTime};
use rand::RngExt;
use rand_distr::{Distribution, Exp, Poisson};

use crate::calendar::local_start;
use crate::config::{Domain, PAGE_KINDS, parse_date};
use crate::plan::{
    CHUNK_ROWS, DayVolumes, PerCountry, USERS_PER_FILE, Unit, chunk_share, users_total,
};
use crate::schema;
use crate::seed::{StreamRng, stream, tag};
use crate::world::{COUNTRIES, Dict, LOYALTY_TIERS, SourceTable, World};

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3600 * SECOND;

const KIND_CONFIRMATION: u8 = 5;
const EXIT: u8 = 6;

/// Generates the batch of one unit.
pub fn unit_batch(world: &World, unit: &Unit) -> RecordBatch {
    match unit.domain {
        Domain::Clicks => clicks(world, unit),
        Domain::Sales => sales(world, unit),
        Domain::Users => users(world, unit),
        Domain::Stores => stores(world, unit),
    }
}

fn unit_stream(world: &World, unit: &Unit, domain: &str, group: &str) -> StreamRng {
    stream(&unit.seed_words(world.seed, tag(domain), tag(group)))
}

fn hour_start_us(unit: &Unit) -> i64 {
    let midnight = unit
        .date
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_micros();
    midnight + unit.hour as i64 * HOUR
}

fn dict_array(keys: Int32Array, values: &Dict) -> ArrayRef {
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(keys, values.clone() as ArrayRef)
            .expect("keys in range"),
    )
}

fn timestamps(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}

fn batch(schema_name: &str, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema::arrow(schema_name), columns)
        .expect("columns match the schema file")
}

/// Cumulative probabilities of the next page kind (6 kinds, then exit).
struct Transitions {
    landing: [f64; 3],
    rows: [[f64; 7]; 5],
}

impl Transitions {
    fn new(world: &World) -> Transitions {
        let w = &world.config;
        let mut landing = [0.0; 3];
        let mut acc = 0.0;
        for (i, kind) in ["home", "category", "product"].iter().enumerate() {
            acc += w.landing.get(*kind).copied().unwrap_or(0.0);
            landing[i] = acc;
        }
        // Landing shares are normalised: every session lands somewhere.
        for l in &mut landing {
            *l /= acc.max(f64::MIN_POSITIVE);
        }
        let mut rows = [[1.0; 7]; 5];
        for (from, row) in rows.iter_mut().enumerate() {
            let probs = w.funnel.get(PAGE_KINDS[from]);
            let mut acc = 0.0;
            for (to, cell) in row.iter_mut().enumerate().take(6) {
                acc += probs
                    .and_then(|p| p.get(PAGE_KINDS[to]))
                    .copied()
                    .unwrap_or(0.0);
                *cell = acc;
            }
        }
        Transitions { landing, rows }
    }

    fn landing(&self, u: f64) -> u8 {
        self.landing.iter().position(|&c| u < c).unwrap_or(2) as u8
    }

    fn next(&self, from: u8, u: f64) -> u8 {
        if from == KIND_CONFIRMATION {
            return EXIT;
        }
        self.rows[from as usize]
            .iter()
            .position(|&c| u < c)
            .unwrap_or(EXIT as usize) as u8
    }
}

/// One session's structure; its steps live in the walker's buffer.
struct Session {
    seq: u64,
    user: u64,
    country: usize,
    source: u16,
    /// Indexes into the source's utm_term and utm_content values.
    term: u8,
    content: u8,
    start_us: i64,
    /// Time of the purchase, for sessions that reached confirmation.
    sale_us: Option<i64>,
}

struct Step {
    kind: u8,
    offset_us: i64,
}

/// Replays the sessions of a clicks unit from its structure stream, country
/// by country, until each country's planned clicks are used up.
struct SessionWalker<'w> {
    world: &'w World,
    rng: StreamRng,
    transitions: Transitions,
    gap: Option<Exp<f64>>,
    hour_start: i64,
    remaining: PerCountry,
    total: u64,
    country: usize,
    sources: Vec<SourceTable>,
    next_seq: u64,
    steps: Vec<Step>,
}

impl<'w> SessionWalker<'w> {
    fn new(world: &'w World, unit: &Unit) -> Self {
        let vol = DayVolumes::new(world, unit.date);
        let remaining: PerCountry = std::array::from_fn(|c| {
            chunk_share(vol.clicks[unit.hour as usize][c], unit.chunks, unit.chunk)
        });
        let hour_start = hour_start_us(unit);
        let utc = chrono::DateTime::from_timestamp_micros(hour_start).expect("valid hour");
        let sources = (0..COUNTRIES.len())
            .map(|c| world.source_table(local_start(world.timezones_of_country[c], utc).date))
            .collect();
        let mean = world.config.click_gap_mean_seconds;
        SessionWalker {
            world,
            rng: stream(&unit.seed_words(world.seed, tag("clicks"), tag("sessions"))),
            transitions: Transitions::new(world),
            gap: (mean > 0.0).then(|| Exp::new(1.0 / mean).expect("positive rate")),
            hour_start,
            total: remaining.iter().sum(),
            remaining,
            country: 0,
            sources,
            next_seq: 0,
            steps: Vec::with_capacity(64),
        }
    }

    fn next_session(&mut self) -> Option<Session> {
        while self.remaining[self.country] == 0 {
            self.country += 1;
            if self.country == COUNTRIES.len() {
                return None;
            }
        }
        let country = self.country;
        let remaining = self.remaining[country];
        let rng = &mut self.rng;
        let user = self.world.active_user(rng, country);
        let source = self.sources[country].sample(rng);
        let src = &self.world.sources[source as usize];
        let pick = |rng: &mut StreamRng, n: usize| {
            if n > 1 {
                rng.random_range(0..n) as u8
            } else {
                0
            }
        };
        let term = pick(rng, src.terms.len());
        let content = pick(rng, src.contents.len());
        let max_steps = (self.world.config.max_session_clicks as u64).min(remaining);
        self.steps.clear();
        let mut kind = self.transitions.landing(rng.random::<f64>());
        let mut offset = 0i64;
        loop {
            self.steps.push(Step {
                kind,
                offset_us: offset,
            });
            if self.steps.len() as u64 >= max_steps {
                break;
            }
            let next = self.transitions.next(kind, rng.random::<f64>());
            if next == EXIT {
                break;
            }
            let gap_s = self.gap.map_or(0.0, |g| g.sample(rng)).min(600.0);
            let gap = SECOND + (gap_s * SECOND as f64) as i64;
            if offset + gap >= HOUR - 60 * SECOND {
                break; // the visit times out within the hour
            }
            offset += gap;
            kind = next;
        }
        let mut duration = offset;
        let mut sale_offset = None;
        if kind == KIND_CONFIRMATION {
            let delay =
                rng.random_range(1..=self.world.config.checkout_delay_max_seconds as i64) * SECOND;
            sale_offset = Some(offset + delay);
            duration += delay;
        }
        let start = self.hour_start + rng.random_range(0..(HOUR - duration).max(1));
        self.remaining[country] -= self.steps.len() as u64;
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Session {
            seq,
            user,
            country,
            source,
            term,
            content,
            start_us: start,
            sale_us: sale_offset.map(|o| start + o),
        })
    }
}

fn clicks(world: &World, unit: &Unit) -> RecordBatch {
    let v2 = world
        .config
        .clicks_v2_from
        .as_deref()
        .is_some_and(|d| unit.date >= parse_date("clicks_v2_from", d).expect("validated"));
    let mut walker = SessionWalker::new(world, unit);
    let n = walker.total as usize;
    let mut pages_rng = unit_stream(world, unit, "clicks", "pages");
    let mut device_rng = unit_stream(world, unit, "clicks", "device");

    let mut event_id = Vec::with_capacity(n);
    let mut user_id = Vec::with_capacity(n);
    let mut session_id = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut page = Vec::with_capacity(n);
    let mut source: Vec<(u16, u8, u8)> = Vec::with_capacity(n);
    let mut device = Vec::with_capacity(if v2 { n } else { 0 });
    let mut device_detail = Vec::with_capacity(if v2 { n } else { 0 });

    // Row ids are the unit's base id plus the row's sequence number.
    let id_base = unit.row_id(0);
    while let Some(s) = walker.next_session() {
        let sid = id_base + s.seq as i64;
        let (dev, detail) = if v2 {
            (
                world.device_pick.sample(&mut device_rng) as u8,
                device_rng.random::<u32>(),
            )
        } else {
            (0, 0)
        };
        for step in &walker.steps {
            event_id.push(id_base + event_id.len() as i64);
            user_id.push(s.user as i64);
            session_id.push(sid);
            ts.push(s.start_us + step.offset_us);
            page.push(world.page_of_kind(step.kind as usize, &mut pages_rng));
            source.push((s.source, s.term, s.content));
            if v2 {
                device.push(dev);
                device_detail.push(detail);
            }
        }
    }
    debug_assert_eq!(event_id.len(), n);

    let src = |i: usize| &world.sources[source[i].0 as usize];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(event_id)),
        Arc::new(Int64Array::from(user_id)),
        Arc::new(Int64Array::from(session_id)),
        timestamps(ts),
        dict_array(Int32Array::from(page), &world.pages),
        dict_array(optional_keys(n, |i| src(i).referrer), &world.referrers),
    ];
    for f in 0..3 {
        columns.push(dict_array(
            optional_keys(n, |i| src(i).utm[f]),
            &world.utm[f],
        ));
    }
    columns.push(dict_array(
        optional_keys(n, |i| src(i).terms.get(source[i].1 as usize).copied()),
        &world.utm[3],
    ));
    columns.push(dict_array(
        optional_keys(n, |i| src(i).contents.get(source[i].2 as usize).copied()),
        &world.utm[4],
    ));
    if !v2 {
        return batch("clicks.v1", columns);
    }
    let (os_values, app_values) = device_dicts();
    let os: Int32Array = device
        .iter()
        .zip(&device_detail)
        .map(|(&d, &x)| Some(os_of(d, x)))
        .collect();
    let app: Int32Array = device
        .iter()
        .zip(&device_detail)
        .map(|(&d, &x)| (d >= 2).then_some(((x >> 8) % APP_VERSIONS.len() as u32) as i32))
        .collect();
    columns.push(dict_array(
        device.iter().map(|&d| d as i32).collect(),
        &world.devices,
    ));
    columns.push(dict_array(os, &os_values));
    columns.push(dict_array(app, &app_values));
    batch("clicks.v2", columns)
}

/// Dictionary keys, some null, without a per-row builder.
fn optional_keys(n: usize, key: impl Fn(usize) -> Option<i32>) -> Int32Array {
    let mut values: Vec<i32> = Vec::with_capacity(n);
    let mut valid = arrow_buffer::BooleanBufferBuilder::new(n);
    for i in 0..n {
        let k = key(i);
        values.push(k.unwrap_or(0));
        valid.append(k.is_some());
    }
    let valid = valid.finish();
    let nulls = (valid.count_set_bits() < n).then(|| NullBuffer::from(valid));
    Int32Array::new(values.into(), nulls)
}

const OS_NAMES: [&str; 5] = ["Windows", "macOS", "Linux", "iOS", "Android"];
const APP_VERSIONS: [&str; 4] = ["5.2.0", "5.3.1", "5.4.0", "6.0.2"];

fn device_dicts() -> (Dict, Dict) {
    use std::sync::OnceLock;
    static D: OnceLock<(Dict, Dict)> = OnceLock::new();
    D.get_or_init(|| {
        (
            crate::world::dict(OS_NAMES),
            crate::world::dict(APP_VERSIONS),
        )
    })
    .clone()
}

/// OS of a device: desktops run Windows, macOS or Linux; phones iOS or Android.
fn os_of(device: u8, detail: u32) -> i32 {
    match device {
        0 => [0, 0, 0, 1, 1, 2][(detail % 6) as usize],
        1 => 3 + (detail % 2) as i32,
        2 => 3,
        _ => 4,
    }
}

/// A sale before its id is assigned (ids follow time order).
struct SaleRow {
    ts: i64,
    user: Option<u64>,
    store: i32,
    session: Option<i64>,
    online: bool,
    payment: u8,
    country: usize,
    items: std::ops::Range<usize>,
}

struct Basket {
    lines: Option<Poisson<f64>>,
    qty: Option<Poisson<f64>>,
}

impl Basket {
    fn new(world: &World) -> Basket {
        let p = |l: f64| (l > 0.0).then(|| Poisson::new(l).expect("valid lambda"));
        Basket {
            lines: p(world.config.basket_extra_lines),
            qty: p(world.config.qty_extra),
        }
    }

    /// Appends a basket's lines (product, qty, unit price in cents).
    fn draw(
        &self,
        world: &World,
        rng: &mut StreamRng,
        country: usize,
        out: &mut Vec<(u32, i32, i64)>,
    ) {
        let extra = self.lines.map_or(0.0, |d| d.sample(rng)).min(49.0) as usize;
        let start = out.len();
        for _ in 0..=extra {
            let product = world.product_popularity.sample(rng);
            let qty = 1 + self.qty.map_or(0.0, |d| d.sample(rng)).min(98.0) as i32;
            // A product drawn twice adds to its line, as a till would.
            match out[start..].iter_mut().find(|l| l.0 == product as u32) {
                Some(line) => line.1 += qty,
                None => out.push((
                    product as u32,
                    qty,
                    world.local_price_cents(product, country),
                )),
            }
        }
    }
}

fn sales(world: &World, unit: &Unit) -> RecordBatch {
    let basket = Basket::new(world);
    let mut rows: Vec<SaleRow> = Vec::new();
    let mut lines: Vec<(u32, i32, i64)> = Vec::new();

    // Online: sessions of the matching clicks unit that reached confirmation.
    let clicks_unit = Unit {
        domain: Domain::Clicks,
        ..*unit
    };
    let mut walker = SessionWalker::new(world, &clicks_unit);
    let mut online_rng = unit_stream(world, unit, "sales", "online");
    while let Some(s) = walker.next_session() {
        let Some(sale_us) = s.sale_us else { continue };
        let country = s.country;
        let start = lines.len();
        basket.draw(world, &mut online_rng, country, &mut lines);
        rows.push(SaleRow {
            ts: sale_us,
            user: Some(s.user),
            store: world.online_store(country),
            session: Some(clicks_unit.row_id(s.seq)),
            online: true,
            payment: world.online_payment_pick[country].sample(&mut online_rng) as u8,
            country,
            items: start..lines.len(),
        });
    }

    // Point of sale: traffic of the stores open today, country by country.
    let vol = DayVolumes::new(world, unit.date);
    let mut rng = unit_stream(world, unit, "sales", "pos");
    let hour_start = hour_start_us(unit);
    for country in 0..COUNTRIES.len() {
        let pos = chunk_share(
            vol.pos_sales[unit.hour as usize][country],
            unit.chunks,
            unit.chunk,
        );
        if pos == 0 {
            continue;
        }
        let (store_pick, store_ids) = world
            .open_stores(country, unit.date)
            .expect("volume is planned only where stores are open");
        for _ in 0..pos {
            let store = store_ids[store_pick.sample(&mut rng)];
            let ts = hour_start + rng.random_range(0..HOUR);
            let user = if rng.random::<f64>() < world.config.anonymous_pos_share {
                None
            } else {
                world.user_in_country(&mut rng, country)
            };
            let start = lines.len();
            basket.draw(world, &mut rng, country, &mut lines);
            rows.push(SaleRow {
                ts,
                user,
                store: store as i32,
                session: None,
                online: false,
                payment: world.pos_payment_pick[country].sample(&mut rng) as u8,
                country,
                items: start..lines.len(),
            });
        }
    }
    // Stable sort: equal timestamps keep online-then-POS draw order.
    rows.sort_by_key(|r| r.ts);
    debug_assert!((rows.len() as u64) < CHUNK_ROWS * 2);

    let n = rows.len();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i32);
    let (mut sku, mut qty, mut price) = (Vec::new(), Vec::new(), Vec::new());
    let mut amount = Vec::with_capacity(n);
    for r in &rows {
        let mut total: i64 = 0;
        for &(p, q, c) in &lines[r.items.clone()] {
            sku.push(p as i32);
            qty.push(q);
            price.push(c as i128);
            total += q as i64 * c;
        }
        offsets.push(sku.len() as i32);
        amount.push(total as i128);
    }
    let DataType::List(item_field) = schema::arrow("sales.v1")
        .field_with_name("items")
        .unwrap()
        .data_type()
        .clone()
    else {
        unreachable!("items is a list")
    };
    let DataType::Struct(item_fields) = item_field.data_type().clone() else {
        unreachable!("items hold structs")
    };
    let items = StructArray::new(
        item_fields.clone() as Fields,
        vec![
            dict_array(Int32Array::from(sku), &world.skus),
            Arc::new(Int32Array::from(qty)),
            Arc::new(decimal(price)),
        ],
        None,
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values((unit.row_id(0)..).take(n))),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r.user.map(|u| u as i64)),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.store))),
        dict_array(
            rows.iter().map(|r| Some(r.online as i32)).collect(),
            &world.channels,
        ),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.session))),
        timestamps(rows.iter().map(|r| r.ts).collect()),
        Arc::new(ListArray::new(
            item_field,
            OffsetBuffer::new(offsets.into()),
            Arc::new(items),
            None,
        )),
        dict_array(
            rows.iter().map(|r| Some(r.payment as i32)).collect(),
            &world.payment_types,
        ),
        Arc::new(decimal(amount)),
        dict_array(
            rows.iter()
                .map(|r| Some(world.currency_of_country[r.country]))
                .collect(),
            &world.currencies,
        ),
    ];
    batch("sales.v1", columns)
}

fn decimal(cents: Vec<i128>) -> Decimal128Array {
    Decimal128Array::from(cents)
        .with_precision_and_scale(12, 2)
        .expect("valid decimal")
}

/// One SCD2 version of a user: the attributes that change over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UserVersion {
    /// First day, as days since 1970-01-01.
    pub from: i32,
    /// Index into the country's cities.
    pub city: usize,
    pub tier: usize,
}

/// Appends the versions of user `u` that start on or before day `until`
/// (days since 1970-01-01). The history is a fixed sequence per (seed,
/// user), so a later snapshot only adds versions: each snapshot agrees with
/// every later one.
pub fn user_history(
    world: &World,
    u: u64,
    first: UserVersion,
    until: i32,
    out: &mut Vec<UserVersion>,
) {
    out.push(first);
    let w = &world.config;
    let per_day = (w.tier_changes_per_year + w.city_moves_per_year) / 365.25;
    if per_day <= 0.0 {
        return;
    }
    let tier_share = w.tier_changes_per_year / (w.tier_changes_per_year + w.city_moves_per_year);
    let gap = Exp::new(per_day).expect("positive rate");
    let cities = COUNTRIES[world.user_country(u)].cities.len();
    let mut rng = stream(&[world.seed, tag("user_history"), u]);
    let mut v = first;
    loop {
        // Whole days, at least one: versions never overlap.
        let days = gap.sample(&mut rng).ceil().clamp(1.0, 1e6) as i32;
        if v.from > until - days {
            return;
        }
        v.from += days;
        if rng.random::<f64>() < tier_share || cities < 2 {
            // One step up or down the ladder.
            let up = v.tier == 0 || (v.tier + 1 < LOYALTY_TIERS.len() && rng.random::<bool>());
            v.tier = if up { v.tier + 1 } else { v.tier - 1 };
        } else {
            let step = rng.random_range(1..cities);
            v.city = (v.city + step) % cities;
        }
        out.push(v);
    }
}

fn users(world: &World, unit: &Unit) -> RecordBatch {
    let total = users_total(&world.spec);
    let lo = unit.chunk as u64 * USERS_PER_FILE;
    let hi = (lo + USERS_PER_FILE).min(total);
    let n = (hi - lo) as usize;
    let day = |d: NaiveDate| (d - unix_epoch()).num_days() as i32;
    let signup_from = day(world.signup_from);
    let until = day(unit.date);

    let mut user_id = Vec::with_capacity(n);
    let mut signup = Vec::with_capacity(n);
    let (mut first, mut last) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut email = arrow_array::builder::StringBuilder::with_capacity(n, n * 32);
    let (mut country, mut city, mut tier, mut device) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut eff_from, mut eff_to, mut current) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut buf = itoa::Buffer::new();
    let mut line = String::with_capacity(64);
    let mut versions = Vec::new();
    for u in lo..hi {
        // Users are random-access: attributes depend on (seed, user) only.
        let mut rng = stream(&[world.seed, tag("user"), u]);
        let signed_up = signup_from + rng.random_range(0..world.signup_days) as i32;
        let f = rng.random_range(0..world.first_names_lower.len());
        let l = rng.random_range(0..world.last_names_lower.len());
        line.clear();
        line.push_str(&world.first_names_lower[f]);
        line.push('.');
        line.push_str(&world.last_names_lower[l]);
        line.push_str(buf.format(u));
        line.push_str("@example.com");
        let c = world.user_country(u);
        let first_version = UserVersion {
            from: signed_up,
            city: crate::world::zipf_pick(&mut rng, COUNTRIES[c].cities.len()),
            tier: world.tier_pick.sample(&mut rng),
        };
        let dev = world.device_pick.sample(&mut rng) as i32;
        versions.clear();
        user_history(world, u, first_version, until, &mut versions);
        for (i, v) in versions.iter().enumerate() {
            user_id.push(u as i64);
            signup.push(signed_up);
            first.push(f as i32);
            last.push(l as i32);
            email.append_value(&line);
            country.push(c as i32);
            city.push(world.city_start[c] + v.city as i32);
            tier.push(v.tier as i32);
            device.push(dev);
            eff_from.push(v.from);
            let next = versions.get(i + 1);
            eff_to.push(next.map(|n| n.from));
            current.push(next.is_none());
        }
    }
    batch(
        "users.v2",
        vec![
            Arc::new(Int64Array::from(user_id)),
            Arc::new(Date32Array::from(signup)),
            dict_array(Int32Array::from(first), &world.first_names),
            dict_array(Int32Array::from(last), &world.last_names),
            Arc::new(email.finish()),
            dict_array(Int32Array::from(country), &world.countries),
            dict_array(Int32Array::from(city), &world.cities),
            dict_array(Int32Array::from(tier), &world.tiers),
            dict_array(Int32Array::from(device), &world.devices),
            Arc::new(Date32Array::from(eff_from)),
            Arc::new(Date32Array::from(eff_to)),
            Arc::new(arrow_array::BooleanArray::from(current)),
        ],
    )
}

fn unix_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
}

/// Stores known on the snapshot day: physical stores opened by then (with
/// their close date once it has passed) and the online storefronts.
fn stores(world: &World, unit: &Unit) -> RecordBatch {
    let physical = world.physical_stores.len();
    let ids: Vec<usize> = (0..world.store_count())
        .filter(|&id| {
            world
                .physical_stores
                .get(id)
                .is_none_or(|s| s.opened_on <= unit.date)
        })
        .collect();
    let country = |id: usize| {
        world
            .physical_stores
            .get(id)
            .map_or_else(|| id - physical, |s| s.country)
    };
    let day = |d: NaiveDate| (d - unix_epoch()).num_days() as i32;
    let keys =
        |f: &dyn Fn(usize) -> Option<i32>| -> Int32Array { ids.iter().map(|&id| f(id)).collect() };
    batch(
        "stores.v1",
        vec![
            Arc::new(Int32Array::from_iter_values(
                ids.iter().map(|&id| id as i32),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|&id| world.store_name(id)),
            )),
            dict_array(
                keys(&|id| Some(i32::from(id >= physical))),
                &world.store_types,
            ),
            dict_array(keys(&|id| Some(country(id) as i32)), &world.countries),
            dict_array(
                keys(&|id| {
                    let s = world.physical_stores.get(id)?;
                    Some(world.city_start[s.country] + s.city? as i32)
                }),
                &world.cities,
            ),
            dict_array(
                keys(&|id| Some(world.currency_of_country[country(id)])),
                &world.currencies,
            ),
            dict_array(keys(&|id| Some(country(id) as i32)), &world.timezones),
            Arc::new(Date32Array::from_iter_values(ids.iter().map(|&id| {
                day(world
                    .physical_stores
                    .get(id)
                    .map_or(world.signup_from, |s| s.opened_on))
            }))),
            Arc::new(Date32Array::from_iter(ids.iter().map(|&id| {
                let closed = world.physical_stores.get(id)?.closed_on?;
                (closed <= unit.date).then(|| day(closed))
            }))),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides, Settings};

    fn world(v2_from: Option<&str>) -> World {
        let cli = Overrides {
            scale: Some(0.002),
            clicks_v2_from: v2_from.map(str::to_string),
            ..Default::default()
        };
        World::new(&Settings::resolve(cli, FileConfig::default()).unwrap().spec)
    }

    fn unit(domain: Domain) -> Unit {
        let date = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        Unit {
            domain,
            date,
            hour: 12,
            chunk: 0,
            chunks: 1,
        }
    }

    #[test]
    fn clicks_v2_leaves_v1_columns_unchanged() {
        let v1 = unit_batch(&world(None), &unit(Domain::Clicks));
        let v2 = unit_batch(&world(Some("2025-01-01")), &unit(Domain::Clicks));
        assert_eq!(v1.schema(), schema::arrow("clicks.v1"));
        assert_eq!(v2.schema(), schema::arrow("clicks.v2"));
        assert!(v1.num_rows() > 100);
        for (i, col) in v1.columns().iter().enumerate() {
            assert_eq!(
                col.as_ref(),
                v2.column(i).as_ref(),
                "column {}",
                v1.schema().field(i).name()
            );
        }
        // Before the switch-over date, clicks stay v1.
        let later = unit_batch(&world(Some("2025-02-01")), &unit(Domain::Clicks));
        assert_eq!(later, v1);
    }

    #[test]
    fn every_batch_matches_its_schema_file() {
        let w = world(None);
        for (domain, name) in [
            (Domain::Users, "users.v2"),
            (Domain::Stores, "stores.v1"),
            (Domain::Sales, "sales.v1"),
        ] {
            let b = unit_batch(
                &w,
                &Unit {
                    hour: 0,
                    ..unit(domain)
                },
            );
            assert_eq!(b.schema(), schema::arrow(name));
            assert!(b.num_rows() > 0, "{name}");
        }
    }

    #[test]
    fn clicks_fill_the_planned_volume_exactly() {
        let w = world(None);
        let u = unit(Domain::Clicks);
        let planned = DayVolumes::new(&w, u.date).clicks_in(12);
        assert_eq!(unit_batch(&w, &u).num_rows() as u64, planned);
    }
}
