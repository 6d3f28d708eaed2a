-- Marts back to S3 as Parquet for other engines, one folder per day.
-- Under the environment key: without KMS_KEY_ID, UNLOAD asks for SSE-S3
-- (AES256), which the lake's bucket policy refuses.
UNLOAD ('SELECT * FROM marts.fct_sales')
TO '{{ unload_uri }}/fct_sales/'
IAM_ROLE '{{ iam_role }}'
KMS_KEY_ID '{{ kms_key_id }}' ENCRYPTED
FORMAT AS PARQUET
PARTITION BY (sale_date)
ALLOWOVERWRITE;

UNLOAD ('SELECT * FROM marts.fct_clicks_agg')
TO '{{ unload_uri }}/fct_clicks_agg/'
IAM_ROLE '{{ iam_role }}'
KMS_KEY_ID '{{ kms_key_id }}' ENCRYPTED
FORMAT AS PARQUET
PARTITION BY (activity_date)
ALLOWOVERWRITE;
