"""World fidelity, measured the way a reader sees it: local-time curves across
DST, Zipf popularity, funnel, Black Friday, SCD2 users, stores, campaigns, money."""

import json
import math
import subprocess
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from marketpulse_testkit import generate, load_manifest

SEARCH = {"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"}
SOCIAL = {
    "https://www.facebook.com/",
    "https://www.instagram.com/",
    "https://www.tiktok.com/",
    "https://t.co/",
    "https://www.pinterest.com/",
    "https://www.youtube.com/",
}


def views(con, lake, tables):
    for t in tables:
        con.execute(
            f"create view {t} as select * from read_parquet('{lake}/{t}/*/**/*.parquet', hive_partitioning = true)"
        )
    return con


def country_tz(con):
    return dict(con.execute("select distinct country, timezone from stores").fetchall())


def clicks_per_country_hour(con):
    """Clicks per (country, UTC hour start) via the users' country."""
    rows = con.execute(
        """
        with u as (select distinct user_id, country from users where is_current)
        select u.country, date_trunc('hour', c.ts at time zone 'UTC') as h, count(*)
        from clicks c join u using (user_id) group by all
        """
    ).fetchall()
    counts = defaultdict(dict)
    for country, hour, n in rows:
        counts[country][hour.replace(tzinfo=UTC)] = n
    return counts


def curve_at(curve, local):
    frac = local.minute / 60
    return (1 - frac) * curve[local.hour] + frac * curve[(local.hour + 1) % 24]


def local_days(tz, first_utc, last_utc):
    """Local dates whose every hour lies in [first_utc, last_utc], with those UTC hours."""
    by_date = defaultdict(list)
    h = first_utc - timedelta(days=1)
    while h <= last_utc + timedelta(days=1):
        by_date[h.astimezone(tz).date()].append(h)
        h += timedelta(hours=1)
    return {d: hs for d, hs in by_date.items() if hs[0] >= first_utc and hs[-1] <= last_utc}


# --- seasonality -------------------------------------------------------------

DST_WINDOWS = {
    "us-spring": "2025-03-08",  # US clocks go forward on 9 March
    "eu-spring": "2025-03-29",  # EU on 30 March
    "eu-autumn": "2025-10-25",  # EU back on 26 October
    "us-autumn": "2025-11-01",  # US back on 2 November
}


@pytest.fixture(scope="module", params=sorted(DST_WINDOWS))
def dst_lake(request, binary, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"dst-{request.param}")
    start = DST_WINDOWS[request.param]
    generate(binary, out, "--scale", "0.01", "--days", "3", "--start", start, "--domains", "users,stores,clicks")
    return out, date.fromisoformat(start)


def test_each_local_hour_follows_the_curve_across_dst(dst_lake):
    lake, start = dst_lake
    spec = load_manifest(lake)["spec"]
    curve = spec["world"]["hourly_weights"]
    con = views(duckdb.connect(), lake, ["users", "stores", "clicks"])
    counts = clicks_per_country_hour(con)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    last = first + timedelta(days=3) - timedelta(hours=1)
    checked = 0
    worst = 0.0
    hour_counts = {}
    for country, tzname in country_tz(con).items():
        tz = ZoneInfo(tzname)
        for day, hours in local_days(tz, first, last).items():
            weights = [curve_at(curve, h.astimezone(tz)) for h in hours]
            got = [counts[country].get(h, 0) for h in hours]
            total = sum(got)
            assert total > 1000, (country, day)
            for w, n in zip(weights, got):
                diff = abs(n / total - w / sum(weights))
                worst = max(worst, diff)
                assert diff <= 0.02, (country, day, diff)
            hour_counts[(country, day)] = len(hours)
            checked += 1
    assert checked >= 10
    assert worst < 0.02
    # The clock change shows in local hours: 23 on the spring day, 25 in autumn.
    expected = {
        "us-spring": ("US", date(2025, 3, 9), 23),
        "eu-spring": ("DE", date(2025, 3, 30), 23),
        "eu-autumn": ("FR", date(2025, 10, 26), 25),
        "us-autumn": ("CA", date(2025, 11, 2), 25),
    }
    for country, day, n in [v for k, v in expected.items() if DST_WINDOWS[k] == start.isoformat()]:
        assert hour_counts[(country, day)] == n


