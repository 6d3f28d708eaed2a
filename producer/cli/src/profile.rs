//! `profile`: the realised distributions of a Parquet lake, to hold against
//! the config that made it. The world is rebuilt from the manifest's spec, so
//! user and store countries (and their time zones) need no joins.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use marketpulse_gen::calendar::local_start;
use marketpulse_gen::world::PageKind;
use marketpulse_gen::{DatasetSpec, Format, World};

use crate::error::Error;
use crate::manifest::{FileEntry, MANIFEST_DIR, Manifest, sha256_hex};

const HOUR_US: i64 = 3_600_000_000;

#[derive(Serialize)]
pub(crate) struct Share {
    pub(crate) name: String,
    pub(crate) count: u64,
    pub(crate) share: f64,
}

#[derive(Serialize)]
pub(crate) struct Quantiles {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

#[derive(Serialize)]
pub(crate) struct Profile {
    pub(crate) run: String,
    pub(crate) clicks: u64,
    pub(crate) sales: u64,
    /// Share of clicks per local hour of the user; and the configured curve.
    pub(crate) click_hours: Vec<f64>,
    pub(crate) click_hours_config: Vec<f64>,
    /// Share of point-of-sale sales per local hour of the store.
    pub(crate) pos_hours: Vec<f64>,
    pub(crate) pos_hours_config: Vec<f64>,
    pub(crate) top_pages: Vec<Share>,
    pub(crate) top_stores: Vec<Share>,
    pub(crate) top_campaigns: Vec<Share>,
    /// Realised next-page probabilities: from kind → (to kind or "exit").
    pub(crate) funnel: BTreeMap<String, BTreeMap<String, f64>>,
    pub(crate) funnel_config: BTreeMap<String, BTreeMap<String, f64>>,
    pub(crate) basket_lines: Quantiles,
    pub(crate) basket_units: Quantiles,
    /// Sale amounts converted to USD with the configured FX table.
    pub(crate) amount_usd: Quantiles,
    /// Injected defects by kind, summed from the manifests.
    pub(crate) defects: BTreeMap<String, u64>,
}

/// The lake's manifests, each with its spec checked: it parses, it is
/// valid, and it is the spec its run id was made from (an edited manifest
/// is not).
fn load_manifests(root: &Path) -> Result<Vec<(Manifest, DatasetSpec)>, Error> {
    if !root.is_dir() {
        let hint = if root.to_string_lossy().contains("://") {
            " (profile reads a local copy of a lake; verify also reads s3://)"
        } else {
            ""
        };
        return Err(Error::usage(format!(
            "cannot profile {}: not a folder{hint}",
            root.display()
        )));
    }
    let dir = root.join(MANIFEST_DIR);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p: &std::path::PathBuf| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name.contains("-shard-") && name.ends_with(".json")
    });
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let bad = |why: String| Error::runtime(format!("invalid manifest {}: {why}", p.display()));
        let bytes = std::fs::read(&p).map_err(|e| bad(e.to_string()))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let spec: DatasetSpec = serde_json::from_value(m.spec.clone())
            .map_err(|e| bad(format!("its spec is unreadable: {e}")))?;
        spec.validate()
            .map_err(|e| bad(format!("its spec is invalid: {e}")))?;
        if spec.id() != m.run {
            return Err(bad(format!(
                "its spec is not the one run {} was made from (was it edited?)",
                m.run
            )));
        }
        out.push((m, spec));
    }
    if out.is_empty() {
        return Err(Error::runtime(format!("no manifests in {}", dir.display())));
    }
    Ok(out)
}

fn shares(counts: HashMap<String, u64>, total: u64, top: usize) -> Vec<Share> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(top);
    v.into_iter()
        .map(|(name, count)| Share {
            name,
            count,
            share: count as f64 / total.max(1) as f64,
        })
        .collect()
}

fn quantiles(mut v: Vec<f64>) -> Quantiles {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() - 1) as f64 * p).round() as usize]
        }
    };
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: q(1.0),
    }
}

fn normalised(curve: &[f64]) -> Vec<f64> {
    let sum: f64 = curve.iter().sum();
    curve.iter().map(|x| x / sum).collect()
}

fn page_kind(page: &str) -> usize {
    PageKind::of_path(page) as usize
}

