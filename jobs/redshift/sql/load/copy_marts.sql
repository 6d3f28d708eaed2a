-- Reload the marts from gold, all six at once or not at all: each is COPied
-- into a staging table, then every mart is swapped in one transaction. A
-- COPY that fails aborts the transaction, so the marts keep the last good
-- load, and readers see the old rows until the COMMIT. DELETE, not
-- TRUNCATE: Redshift commits a TRUNCATE at once. Re-running loads nothing
-- twice. COPY maps Parquet columns by position: gold files hold exactly the
-- table's columns, in order (the dt= folder is not a column). A staging
-- table is LIKE its mart, so `SELECT *` has the mart's columns (AM04).

BEGIN;

CREATE TEMP TABLE stage_dim_store (LIKE marts.dim_store);
COPY stage_dim_store
FROM '{{ gold_uri }}/dim_store/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

CREATE TEMP TABLE stage_dim_user_current (LIKE marts.dim_user_current);
COPY stage_dim_user_current
FROM '{{ gold_uri }}/dim_user_current/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

CREATE TEMP TABLE stage_fct_sales (LIKE marts.fct_sales);
COPY stage_fct_sales
FROM '{{ gold_uri }}/fct_sales/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

CREATE TEMP TABLE stage_sales_by_store (LIKE marts.sales_by_store);
COPY stage_sales_by_store
FROM '{{ gold_uri }}/sales_by_store/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

CREATE TEMP TABLE stage_fct_clicks_agg (LIKE marts.fct_clicks_agg);
COPY stage_fct_clicks_agg
FROM '{{ gold_uri }}/fct_clicks_agg/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

CREATE TEMP TABLE stage_conversion_rates (LIKE marts.conversion_rates);
COPY stage_conversion_rates
FROM '{{ gold_uri }}/conversion_rates/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

DELETE FROM marts.dim_store;
INSERT INTO marts.dim_store SELECT * FROM stage_dim_store;  -- noqa: AM04

DELETE FROM marts.dim_user_current;
INSERT INTO marts.dim_user_current SELECT * FROM stage_dim_user_current;  -- noqa: AM04

DELETE FROM marts.fct_sales;
INSERT INTO marts.fct_sales SELECT * FROM stage_fct_sales;  -- noqa: AM04

DELETE FROM marts.sales_by_store;
INSERT INTO marts.sales_by_store SELECT * FROM stage_sales_by_store;  -- noqa: AM04

DELETE FROM marts.fct_clicks_agg;
INSERT INTO marts.fct_clicks_agg SELECT * FROM stage_fct_clicks_agg;  -- noqa: AM04

DELETE FROM marts.conversion_rates;
INSERT INTO marts.conversion_rates SELECT * FROM stage_conversion_rates;  -- noqa: AM04

DROP TABLE stage_dim_store;
DROP TABLE stage_dim_user_current;
DROP TABLE stage_fct_sales;
DROP TABLE stage_sales_by_store;
DROP TABLE stage_fct_clicks_agg;
DROP TABLE stage_conversion_rates;

COMMIT;