@pytest.fixture(scope="module")
def black_friday_lake(binary, tmp_path_factory):
    out = tmp_path_factory.mktemp("black-friday")
    # Local Fridays 21 and 28 November 2025 in every time zone.
    return generate(binary, out, "--scale", "0.01", "--days", "10", "--start", "2025-11-20", "--domains", "users,stores,clicks")


def test_black_friday_is_the_configured_multiple_of_a_normal_friday(black_friday_lake):
    spec = load_manifest(black_friday_lake)["spec"]["world"]
    con = views(duckdb.connect(), black_friday_lake, ["users", "stores", "clicks"])
    counts = clicks_per_country_hour(con)
    # Both Fridays run the same campaigns; growth adds a week's compounding.
    expected = spec["black_friday_multiplier"] * (1 + spec["daily_growth"]) ** 7
    for country, tzname in country_tz(con).items():
        tz = ZoneInfo(tzname)
        per_day = defaultdict(int)
        for h, n in counts[country].items():
            per_day[h.astimezone(tz).date()] += n
        ratio = per_day[date(2025, 11, 28)] / per_day[date(2025, 11, 21)]
        assert abs(ratio / expected - 1) <= 0.02, (country, ratio, expected)


def test_growth_and_weekdays_shape_daily_volume(black_friday_lake):
    spec = load_manifest(black_friday_lake)["spec"]["world"]
    con = views(duckdb.connect(), black_friday_lake, ["users", "stores", "clicks"])
    counts = clicks_per_country_hour(con)
    tz = ZoneInfo("America/New_York")
    per_day = defaultdict(int)
    for h, n in counts["US"].items():
        per_day[h.astimezone(tz).date()] += n
    # Saturday 22 vs Monday 24 November: weekday multipliers times two days' growth.
    sat, mon = per_day[date(2025, 11, 22)], per_day[date(2025, 11, 24)]
    want = spec["weekday_multipliers"][0] / spec["weekday_multipliers"][5] * (1 + spec["daily_growth"]) ** 2
    assert abs(mon / sat / want - 1) <= 0.02


# --- popularity, funnel, money -----------------------------------------------


@pytest.fixture(scope="module")
def big_lake(binary, tmp_path_factory):
    out = tmp_path_factory.mktemp("big")
    return generate(binary, out, "--scale", "0.2", "--domains", "stores,sales,clicks")


@pytest.fixture(scope="module")
def big(big_lake):
    return views(duckdb.connect(), big_lake, ["stores", "sales", "clicks"])


def zipf_mle(counts, support):
    """Exponent s maximising the likelihood of `counts` (rank -> n) under
    P(k) proportional to k^-s over the ranks in `support`."""
    logs = {k: math.log(k) for k in support}
    total = sum(counts.values())
    weighted = sum(n * logs[k] for k, n in counts.items())

    def loglik(s):
        return -s * weighted - total * math.log(sum(math.exp(-s * logs[k]) for k in support))

    lo, hi = 0.05, 3.0
    for _ in range(60):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if loglik(a) < loglik(b):
            lo = a
        else:
            hi = b
    return (lo + hi) / 2


def test_product_popularity_recovers_the_zipf_exponent(big, big_lake):
    w = load_manifest(big_lake)["spec"]["world"]
    rows = big.execute(
        "select cast(substr(page, 8) as integer) + 1 as rank, count(*) from clicks where page like '/p/SKU-%' group by 1"
    ).fetchall()
    s = zipf_mle(dict(rows), range(1, w["products"] + 1))
    assert abs(s - w["zipf_products"]) <= 0.05, s