/// Local hour of a UTC timestamp in a country, cached per UTC hour.
struct LocalHours<'w> {
    world: &'w World,
    cache: HashMap<(usize, i64), usize>,
}

impl LocalHours<'_> {
    fn hour(&mut self, country: usize, ts_us: i64) -> usize {
        let utc_hour = ts_us.div_euclid(HOUR_US);
        let world = self.world;
        *self.cache.entry((country, utc_hour)).or_insert_with(|| {
            let t = chrono::DateTime::from_timestamp_micros(utc_hour * HOUR_US).expect("valid");
            let at = local_start(world.timezones_of_country[country], t);
            // Half-hour zones: the UTC hour is mostly in the later local hour.
            if at.frac >= 0.5 {
                (at.hour + 1) % 24
            } else {
                at.hour
            }
        })
    }
}

/// The batches of one file, after checking its bytes against its manifest
/// entry: a file changed or swapped since it was written is refused.
fn read(root: &Path, entry: &FileEntry) -> Result<Vec<RecordBatch>, Error> {
    let full = root.join(&entry.path);
    let fail = |e: String| Error::runtime(format!("cannot read {}: {e}", full.display()));
    let bytes = std::fs::read(&full).map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 != entry.bytes || sha256_hex(&bytes) != entry.sha256 {
        return Err(fail(
            "it does not match its manifest entry (changed since it was written; run verify)"
                .into(),
        ));
    }
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| fail(e.to_string()))?
        .with_batch_size(65_536)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))
}

/// A column of `batch` as type `T`, or an error naming it.
fn column<'b, T: ArrowPrimitiveType>(
    batch: &'b RecordBatch,
    name: &str,
) -> Result<&'b PrimitiveArray<T>, Error> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or_else(|| {
            Error::runtime(format!(
                "a data file has no {name} column of the expected type"
            ))
        })
}

/// Dictionary-encoded string column as a lookup by row.
fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, Error> {
    let dict = batch
        .column_by_name(name)
        .and_then(|c| c.as_dictionary_opt::<Int32Type>())
        .ok_or_else(|| Error::runtime(format!("a data file has no {name} dictionary column")))?;
    let values = dict
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::runtime(format!("{name} holds no strings")))?;
    Ok(dict
        .keys()
        .iter()
        .map(|k| k.map(|k| values.value(k as usize).to_string()))
        .collect())
}

/// What the data files hold, counted as they are read.
#[derive(Default)]
struct Tally {
    clicks: u64,
    sales: u64,
    click_hours: [u64; 24],
    pos_hours: [u64; 24],
    pages: HashMap<String, u64>,
    stores: HashMap<String, u64>,
    campaigns: HashMap<String, u64>,
    /// Page kind (`PageKind::ALL` order) to next page kind, or to exit (6).
    transitions: [[u64; 7]; 6],
    lines: Vec<f64>,
    units: Vec<f64>,
    amounts: Vec<f64>,
}

impl Tally {
    fn clicks(&mut self, batch: &RecordBatch, hours: &mut LocalHours<'_>) -> Result<(), Error> {
        self.clicks += batch.num_rows() as u64;
        let users = column::<Int64Type>(batch, "user_id")?;
        let sessions = column::<Int64Type>(batch, "session_id")?;
        let ts = column::<TimestampMicrosecondType>(batch, "ts")?;
        let page = strings(batch, "page")?;
        let campaign = strings(batch, "utm_campaign")?;
        for i in 0..batch.num_rows() {
            if users.is_valid(i) {
                let c = hours.world.user_country(users.value(i) as u64);
                self.click_hours[hours.hour(c, ts.value(i))] += 1;
            }
            let p = page[i].clone().unwrap_or_default();
            let kind = page_kind(&p);
            *self.pages.entry(p).or_insert(0) += 1;
            *self
                .campaigns
                .entry(campaign[i].clone().unwrap_or_else(|| "(none)".into()))
                .or_insert(0) += 1;
            // A session's clicks are contiguous and in step order.
            let same_session =
                i + 1 < batch.num_rows() && sessions.value(i + 1) == sessions.value(i);
            let next = if same_session {
                page_kind(page[i + 1].as_deref().unwrap_or(""))
            } else {
                6
            };
            self.transitions[kind][next] += 1;
        }
        Ok(())
    }

