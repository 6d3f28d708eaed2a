"""An independent computation of gold and of the BI queries' answers: DuckDB
SQL straight over a clean producer lake (no silver, no Spark), checked
against what the pipeline makes from the dirty lake of the same seed."""

from __future__ import annotations

import datetime
import json
import math
from decimal import Decimal
from pathlib import Path

import duckdb

PAGE_TYPE = """CASE WHEN page = '/' THEN 'home' WHEN page LIKE '/c/%' THEN 'category'
    WHEN page LIKE '/p/%' THEN 'product' WHEN page = '/cart' THEN 'cart'
    WHEN page = '/checkout' THEN 'checkout' WHEN page = '/checkout/confirmation' THEN 'confirmation'
    ELSE 'other' END"""
SOURCE = """coalesce(utm_source, nullif(regexp_extract(referrer, '^https?://(www\\.)?([^/:]+)', 2), ''), 'direct')"""


def fx_of(lake: Path) -> dict[str, float]:
    spec = json.loads((lake / "_manifests" / "_dataset.json").read_text())["spec"]
    return spec["world"]["fx_per_usd"]


# Kinds of dirt that corrupt a record beyond repair: silver quarantines
# them, so the clean lake less these ids is what gold must describe.
MALFORMED = ("null_key", "negative_amount", "unknown_currency", "future_timestamp", "amount_mismatch", "unparseable")