def test_store_popularity_recovers_the_zipf_exponent(big, big_lake):
    w = load_manifest(big_lake)["spec"]["world"]
    # Store ids are popularity ranks; closed stores drop out of the support.
    open_ids = [
        i
        for (i,) in big.execute(
            "select store_id from stores where store_type = 'physical' and (closed_on is null or closed_on > snapshot_date)"
        ).fetchall()
    ]
    rows = big.execute("select store_id + 1, count(*) from sales where channel = 'pos' group by 1").fetchall()
    counts = dict(rows)
    assert set(counts) <= {i + 1 for i in open_ids}
    s = zipf_mle(counts, [i + 1 for i in open_ids])
    assert abs(s - w["zipf_stores"]) <= 0.05, s


KIND = """case when page = '/' then 'home' when page like '/c/%' then 'category'
  when page like '/p/%' then 'product' when page = '/cart' then 'cart'
  when page = '/checkout' then 'checkout' else 'confirmation' end"""


def test_each_funnel_step_converts_as_configured(big, big_lake):
    funnel = load_manifest(big_lake)["spec"]["world"]["funnel"]
    rows = big.execute(
        f"""
        with k as (select session_id, event_id, {KIND} as kind from clicks),
        t as (select kind, coalesce(lead(kind) over (partition by session_id order by event_id), 'exit') as nxt from k)
        select kind, nxt, count(*) from t group by all
        """
    ).fetchall()
    seen = defaultdict(dict)
    for kind, nxt, n in rows:
        seen[kind][nxt] = n
    for kind, probs in funnel.items():
        total = sum(seen[kind].values())
        assert total > 20_000, kind
        want = dict(probs, exit=1 - sum(probs.values()))
        for nxt in set(want) | set(seen[kind]):
            got = seen[kind].get(nxt, 0) / total
            assert abs(got - want.get(nxt, 0)) <= 0.01, (kind, nxt, got, want.get(nxt, 0))


def test_referrers_agree_with_utm_medium(big, black_friday_lake):
    bf = views(duckdb.connect(), black_friday_lake, ["clicks"])
    media = set()
    for con in (big, bf):
        rows = con.execute("select utm_medium, referrer, count(*) from clicks group by all").fetchall()
        media |= {m for m, _, _ in rows}
        for medium, referrer, _ in rows:
            if medium == "cpc":
                assert referrer in SEARCH
            elif medium == "social":
                assert referrer in SOCIAL
            elif medium == "email":
                assert referrer is None
            elif medium == "affiliate":
                assert referrer.startswith("https://www.")
        # Paid search keeps a keyword; other media have none.
        assert con.execute("select count(*) from clicks where (utm_medium = 'cpc') <> (utm_term is not null)").fetchone()[0] == 0
    assert {None, "cpc", "social", "email", "affiliate"} <= media


def test_campaigns_run_only_between_their_dates(black_friday_lake):
    spec = load_manifest(black_friday_lake)["spec"]["world"]
    con = views(duckdb.connect(), black_friday_lake, ["clicks"])
    windows = {c["name"]: c for c in spec["campaigns"]}
    rows = con.execute(
        "select utm_campaign, min(ts at time zone 'UTC'), max(ts at time zone 'UTC'), count(*) from clicks where utm_campaign is not null group by 1"
    ).fetchall()
    names = {r[0] for r in rows}
    assert "black_friday_2025" in names and "spring_sale_2025" not in names
    for name, first, last, _ in rows:
        c = windows[name]
        # Campaign days are local days: allow the widest time-zone offset.
        assert first.date() >= date.fromisoformat(c["start"]) - timedelta(days=1)
        if c.get("end"):
            assert last.date() <= date.fromisoformat(c["end"]) + timedelta(days=1)
    # Holiday campaign (from 2 December) is not live in this window at all.
    assert "holiday_2025" not in names


