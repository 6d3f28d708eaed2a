-- Reload the marts from gold. TRUNCATE then COPY keeps a re-run from
-- loading a day twice; gold is small next to the raw lake, and a daily
-- incremental load would instead DELETE one sale_date and COPY its dt=
-- prefix. COPY maps Parquet columns by position: gold files hold exactly
-- the table's columns, in order (the dt= folder is not a column).

TRUNCATE marts.dim_store;
COPY marts.dim_store
FROM '{{ gold_uri }}/dim_store/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

TRUNCATE marts.dim_user_current;
COPY marts.dim_user_current
FROM '{{ gold_uri }}/dim_user_current/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

TRUNCATE marts.fct_sales;
COPY marts.fct_sales
FROM '{{ gold_uri }}/fct_sales/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

TRUNCATE marts.sales_by_store;
COPY marts.sales_by_store
FROM '{{ gold_uri }}/sales_by_store/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

TRUNCATE marts.fct_clicks_agg;
COPY marts.fct_clicks_agg
FROM '{{ gold_uri }}/fct_clicks_agg/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;

TRUNCATE marts.conversion_rates;
COPY marts.conversion_rates
FROM '{{ gold_uri }}/conversion_rates/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET;
