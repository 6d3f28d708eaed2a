"""Readers other than the producer open every file, and the data holds together."""

import json
from collections import Counter

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from marketpulse_testkit import REPO

ARROW_TYPES = {
    "int32": "int32",
    "int64": "int64",
    "date": "date32[day]",
    "timestamp_us_utc": "timestamp[us, tz=UTC]",
    "bool": "bool",
    "decimal(12,2)": "decimal128(12, 2)",
}


def test_manifest_lists_every_file_with_rows(lake, manifest):
    assert manifest["complete"] is True
    assert manifest["spec"]["seed"] == 42
    domains = Counter(f["domain"] for f in manifest["files"])
    assert set(domains) == {"users", "stores", "sales", "clicks"}
    # Two days: snapshots per day, 24 hourly partitions of events per day.
    assert domains["stores"] == 2
    assert domains["clicks"] == 48


def test_pyarrow_reads_every_file_with_manifest_row_counts(lake, manifest):
    for f in manifest["files"]:
        table = pq.read_table(lake / f["path"])
        assert table.num_rows == f["rows"], f["path"]
        meta = pq.ParquetFile(lake / f["path"]).metadata
        assert meta.created_by == "marketpulse contract v3"
        assert meta.num_row_groups == 1


def test_duckdb_reads_every_file_with_manifest_row_counts(lake, manifest):
    con = duckdb.connect()
    for f in manifest["files"]:
        (n,) = con.execute("select count(*) from read_parquet(?)", [str(lake / f["path"])]).fetchone()
        assert n == f["rows"], f["path"]


SCHEMA_FILES = {"users": "users.v2", "stores": "stores.v1", "sales": "sales.v1", "clicks": "clicks.v1"}


def test_columns_match_schema_files(lake):
    for table, name in SCHEMA_FILES.items():
        spec = json.loads((REPO / "schemas" / f"{name}.json").read_text())
        schema = ds.dataset(lake / table, format="parquet").schema
        assert schema.names == [c["name"] for c in spec["columns"]], table
        for col in spec["columns"]:
            field = schema.field(col["name"])
            assert field.nullable == col["nullable"], (table, col["name"])
            if col["type"] in ARROW_TYPES:
                assert str(field.type) == ARROW_TYPES[col["type"]], (table, col["name"])
            if col["type"] == "string":
                assert "string" in str(field.type), (table, col["name"])


@pytest.fixture(scope="module")
def db(lake):
    con = duckdb.connect()
    for table in ["users", "stores", "sales", "clicks"]:
        con.execute(
            f"create view {table} as select * from read_parquet('{lake}/{table}/*/**/*.parquet', hive_partitioning = true)"
        )
    return con


def one(db, sql):
    return db.execute(sql).fetchone()[0]


def test_referential_integrity(db):
    assert one(db, "select count(*) from clicks where user_id not in (select user_id from users)") == 0
    assert one(db, "select count(*) from sales where user_id is not null and user_id not in (select user_id from users)") == 0
    assert one(db, "select count(*) from sales where store_id not in (select store_id from stores)") == 0
    # Every snapshot day holds every user once as current, and every store once.
    assert one(db, "select count(*) from (select snapshot_date, user_id from users where is_current group by all having count(*) > 1)") == 0
    assert one(db, "select count(distinct user_id) from users") == one(db, "select count(*) from users where is_current") // 2
    assert one(db, "select count(*) from (select snapshot_date, store_id from stores group by all having count(*) > 1)") == 0
    assert one(db, "select count(distinct snapshot_date) from stores") == 2


def test_ids_are_unique(db):
    assert one(db, "select count(*) - count(distinct event_id) from clicks") == 0
    assert one(db, "select count(*) - count(distinct transaction_id) from sales") == 0
    # Scale 0.01 is 50,000 clicks a day; seasonality only adds.
    per_day = db.execute("select count(*) from clicks group by ingest_date").fetchall()
    assert len(per_day) == 2 and all(50_000 <= n <= 60_000 for (n,) in per_day), per_day


def test_online_sales_follow_a_confirmation_click(db):
    online = one(db, "select count(*) from sales where channel = 'online'")
    assert online > 100
    matched = one(
        db,
        """
        select count(*) from sales s
        join clicks c on c.session_id = s.session_id and c.user_id = s.user_id
        where s.channel = 'online' and c.page = '/checkout/confirmation' and s.ts > c.ts
        """,
    )
    assert matched == online
    # Online sales go to the storefront of the buyer's country, in its currency.
    wrong = one(
        db,
        """
        select count(*) from sales s
        join users u on u.user_id = s.user_id and u.snapshot_date = s.ingest_date and u.is_current
        join stores st on st.store_id = s.store_id and st.snapshot_date = s.ingest_date
        where s.channel = 'online' and (st.store_type <> 'online' or st.country <> u.country or st.currency <> s.currency)
        """,
    )
    assert wrong == 0


def test_pos_sales_are_in_physical_stores_in_local_currency(db):
    wrong = one(
        db,
        """
        select count(*) from sales s join stores st on st.store_id = s.store_id and st.snapshot_date = s.ingest_date
        where s.channel = 'pos' and (st.store_type <> 'physical' or st.currency <> s.currency or s.session_id is not null)
        """,
    )
    assert wrong == 0
    per_day = db.execute("select count(*) from sales where channel = 'pos' group by ingest_date").fetchall()
    assert len(per_day) == 2 and all(4_000 <= n <= 4_800 for (n,) in per_day), per_day


def test_amount_is_sum_of_items(db):
    bad = one(
        db,
        "select count(*) from sales where amount <> (select sum(i.qty * i.unit_price) from unnest(items) t(i)) or len(items) = 0",
    )
    assert bad == 0


def test_events_land_in_their_partition_hour(db):
    bad = one(
        db,
        """
        select count(*) from clicks
        where cast(ts at time zone 'UTC' as date) <> ingest_date or hour(ts at time zone 'UTC') <> hour
        """,
    )
    assert bad == 0


def test_sessions_walk_the_funnel_in_order(db):
    # Cart, checkout and confirmation views are preceded in their session by the step before.
    skipped = one(
        db,
        """
        with steps as (
          select session_id, ts,
                 case page when '/cart' then 3 when '/checkout' then 4 when '/checkout/confirmation' then 5 end as step
          from clicks)
        select count(*) from steps a
        where a.step in (4, 5) and not exists (
          select 1 from steps b where b.session_id = a.session_id and b.step = a.step - 1 and b.ts < a.ts)
        """,
    )
    assert skipped == 0