def test_prices_follow_the_fx_table(big, big_lake):
    fx = load_manifest(big_lake)["spec"]["world"]["fx_per_usd"]
    rows = big.execute(
        """
        select i.sku, s.currency, min(i.unit_price), max(i.unit_price)
        from sales s, unnest(s.items) t(i) group by all
        """
    ).fetchall()
    prices = defaultdict(dict)
    for sku, cur, lo, hi in rows:
        assert lo == hi, (sku, cur)  # one list price per currency
        prices[sku][cur] = round(lo * 100)
    checked = 0
    for sku, by_cur in prices.items():
        if "USD" not in by_cur:
            continue
        for cur, cents in by_cur.items():
            # Rust rounds half away from zero.
            assert cents == max(1, math.floor(by_cur["USD"] * fx[cur] + 0.5)), (sku, cur)
            checked += 1
    assert checked > 1000
    # Every sale is in its store's currency.
    wrong = big.execute(
        "select count(*) from sales s join stores st using (store_id) where st.currency <> s.currency"
    ).fetchone()[0]
    assert wrong == 0


def test_payment_mix_is_set_per_country(big, big_lake):
    mixes = load_manifest(big_lake)["spec"]["world"]["payment_mix"]
    rows = big.execute(
        """
        select st.country, s.channel, s.payment_type, count(*)
        from sales s join stores st using (store_id) group by all
        """
    ).fetchall()
    counts = defaultdict(lambda: defaultdict(int))
    for country, channel, payment, n in rows:
        counts[(country, channel)][payment] += n
    checked = set()
    for (country, channel), by_type in counts.items():
        total = sum(by_type.values())
        if total < 3000:
            continue
        want = mixes.get(country, mixes["default"])[channel]
        norm = sum(want.values())
        for payment in set(want) | set(by_type):
            got = by_type.get(payment, 0) / total
            assert abs(got - want.get(payment, 0) / norm) <= 0.02, (country, channel, payment)
        checked.add(country)
    assert {"US", "DE"} <= checked  # a default-mix and a configured country


def test_stores_sell_only_while_open(big, binary, tmp_path):
    assert big.execute("select count(*) from stores where closed_on is not null").fetchone()[0] > 0
    assert big.execute("select count(*) from stores where opened_on > snapshot_date").fetchone()[0] == 0
    closed_sales = big.execute(
        """
        select count(*) from sales s join stores st using (store_id)
        where s.channel = 'pos' and (st.closed_on <= s.ingest_date or st.opened_on > s.ingest_date)
        """
    ).fetchone()[0]
    assert closed_sales == 0
    # A store that opens later appears in the snapshot of its opening day.
    out = generate(binary, tmp_path / "stores", "--days", "400", "--start", "2025-06-01", "--domains", "stores")
    con = views(duckdb.connect(), out, ["stores"])
    opened = con.execute(
        "select count(*) from stores where opened_on = snapshot_date and opened_on > date '2025-06-01'"
    ).fetchone()[0]
    assert opened > 0
    counts = [n for (n,) in con.execute("select count(*) from stores group by snapshot_date order by snapshot_date").fetchall()]
    assert counts == sorted(counts) and counts[-1] > counts[0]


# --- slowly changing users ---------------------------------------------------


@pytest.fixture(scope="module")
def scd_lake(binary, tmp_path_factory):
    out = tmp_path_factory.mktemp("scd2")
    # Frequent changes so consecutive snapshots differ.
    config = "[world]\ntier_changes_per_year = 6.0\ncity_moves_per_year = 3.0\n"
    return generate(binary, out, "--scale", "0.01", "--days", "3", "--domains", "users", config=config)


