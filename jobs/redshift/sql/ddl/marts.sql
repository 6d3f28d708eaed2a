-- Redshift marts over gold (schemas/gold/*.json; a test checks every column,
-- type and NOT NULL against it, in the same order: COPY from Parquet maps
-- columns by position). Why these distribution and sort keys:
-- docs/decisions/ADR-007-redshift-marts.md.

CREATE SCHEMA IF NOT EXISTS marts;

-- About 200 rows: a copy on every node, so every join to it is local.
CREATE TABLE IF NOT EXISTS marts.dim_store (
    store_id INTEGER NOT NULL ENCODE RAW,
    store_name VARCHAR(128) NOT NULL ENCODE ZSTD,
    store_type VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    country VARCHAR(2) NOT NULL ENCODE BYTEDICT,
    city VARCHAR(64) ENCODE ZSTD,
    currency VARCHAR(3) NOT NULL ENCODE BYTEDICT,
    timezone VARCHAR(64) NOT NULL ENCODE BYTEDICT,
    opened_on DATE NOT NULL ENCODE AZ64,
    closed_on DATE ENCODE AZ64,
    snapshot_date DATE NOT NULL ENCODE AZ64,
    PRIMARY KEY (store_id)
)
DISTSTYLE ALL
SORTKEY (store_id);

-- A million users at scale 1: distributed on the key the sales facts use.
CREATE TABLE IF NOT EXISTS marts.dim_user_current (
    user_id BIGINT NOT NULL ENCODE RAW,
    signup_date DATE NOT NULL ENCODE AZ64,
    first_name VARCHAR(64) NOT NULL ENCODE ZSTD,
    last_name VARCHAR(64) NOT NULL ENCODE ZSTD,
    email VARCHAR(256) NOT NULL ENCODE ZSTD,
    country VARCHAR(2) NOT NULL ENCODE BYTEDICT,
    city VARCHAR(64) NOT NULL ENCODE ZSTD,
    loyalty_tier VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    preferred_device VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    effective_from DATE NOT NULL ENCODE AZ64,
    snapshot_date DATE NOT NULL ENCODE AZ64,
    PRIMARY KEY (user_id)
)
DISTKEY (user_id)
SORTKEY (user_id);

-- The largest table (one row per basket line): distributed on the sale, so
-- a basket's lines are on one slice; sorted by day, which every query
-- filters on, then store.
CREATE TABLE IF NOT EXISTS marts.fct_sales (
    sale_date DATE NOT NULL ENCODE RAW,
    transaction_id BIGINT NOT NULL ENCODE AZ64,
    line_number INTEGER NOT NULL ENCODE AZ64,
    ts TIMESTAMP NOT NULL ENCODE AZ64,
    store_id INTEGER NOT NULL ENCODE AZ64,
    user_id BIGINT ENCODE AZ64,
    session_id BIGINT ENCODE AZ64,
    channel VARCHAR(8) NOT NULL ENCODE BYTEDICT,
    payment_type VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    currency VARCHAR(3) NOT NULL ENCODE BYTEDICT,
    sku VARCHAR(16) NOT NULL ENCODE ZSTD,
    qty INTEGER NOT NULL ENCODE AZ64,
    unit_price DECIMAL(12, 2) NOT NULL ENCODE AZ64,
    line_amount DECIMAL(18, 2) NOT NULL ENCODE AZ64,
    line_amount_usd DOUBLE PRECISION NOT NULL ENCODE RAW
)
DISTKEY (transaction_id)
COMPOUND SORTKEY (sale_date, store_id);

CREATE TABLE IF NOT EXISTS marts.sales_by_store (
    sale_date DATE NOT NULL ENCODE RAW,
    store_id INTEGER NOT NULL ENCODE AZ64,
    currency VARCHAR(3) NOT NULL ENCODE BYTEDICT,
    transactions BIGINT NOT NULL ENCODE AZ64,
    items BIGINT NOT NULL ENCODE AZ64,
    gross_local DECIMAL(18, 2) NOT NULL ENCODE AZ64,
    gross_usd DOUBLE PRECISION NOT NULL ENCODE RAW,
    avg_basket_local DOUBLE PRECISION NOT NULL ENCODE RAW
)
DISTSTYLE EVEN
COMPOUND SORTKEY (sale_date, store_id);

CREATE TABLE IF NOT EXISTS marts.fct_clicks_agg (
    activity_date DATE NOT NULL ENCODE RAW,
    activity_hour INTEGER NOT NULL ENCODE AZ64,
    page_type VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    device_type VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    traffic_source VARCHAR(64) NOT NULL ENCODE BYTEDICT,
    utm_campaign VARCHAR(64) NOT NULL ENCODE BYTEDICT,
    clicks BIGINT NOT NULL ENCODE AZ64,
    sessions BIGINT NOT NULL ENCODE AZ64,
    users BIGINT NOT NULL ENCODE AZ64
)
DISTSTYLE EVEN
COMPOUND SORTKEY (activity_date, activity_hour);

CREATE TABLE IF NOT EXISTS marts.conversion_rates (
    activity_date DATE NOT NULL ENCODE RAW,
    traffic_source VARCHAR(64) NOT NULL ENCODE BYTEDICT,
    utm_campaign VARCHAR(64) NOT NULL ENCODE BYTEDICT,
    device_type VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    step_number INTEGER NOT NULL ENCODE AZ64,
    step VARCHAR(16) NOT NULL ENCODE BYTEDICT,
    sessions BIGINT NOT NULL ENCODE AZ64,
    conversion_from_start DOUBLE PRECISION NOT NULL ENCODE RAW,
    conversion_from_previous DOUBLE PRECISION ENCODE RAW
)
DISTSTYLE EVEN
COMPOUND SORTKEY (activity_date, utm_campaign);
