-- Marts back to S3 as Parquet for other engines, one folder per day.
UNLOAD ('SELECT * FROM marts.fct_sales')
TO '{{ unload_uri }}/fct_sales/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET
PARTITION BY (sale_date)
ALLOWOVERWRITE;

UNLOAD ('SELECT * FROM marts.fct_clicks_agg')
TO '{{ unload_uri }}/fct_clicks_agg/'
IAM_ROLE '{{ iam_role }}'
FORMAT AS PARQUET
PARTITION BY (activity_date)
ALLOWOVERWRITE;
