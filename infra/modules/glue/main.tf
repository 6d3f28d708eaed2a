# The catalog and the silver->gold job. Table columns come from
# tables.json, which `python -m marketpulse_jobs.catalog` generates from
# schemas/ with the code the jobs use to register the same tables (a test
# checks that the file is current). Clicks evolve by adding columns (v2), so
# a schema change is an in-place update of the table, never a replacement.

locals {
  tables    = jsondecode(file("${path.module}/tables.json"))
  databases = { for layer in ["silver", "gold"] : layer => "marketpulse_${var.env}_${layer}" }
  table_list = merge([
    for layer, tables in local.tables : {
      for name, t in tables : "${layer}.${name}" => merge(t, { layer = layer, name = name })
    }
  ]...)
  artifacts = "s3://${var.bucket_names["artifacts"]}"
  # The jobs' Spark settings, declared once with the jobs: Glue takes them
  # as one `--conf` job parameter ("k=v --conf k2=v2 …").
  spark_conf = jsondecode(file("${path.module}/../../../jobs/marketpulse_jobs/spark_conf.json"))
}

resource "aws_glue_catalog_database" "this" {
  for_each    = local.databases
  name        = each.value
  description = "MarketPulse ${each.key} layer (${var.env})"
}

resource "aws_glue_catalog_table" "this" {
  for_each      = local.table_list
  database_name = aws_glue_catalog_database.this[each.value.layer].name
  name          = each.value.name
  description   = "MarketPulse ${each.value.name}"
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification = "parquet"
    EXTERNAL       = "TRUE"
  }

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value
      type = "string"
    }
  }

  storage_descriptor {
    location      = "s3://${var.bucket_names[each.value.layer]}/${each.value.prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    dynamic "columns" {
      for_each = each.value.columns
      content {
        name    = columns.value.Name
        type    = columns.value.Type
        comment = columns.value.Comment
      }
    }
  }
}

resource "aws_glue_security_configuration" "this" {
  name = var.name_prefix
  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_job" "silver_to_gold" {
  name                   = "${var.name_prefix}-silver-to-gold"
  role_arn               = var.glue_role_arn
  glue_version           = "5.0"
  execution_class        = "STANDARD"
  worker_type            = var.worker_type
  number_of_workers      = var.workers
  timeout                = var.timeout_minutes
  max_retries            = var.max_retries
  security_configuration = aws_glue_security_configuration.this.name
  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = "${local.artifacts}/jobs/entrypoints/silver_to_gold.py"
  }
  default_arguments = {
    "--job-bookmark-option"          = "job-bookmark-enable"
    "--enable-metrics"               = "true"
    "--enable-observability-metrics" = "true"
    "--enable-job-insights"          = "true"
    "--TempDir"                      = "${local.artifacts}/glue/tmp/"
    "--extra-py-files"               = "${local.artifacts}/jobs/marketpulse_jobs-${var.jobs_version}-py3-none-any.whl"
    "--silver"                       = "s3://${var.bucket_names["silver"]}/silver/"
    "--gold"                         = "s3://${var.bucket_names["gold"]}/gold/"
    "--fx_per_usd"                   = join(",", [for code, rate in var.fx_per_usd : "${code}=${rate}"])
    "--conf"                         = join(" --conf ", [for k, v in local.spark_conf : "${k}=${v}"])
  }
  execution_property {
    max_concurrent_runs = 1
  }
}

# The job writes gold files; Redshift Spectrum sees a new day only once its
# partition is in the catalog. This crawler, which the daily chain starts
# after the job (module.orchestration), adds partitions to the tables
# Terraform declares and never changes their columns.
resource "aws_glue_crawler" "gold_partitions" {
  name                   = "${var.name_prefix}-gold-partitions"
  role                   = var.glue_role_arn
  database_name          = aws_glue_catalog_database.this["gold"].name
  security_configuration = aws_glue_security_configuration.this.name
  catalog_target {
    database_name = aws_glue_catalog_database.this["gold"].name
    tables        = [for k, t in aws_glue_catalog_table.this : t.name if startswith(k, "gold.")]
  }
  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }
  configuration = jsonencode({
    Version       = 1.0
    CrawlerOutput = { Partitions = { AddOrUpdateBehavior = "InheritFromTable" } }
  })
}
