//! `sales`: point-of-sale purchases in open physical stores, and online
//! purchases born from click sessions that reached confirmation (same user
//! and session, a few seconds later). Ids follow time order.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, ListArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields};
use rand::RngExt;
use rand_distr::{Distribution, Poisson};

use super::columns::{HOUR, batch, decimal, dict_array, hour_start_us, timestamps, unit_stream};
use super::session::SessionWalker;
use super::table::Table;
use crate::plan::unit::{CHUNK_ROWS, Unit};
use crate::plan::volumes::{DayVolumes, chunk_share};
use crate::schema;
use crate::seed::StreamRng;
use crate::world::{COUNTRIES, World};

pub(crate) struct Sales;

impl Table for Sales {
    /// Sales and clicks share their chunking, so an online sale lands in the
    /// same unit as the session it came from.
    fn plan_day(&self, _world: &World, day: &DayVolumes) -> Vec<(u32, u32)> {
        (0..24)
            .filter(|&h| day.clicks_in(h) > 0 || day.pos_in(h) > 0)
            .map(|h| (h as u32, day.chunks(h)))
            .collect()
    }

    fn generate(&self, world: &World, unit: &Unit) -> RecordBatch {
        sales(world, unit)
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
    online_sales(world, unit, &basket, &mut rows, &mut lines);
    pos_sales(world, unit, &basket, &mut rows, &mut lines);
    // Stable sort: equal timestamps keep online-then-POS draw order.
    rows.sort_by_key(|r| r.ts);
    debug_assert!((rows.len() as u64) < CHUNK_ROWS * 2);
    sales_batch(world, unit, &rows, &lines)
}

/// Online: sessions of the clicks unit with the same (date, hour, chunk)
/// that reached confirmation. Sessions and row ids do not depend on the
/// unit's table, so this unit replays them as the clicks unit walks them.
fn online_sales(
    world: &World,
    unit: &Unit,
    basket: &Basket,
    rows: &mut Vec<SaleRow>,
    lines: &mut Vec<(u32, i32, i64)>,
) {
    let mut walker = SessionWalker::new(world, unit);
    let mut online_rng = unit_stream(world, unit, "sales", "online");
    while let Some(s) = walker.next_session() {
        let Some(sale_us) = s.sale_us else { continue };
        let country = s.country;
        let start = lines.len();
        basket.draw(world, &mut online_rng, country, lines);
        rows.push(SaleRow {
            ts: sale_us,
            user: Some(s.user),
            store: world.online_store(country),
            session: Some(unit.row_id(s.seq)),
            online: true,
            payment: world.online_payment_pick[country].sample(&mut online_rng) as u8,
            country,
            items: start..lines.len(),
        });
    }
}

/// Point of sale: traffic of the stores open today, country by country.
fn pos_sales(
    world: &World,
    unit: &Unit,
    basket: &Basket,
    rows: &mut Vec<SaleRow>,
    lines: &mut Vec<(u32, i32, i64)>,
) {
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
            basket.draw(world, &mut rng, country, lines);
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
}

/// The batch of `rows` (sorted by time), their baskets' `lines` as items.
fn sales_batch(
    world: &World,
    unit: &Unit,
    rows: &[SaleRow],
    lines: &[(u32, i32, i64)],
) -> RecordBatch {
    let n = rows.len();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i32);
    let (mut sku, mut qty, mut price) = (Vec::new(), Vec::new(), Vec::new());
    let mut amount = Vec::with_capacity(n);
    for r in rows {
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
    let (item_field, items) = items_column(world, sku, qty, price);
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

/// The `items` list's field and its struct values.
fn items_column(
    world: &World,
    sku: Vec<i32>,
    qty: Vec<i32>,
    price: Vec<i128>,
) -> (Arc<Field>, StructArray) {
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
    (item_field, items)
}