    fn sales(
        &mut self,
        batch: &RecordBatch,
        hours: &mut LocalHours<'_>,
        fx_per_usd: &BTreeMap<String, f64>,
    ) -> Result<(), Error> {
        let world = hours.world;
        self.sales += batch.num_rows() as u64;
        let store = column::<Int32Type>(batch, "store_id")?;
        let ts = column::<TimestampMicrosecondType>(batch, "ts")?;
        let amount = column::<Decimal128Type>(batch, "amount")?;
        let channel = strings(batch, "channel")?;
        let currency = strings(batch, "currency")?;
        let (offsets, qty) = item_qty(batch)
            .ok_or_else(|| Error::runtime("a sales file has no items.qty column".to_string()))?;
        for i in 0..batch.num_rows() {
            if store.is_valid(i) {
                let s = store.value(i) as usize;
                *self.stores.entry(world.store_name(s)).or_insert(0) += 1;
                if channel[i].as_deref() == Some("pos")
                    && let Some(st) = world.physical_stores.get(s)
                {
                    self.pos_hours[hours.hour(st.country, ts.value(i))] += 1;
                }
            }
            let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
            self.lines.push((b - a) as f64);
            self.units.push((a..b).map(|j| qty.value(j) as f64).sum());
            let fx = currency[i]
                .as_deref()
                .and_then(|c| fx_per_usd.get(c))
                .copied();
            if let Some(fx) = fx {
                self.amounts.push(amount.value(i) as f64 / 100.0 / fx);
            }
        }
        Ok(())
    }

    /// Realised next-page probabilities of the funnel's steps.
    fn funnel(&self) -> BTreeMap<String, BTreeMap<String, f64>> {
        let mut funnel = BTreeMap::new();
        for (from, row) in self.transitions.iter().enumerate().take(5) {
            let total: u64 = row.iter().sum();
            if total == 0 {
                continue;
            }
            let probs = row
                .iter()
                .enumerate()
                .map(|(to, &c)| {
                    let name = PageKind::ALL.get(to).map_or("exit", |k| k.name());
                    (name.to_string(), c as f64 / total as f64)
                })
                .filter(|(_, p)| *p > 0.0)
                .collect();
            funnel.insert(PageKind::ALL[from].name().to_string(), probs);
        }
        funnel
    }
}

/// Each sale's item offsets and the items' quantities.
fn item_qty(batch: &RecordBatch) -> Option<(Vec<i32>, PrimitiveArray<Int32Type>)> {
    let items = batch.column_by_name("items")?.as_list_opt::<i32>()?;
    let qty = items
        .values()
        .as_struct_opt()?
        .column_by_name("qty")?
        .as_primitive_opt::<Int32Type>()?
        .clone();
    Some((items.value_offsets().to_vec(), qty))
}

/// The event files of the lake's manifests, by path, and their injected
/// defects by kind.
fn event_files(manifests: &[Manifest]) -> (BTreeMap<String, FileEntry>, BTreeMap<String, u64>) {
    let mut defects: BTreeMap<String, u64> = BTreeMap::new();
    let mut files: BTreeMap<String, FileEntry> = BTreeMap::new();
    for m in manifests {
        for f in &m.files {
            if (f.domain == "clicks" || f.domain == "sales")
                && files.insert(f.path.clone(), f.clone()).is_none()
            {
                for (k, v) in &f.defects {
                    *defects.entry(k.clone()).or_insert(0) += v;
                }
            }
        }
    }
    (files, defects)
}

/// The run of a Parquet lake: its id, spec and manifests.
fn one_parquet_run(root: &Path) -> Result<(String, DatasetSpec, Vec<Manifest>), Error> {
    let loaded = load_manifests(root)?;
    let run = loaded[0].0.run.clone();
    if let Some((other, _)) = loaded.iter().find(|(m, _)| m.run != run) {
        return Err(Error::usage(format!(
            "{} holds runs {run} and {}: profile one run per folder",
            root.display(),
            other.run
        )));
    }
    let spec = loaded[0].1.clone();
    let manifests: Vec<Manifest> = loaded.into_iter().map(|(m, _)| m).collect();
    if spec.format != Format::Parquet {
        return Err(Error::usage(format!(
            "profile reads Parquet lakes; run {run} is {:?}",
            spec.format
        )));
    }
    Ok((run, spec, manifests))
}