def test_scd2_one_current_row_per_user_and_no_overlaps(scd_lake):
    con = views(duckdb.connect(), scd_lake, ["users"])
    per_snapshot = con.execute(
        "select snapshot_date, count(distinct user_id), count(*) filter (where is_current) from users group by 1"
    ).fetchall()
    assert len(per_snapshot) == 3
    for _, users, current in per_snapshot:
        assert users == current == 10_000
    overlaps = con.execute(
        """
        with v as (select snapshot_date, user_id, effective_from, effective_to,
                          lead(effective_from) over (partition by snapshot_date, user_id order by effective_from) as next_from
                   from users)
        select count(*) from v
        where (next_from is not null and effective_to <> next_from)
           or (next_from is null and effective_to is not null)
           or effective_to <= effective_from
        """
    ).fetchone()[0]
    assert overlaps == 0
    bad_current = con.execute(
        "select count(*) from users where is_current <> (effective_to is null) or effective_from > snapshot_date"
    ).fetchone()[0]
    assert bad_current == 0
    first_is_signup = con.execute(
        """
        select count(*) from (select user_id, snapshot_date, min(effective_from) f, any_value(signup_date) s
                              from users group by all) where f <> s
        """
    ).fetchone()[0]
    assert first_is_signup == 0
    # Both kinds of change happen, between versions of the same user.
    changes = con.execute(
        """
        with v as (select user_id, city, loyalty_tier,
                          lag(city) over w as prev_city, lag(loyalty_tier) over w as prev_tier
                   from users where snapshot_date = (select max(snapshot_date) from users)
                   window w as (partition by user_id order by effective_from))
        select count(*) filter (where city <> prev_city), count(*) filter (where loyalty_tier <> prev_tier),
               count(*) filter (where city <> prev_city and loyalty_tier <> prev_tier)
        from v where prev_city is not null
        """
    ).fetchone()
    assert changes[0] > 1000 and changes[1] > 1000 and changes[2] == 0


def test_each_snapshot_agrees_with_the_latest_history(scd_lake):
    con = views(duckdb.connect(), scd_lake, ["users"])
    snapshots = [d for (d,) in con.execute("select distinct snapshot_date from users order by 1").fetchall()]
    last = snapshots[-1]
    new_versions = 0
    for day in snapshots[:-1]:
        # The current rows of day D are the versions of the last history valid on D.
        diff = con.execute(
            """
            with cur as (select user_id, city, loyalty_tier, effective_from from users
                         where snapshot_date = $day and is_current),
            hist as (select user_id, city, loyalty_tier, effective_from from users
                     where snapshot_date = $last and effective_from <= $day
                       and (effective_to is null or effective_to > $day))
            select (select count(*) from (select * from cur except select * from hist))
                 + (select count(*) from (select * from hist except select * from cur))
            """,
            {"day": day, "last": last},
        ).fetchone()[0]
        assert diff == 0, day
        # History before D is the same in both snapshots, apart from closing the current version.
        changed = con.execute(
            """
            select count(*) from (
              select user_id, effective_from, city, loyalty_tier from users where snapshot_date = $day
              except
              select user_id, effective_from, city, loyalty_tier from users where snapshot_date = $last)
            """,
            {"day": day, "last": last},
        ).fetchone()[0]
        assert changed == 0, day
        new_versions += con.execute(
            "select count(*) from users where snapshot_date = $last and effective_from > $day",
            {"day": day, "last": last},
        ).fetchone()[0]
    assert new_versions > 0


def test_profile_shows_the_realised_world(big_lake, binary):

    run = subprocess.run([binary, "profile", "--json", big_lake], capture_output=True, text=True, check=True)
    p = json.loads(run.stdout)
    assert p["top_pages"][0]["name"] == "/"
    assert len(p["click_hours"]) == 24 and abs(sum(p["click_hours"]) - 1) < 1e-9
    for kind, probs in p["funnel_config"].items():
        for nxt, want in probs.items():
            assert abs(p["funnel"][kind].get(nxt, 0) - want) <= 0.01, (kind, nxt)
    assert p["basket_lines"]["p50"] >= 1 and p["amount_usd"]["max"] > p["amount_usd"]["p50"] > 0
    assert p["defects"] == {}
