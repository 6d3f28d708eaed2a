# The real-time path: the producer writes JSON lines to a Kinesis stream
# (`--sink kinesis://<stream>`), and Firehose lands them in the raw bucket,
# under stream/<domain>/ingest_date=/hour=/: the producer's lake layout, in
# its own prefix, because a lake (lake/) holds only files its manifests list.

data "aws_region" "current" {}

locals {
  # Records carry no domain or table field: each line is a bare row of the
  # sales or clicks table (producer/cli/src/encode/jsonl.rs). The table's id
  # column tells them apart, and the writer writes null columns explicitly,
  # so `has` holds even for a row whose id the dirty-data injector nulled.
  # Lines the injector broke fail the parse and land under the error prefix.
  domain_query = "{domain: (if has(\"transaction_id\") then \"sales\" elif has(\"event_id\") then \"clicks\" else \"unknown\" end)}"

  log_stream_name = "DestinationDelivery"
}

resource "aws_kinesis_stream" "this" {
  name             = "${var.name_prefix}-events"
  shard_count      = var.shard_count
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn

  # Provisioned: the producer paces itself (real-time mode) and `marketpulse
  # plan` sizes the shards from the peak minute, so on-demand's premium buys
  # nothing.
  stream_mode_details {
    stream_mode = "PROVISIONED"
  }
}

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_338:Delivery errors of a synthetic data feed, not audit records. Control: retention is var.log_retention_days, set per environment.
  name              = "/marketpulse/${var.name_prefix}/firehose"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  name           = local.log_stream_name
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  #checkov:skip=CKV_AWS_240:Firehose rejects server-side encryption on a delivery stream whose source is a Kinesis stream. Control: the source stream's KMS key and the destination's kms_key_arn.
  #checkov:skip=CKV_AWS_241:Same as CKV_AWS_240. Control: the source stream's KMS key and the destination's kms_key_arn.
  name        = "${var.name_prefix}-events-to-raw"
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.this.arn
    role_arn           = var.firehose_role_arn
  }

  extended_s3_configuration {
    role_arn    = var.firehose_role_arn
    bucket_arn  = var.raw_bucket_arn
    kms_key_arn = var.kms_key_arn

    # Spark and Glue pick the codec from the extension, so name the objects
    # as what they are.
    compression_format = "GZIP"
    file_extension     = ".jsonl.gz"

    buffering_size     = var.buffering_size_mb
    buffering_interval = var.buffering_interval_seconds

    # Hive-style partitions the crawler and the jobs can prune on. The
    # timestamps are Firehose's arrival time (UTC), hence ingest_date.
    prefix              = "stream/!{partitionKeyFromQuery:domain}/ingest_date=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    error_output_prefix = "stream-errors/!{firehose:error-output-type}/ingest_date=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"

    dynamic_partitioning_configuration {
      enabled        = true
      retry_duration = 300
    }

    processing_configuration {
      enabled = true

      processors {
        type = "MetadataExtraction"

        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = local.domain_query
        }
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose.name
    }
  }
}

# What the Firehose role needs, and no more, for the root (or the iam
# module) to attach: the role is made elsewhere so one module owns IAM.
data "aws_iam_policy_document" "firehose" {
  statement {
    sid       = "ReadSourceStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.this.arn]
  }

  statement {
    sid       = "WriteRawBucket"
    actions   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"]
    resources = [var.raw_bucket_arn, "${var.raw_bucket_arn}/*"]
  }

  statement {
    sid       = "UseKeyForStreamAndObjects"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["kinesis.${data.aws_region.current.name}.amazonaws.com", "s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }

  statement {
    sid       = "WriteDeliveryErrors"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:log-stream:${local.log_stream_name}"]
  }
}
