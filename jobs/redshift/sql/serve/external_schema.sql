-- Spectrum: gold as the Glue catalog describes it, read in place from S3
-- without loading (the dt= folders are partitions).
CREATE EXTERNAL SCHEMA IF NOT EXISTS gold_ext
FROM DATA CATALOG DATABASE '{{ glue_gold_database }}'
IAM_ROLE '{{ iam_role }}';
