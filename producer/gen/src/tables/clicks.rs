//! `clicks`: page views of sessions walking the funnel. Schema v2 (from
//! `world.clicks_v2_from`) adds device fields drawn from their own stream,
//! so every v1 column keeps its values.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch};
use chrono::NaiveDate;
use rand::RngExt;
use rand_distr::Distribution;

use super::columns::{batch, dict_array, optional_keys, timestamps, unit_stream};
use super::session::SessionWalker;
use super::table::Table;
use crate::plan::unit::Unit;
use crate::plan::volumes::DayVolumes;
use crate::world::{APP_VERSIONS, Device, World, os_of};

pub(crate) struct Clicks;

impl Table for Clicks {
    /// Sales and clicks share their chunking (see `DayVolumes::chunks`).
    fn plan_day(&self, _world: &World, day: &DayVolumes) -> Vec<(u32, u32)> {
        (0..24)
            .filter(|&h| day.clicks_in(h) > 0)
            .map(|h| (h as u32, day.chunks(h)))
            .collect()
    }

    fn generate(&self, world: &World, unit: &Unit) -> RecordBatch {
        clicks(world, unit)
    }

    fn schema_switch(&self, world: &World) -> Option<NaiveDate> {
        world.config.clicks_v2_from
    }
}

fn clicks(world: &World, unit: &Unit) -> RecordBatch {
    let v2 = world.config.clicks_v2_from.is_some_and(|d| unit.date >= d);
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
                Device::ALL[world.device_pick.sample(&mut device_rng)],
                device_rng.random::<u32>(),
            )
        } else {
            (Device::Desktop, 0)
        };
        for step in &walker.steps {
            event_id.push(id_base + event_id.len() as i64);
            user_id.push(s.user as i64);
            session_id.push(sid);
            ts.push(s.start_us + step.offset_us);
            page.push(world.page_of_kind(step.kind, &mut pages_rng));
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
    let os: Int32Array = device
        .iter()
        .zip(&device_detail)
        .map(|(&d, &x)| Some(os_of(d, x)))
        .collect();
    let app: Int32Array = device
        .iter()
        .zip(&device_detail)
        .map(|(&d, &x)| {
            d.is_app()
                .then_some(((x >> 8) % APP_VERSIONS.len() as u32) as i32)
        })
        .collect();
    columns.push(dict_array(
        device.iter().map(|&d| d as i32).collect(),
        &world.devices,
    ));
    columns.push(dict_array(os, &world.os_names));
    columns.push(dict_array(app, &world.app_versions));
    batch("clicks.v2", columns)
}