def connect(lake: Path, dirty: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Views over the clean `lake`, less the records the truth of the
    `dirty` lake of the same settings lists as malformed (if given)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    events = "hive_partitioning = false, union_by_name = true"
    kinds = ", ".join(f"'{k}'" for k in MALFORMED)
    for table, key in (("sales", "transaction_id"), ("clicks", "event_id")):
        read = f"SELECT * FROM read_parquet('{lake}/{table}/**/*.parquet', {events})"
        if dirty is not None:
            truth = f"read_csv('{dirty}/_truth/{table}/**/*.csv', header = true, columns = {{'id': 'BIGINT', 'kind': 'VARCHAR'}})"
            read += f" WHERE {key} NOT IN (SELECT id FROM {truth} WHERE kind IN ({kinds}))"
        con.execute(f"CREATE VIEW {table}_read AS {read}")
    # Clicks v2's device columns, null where only v1 was written.
    have = {r[0] for r in con.execute("DESCRIBE clicks_read").fetchall()}
    added = "".join(f", NULL AS {c}" for c in ("device_type", "os", "app_version") if c not in have)
    con.execute("CREATE VIEW sales AS SELECT * FROM sales_read")
    con.execute(f"CREATE VIEW clicks AS SELECT *{added} FROM clicks_read")
    for snap in ("stores", "users"):
        con.execute(
            f"CREATE VIEW {snap}_all AS SELECT * FROM read_parquet('{lake}/{snap}/**/*.parquet', hive_partitioning = true)"
        )
        con.execute(
            f"CREATE VIEW {snap} AS SELECT * EXCLUDE (snapshot_date), CAST(snapshot_date AS DATE) AS snapshot_date "
            f"FROM {snap}_all WHERE snapshot_date = (SELECT max(snapshot_date) FROM {snap}_all)"
        )
    con.execute("CREATE TABLE fx (currency VARCHAR, per_usd DOUBLE)")
    con.executemany("INSERT INTO fx VALUES (?, ?)", sorted(fx_of(lake).items()))
    con.execute(
        f"""CREATE VIEW click_rows AS SELECT CAST(ts AS DATE) AS activity_date, hour(ts) AS activity_hour,
        {PAGE_TYPE} AS page_type, coalesce(device_type, 'unknown') AS device_type, {SOURCE} AS traffic_source,
        coalesce(utm_campaign, '(none)') AS utm_campaign, session_id, user_id FROM clicks"""
    )
    con.execute(
        """CREATE VIEW session_days AS SELECT activity_date, session_id,
        min(traffic_source) AS traffic_source, min(utm_campaign) AS utm_campaign, min(device_type) AS device_type,
        1 AS s1, max(CAST(page_type = 'product' AS INT)) AS s2, max(CAST(page_type = 'cart' AS INT)) AS s3,
        max(CAST(page_type = 'checkout' AS INT)) AS s4, max(CAST(page_type = 'confirmation' AS INT)) AS s5
        FROM click_rows GROUP BY ALL"""
    )
    return con


GOLD = {
    "fct_sales": """
        SELECT CAST(ts AS DATE) AS sale_date, transaction_id, pos AS line_number, CAST(ts AS TIMESTAMP) AS ts,
            store_id, user_id, session_id, channel, payment_type, currency, item.sku AS sku, item.qty AS qty,
            item.unit_price AS unit_price, CAST(item.qty * item.unit_price AS DECIMAL(18, 2)) AS line_amount,
            CAST(item.qty * item.unit_price AS DOUBLE) / per_usd AS line_amount_usd
        FROM (SELECT *, unnest(items) AS item, generate_subscripts(items, 1) AS pos FROM sales) JOIN fx USING (currency)
        ORDER BY transaction_id, line_number""",
    "sales_by_store": """
        SELECT sale_date, store_id, currency, transactions, items, gross_local,
            CAST(gross_local AS DOUBLE) / per_usd AS gross_usd, CAST(gross_local AS DOUBLE) / transactions
        FROM (SELECT CAST(ts AS DATE) AS sale_date, store_id, currency, count(*) AS transactions,
                sum(list_sum([i.qty FOR i IN items])) AS items, CAST(sum(amount) AS DECIMAL(18, 2)) AS gross_local
            FROM sales GROUP BY ALL) JOIN fx USING (currency)
        ORDER BY sale_date, store_id, currency""",
    "fct_clicks_agg": """
        SELECT activity_date, activity_hour, page_type, device_type, traffic_source, utm_campaign,
            count(*) AS clicks, count(DISTINCT session_id) AS sessions, count(DISTINCT user_id) AS users
        FROM click_rows GROUP BY ALL ORDER BY ALL""",
    "conversion_rates": """
        WITH c AS (SELECT activity_date, traffic_source, utm_campaign, device_type,
                sum(s1) AS s1, sum(s2) AS s2, sum(s3) AS s3, sum(s4) AS s4, sum(s5) AS s5
            FROM session_days GROUP BY ALL),
        steps AS (
            SELECT *, 1 AS step_number, 'visit' AS step, s1 AS sessions, NULL AS prev FROM c
            UNION ALL SELECT *, 2, 'product', s2, s1 FROM c
            UNION ALL SELECT *, 3, 'cart', s3, s2 FROM c
            UNION ALL SELECT *, 4, 'checkout', s4, s3 FROM c
            UNION ALL SELECT *, 5, 'purchase', s5, s4 FROM c)
        SELECT activity_date, traffic_source, utm_campaign, device_type, step_number, step, sessions,
            CAST(sessions AS DOUBLE) / s1, CASE WHEN prev > 0 THEN CAST(sessions AS DOUBLE) / prev END
        FROM steps ORDER BY activity_date, traffic_source, utm_campaign, device_type, step_number""",
    "dim_store": """
        SELECT store_id, store_name, store_type, country, city, currency, timezone, opened_on, closed_on,
            snapshot_date FROM stores ORDER BY store_id""",
    "dim_user_current": """
        SELECT user_id, signup_date, first_name, last_name, email, country, city, loyalty_tier,
            preferred_device, effective_from, snapshot_date FROM users WHERE is_current ORDER BY user_id""",
}


def black_friday(year: int) -> datetime.date:
    nov1 = datetime.date(year, 11, 1)
    first_thursday = nov1 + datetime.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + datetime.timedelta(days=22)


def bi(con, name: str) -> list[tuple]:
    """The answer to BI query `name` (its file's stem without the number)."""
    if name == "black_friday_uplift":
        years = [r[0] for r in con.execute("SELECT DISTINCT year(ts) FROM sales ORDER BY 1").fetchall()]
        rows = []
        for year in years:
            bf = black_friday(year)
            daily = con.execute(
                """SELECT CAST(ts AS DATE) AS d, sum(CAST(amount AS DOUBLE) / per_usd) FROM sales JOIN fx USING (currency)
                WHERE CAST(ts AS DATE) BETWEEN ? AND ? GROUP BY 1""",
                [bf - datetime.timedelta(days=7), bf],
            ).fetchall()
            by_day = dict(daily)
            if bf not in by_day:
                continue
            prior = [v for d, v in by_day.items() if d < bf]
            mean = sum(prior) / len(prior) if prior else None
            rows.append((bf, by_day[bf], mean, by_day[bf] / mean if mean else None))
        return rows
    return con.execute(BI[name]).fetchall()


BI = {
    "daily_revenue_by_store_and_country": """
        SELECT CAST(s.ts AS DATE) AS d, st.country, s.store_id, st.store_name, count(*),
            CAST(sum(s.amount) AS DECIMAL(18, 2)), sum(CAST(s.amount AS DOUBLE) / per_usd)
        FROM sales s JOIN stores st USING (store_id) JOIN fx ON fx.currency = s.currency
        GROUP BY ALL ORDER BY d, st.country, s.store_id""",
    "conversion_funnel_by_campaign": """
        WITH c AS (SELECT utm_campaign, sum(s1) AS s1, sum(s2) AS s2, sum(s3) AS s3, sum(s4) AS s4, sum(s5) AS s5
            FROM session_days GROUP BY ALL)
        SELECT utm_campaign, n, step, sessions, CAST(sessions AS DOUBLE) / s1 FROM (
            SELECT utm_campaign, 1 AS n, 'visit' AS step, s1 AS sessions, s1 FROM c
            UNION ALL SELECT utm_campaign, 2, 'product', s2, s1 FROM c
            UNION ALL SELECT utm_campaign, 3, 'cart', s3, s1 FROM c
            UNION ALL SELECT utm_campaign, 4, 'checkout', s4, s1 FROM c
            UNION ALL SELECT utm_campaign, 5, 'purchase', s5, s1 FROM c) ORDER BY utm_campaign, n""",
    "top_products": """
        SELECT item.sku, sum(item.qty), count(DISTINCT transaction_id) AS t,
            sum(CAST(item.qty * item.unit_price AS DOUBLE) / per_usd) AS revenue
        FROM (SELECT *, unnest(items) AS item FROM sales) JOIN fx USING (currency)
        GROUP BY 1 ORDER BY revenue DESC, 1 LIMIT 20""",
    "basket_size_distribution": """
        SELECT channel, len(items) AS n, count(*), avg(CAST(list_sum([i.qty FOR i IN items]) AS DOUBLE))
        FROM sales GROUP BY ALL ORDER BY channel, n""",
    "new_vs_returning_buyers": """
        WITH b AS (SELECT user_id, CAST(ts AS DATE) AS d, sum(CAST(amount AS DOUBLE) / per_usd) AS r
            FROM sales JOIN fx USING (currency) WHERE user_id IS NOT NULL GROUP BY ALL),
        f AS (SELECT user_id, min(d) AS first FROM b GROUP BY 1)
        SELECT d, CASE WHEN d = first THEN 'new' ELSE 'returning' END AS kind, count(*), sum(r)
        FROM b JOIN f USING (user_id) GROUP BY ALL ORDER BY d, kind""",
    "hour_of_day_curve": """
        WITH s AS (SELECT hour(ts) AS h, count(*) AS t, sum(CAST(amount AS DOUBLE) / per_usd) AS r
                FROM sales JOIN fx USING (currency) GROUP BY 1),
            c AS (SELECT hour(ts) AS h, count(*) AS k FROM clicks GROUP BY 1)
        SELECT coalesce(s.h, c.h) AS h, coalesce(k, 0), coalesce(t, 0), coalesce(r, 0)
        FROM s FULL JOIN c ON s.h = c.h ORDER BY h""",
    "fx_normalised_revenue": """
        SELECT d, currency, local, usd, usd / sum(usd) OVER (PARTITION BY d) FROM (
            SELECT CAST(ts AS DATE) AS d, currency, CAST(sum(amount) AS DECIMAL(18, 2)) AS local,
                sum(CAST(amount AS DOUBLE) / per_usd) AS usd
            FROM sales JOIN fx USING (currency) GROUP BY ALL) ORDER BY d, currency""",
}


def same(a, b, rel: float = 1e-9) -> bool:
    """Values equal: floats within `rel` relatively, everything else exactly."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-9)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


def first_difference(got: list[tuple], want: list[tuple]) -> str | None:
    """None when the row lists are the same, else where they first differ."""
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if len(g) != len(w) or not all(same(x, y) for x, y in zip(g, w)):
            return f"row {i}: {g} != {w}"
    return None