pub(crate) fn profile(root: &Path) -> Result<Profile, Error> {
    let (run, spec, manifests) = one_parquet_run(root)?;
    let world = World::new(&spec);
    let mut hours = LocalHours {
        world: &world,
        cache: HashMap::new(),
    };
    let (files, defects) = event_files(&manifests);
    let mut t = Tally::default();
    for entry in files.values() {
        for batch in read(root, entry)? {
            if entry.domain == "clicks" {
                t.clicks(&batch, &mut hours)?;
            } else {
                t.sales(&batch, &mut hours, &spec.world.fx_per_usd)?;
            }
        }
    }
    let share_of = |counts: &[u64; 24]| {
        let total: u64 = counts.iter().sum();
        counts
            .iter()
            .map(|&c| c as f64 / total.max(1) as f64)
            .collect()
    };
    let mut funnel_config = spec.world.funnel.clone();
    for row in funnel_config.values_mut() {
        let exit = 1.0 - row.values().sum::<f64>();
        row.insert("exit".into(), exit.max(0.0));
    }
    Ok(Profile {
        run,
        clicks: t.clicks,
        sales: t.sales,
        click_hours: share_of(&t.click_hours),
        click_hours_config: normalised(&spec.world.hourly_weights),
        pos_hours: share_of(&t.pos_hours),
        pos_hours_config: normalised(&spec.world.pos_hourly_weights),
        funnel: t.funnel(),
        top_pages: shares(t.pages, t.clicks, 10),
        top_stores: shares(t.stores, t.sales, 10),
        top_campaigns: shares(t.campaigns, t.clicks, 10),
        funnel_config,
        basket_lines: quantiles(t.lines),
        basket_units: quantiles(t.units),
        amount_usd: quantiles(t.amounts),
        defects,
    })
}

impl Profile {
    /// The one-screen text report.
    pub(crate) fn render(&self) -> String {
        let mut s = format!(
            "run {}: {} clicks, {} sales\n\nlocal hour   clicks  (config)      pos  (config)\n",
            self.run, self.clicks, self.sales
        );
        for h in 0..24 {
            s += &format!(
                "{h:02}         {:6.2}%  ({:5.2}%)  {:6.2}%  ({:5.2}%)\n",
                self.click_hours[h] * 100.0,
                self.click_hours_config[h] * 100.0,
                self.pos_hours[h] * 100.0,
                self.pos_hours_config[h] * 100.0
            );
        }
        for (title, list) in [
            ("top pages", &self.top_pages),
            ("top stores (sales)", &self.top_stores),
            ("campaigns (clicks)", &self.top_campaigns),
        ] {
            s += &format!("\n{title}\n");
            for x in list {
                s += &format!(
                    "  {:<40} {:>10} {:6.2}%\n",
                    x.name,
                    x.count,
                    x.share * 100.0
                );
            }
        }
        s += "\nfunnel: next page given page, realised (config)\n";
        for (from, row) in &self.funnel {
            s += &format!("  {from:<9}");
            for (to, p) in row {
                let want = self
                    .funnel_config
                    .get(from)
                    .and_then(|r| r.get(to))
                    .copied()
                    .unwrap_or(0.0);
                s += &format!(" {to} {:.1}% ({:.1}%)", p * 100.0, want * 100.0);
            }
            s += "\n";
        }
        s += "\n                 p50        p90        p99        max\n";
        for (name, q) in [
            ("basket lines", &self.basket_lines),
            ("basket units", &self.basket_units),
            ("amount (USD)", &self.amount_usd),
        ] {
            s += &format!(
                "{name:<13} {:>10.2} {:>10.2} {:>10.2} {:>10.2}\n",
                q.p50, q.p90, q.p99, q.max
            );
        }
        s += "\ninjected defects\n";
        if self.defects.is_empty() {
            s += "  none\n";
        }
        for (k, v) in &self.defects {
            s += &format!("  {k:<18} {v:>10}\n");
        }
        s
    }
}
