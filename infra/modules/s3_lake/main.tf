# The lake's five buckets: marketpulse-<account>-<env>-<layer>. Data buckets
# are SSE-KMS with the environment's key; the logs bucket receives S3 server
# access logs, which S3 delivers only to SSE-S3 buckets.

locals {
  layers = ["raw", "silver", "gold", "logs", "artifacts"]
  data   = [for l in local.layers : l if l != "logs"]
  names  = { for l in local.layers : l => "marketpulse-${var.account_id}-${var.env}-${l}" }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-deployment DR choice (docs/runbooks/rpo-rto.md). Control: aws_s3_bucket_versioning.this keeps every overwritten object.
  #checkov:skip=CKV2_AWS_62:No consumer subscribes to object events. Control: Glue job bookmarks and the EMR steps find new partitions by listing.
  for_each      = local.names
  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = { layer = each.key }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = aws_s3_bucket.this
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = each.key == "logs" ? "AES256" : "aws:kms"
      kms_master_key_id = each.key == "logs" ? null : var.kms_key_arn
    }
    bucket_key_enabled = each.key != "logs"
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = { for l in local.data : l => aws_s3_bucket.this[l] }
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.this["logs"].id
  target_prefix = "s3/${each.key}/"
  depends_on    = [aws_s3_bucket_policy.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  dynamic "rule" {
    for_each = each.key == "raw" ? [1] : []
    content {
      id     = "raw-to-ia-then-glacier"
      status = "Enabled"
      filter {}
      transition {
        days          = var.raw_to_ia_days
        storage_class = "STANDARD_IA"
      }
      transition {
        days          = var.raw_to_glacier_days
        storage_class = "GLACIER"
      }
    }
  }

  dynamic "rule" {
    for_each = each.key == "silver" ? [1] : []
    content {
      id     = "expire-quarantine"
      status = "Enabled"
      filter {
        prefix = "quarantine/"
      }
      expiration {
        days = var.quarantine_expiry_days
      }
    }
  }

  dynamic "rule" {
    for_each = each.key == "logs" ? [1] : []
    content {
      id     = "expire-logs"
      status = "Enabled"
      filter {}
      expiration {
        days = var.log_expiry_days
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.bucket[each.key].json
  # Public access blocks first: a policy put before them could be public for a moment.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

data "aws_iam_policy_document" "bucket" {
  for_each = local.names

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["arn:aws:s3:::${each.value}", "arn:aws:s3:::${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Writes only by the roles that own this layer, the account root and the
  # one break-glass role; everything else in the account reads at most.
  dynamic "statement" {
    for_each = length(lookup(var.writers, each.key, [])) > 0 ? [1] : []
    content {
      sid       = "DenyWritesByOtherRoles"
      effect    = "Deny"
      actions   = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
      resources = ["arn:aws:s3:::${each.value}/*"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringNotLike"
        variable = "aws:PrincipalArn"
        values   = concat(var.writers[each.key], ["arn:aws:iam::${var.account_id}:root", var.break_glass])
      }
    }
  }

  # A write may name no encryption (the bucket's SSE-KMS default applies)
  # or aws:kms; an explicit AES256 header would bypass the environment key.
  dynamic "statement" {
    for_each = each.key == "logs" ? [] : [1]
    content {
      sid       = "DenyEncryptionOtherThanKms"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["arn:aws:s3:::${each.value}/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "StringNotEquals"
        variable = "s3:x-amz-server-side-encryption"
        values   = ["aws:kms"]
      }
      condition {
        test     = "Null"
        variable = "s3:x-amz-server-side-encryption"
        values   = ["false"]
      }
    }
  }

  # One statement per logged bucket: each may write its own prefix only.
  dynamic "statement" {
    for_each = each.key == "logs" ? local.data : []
    content {
      sid       = "S3ServerAccessLogsFrom${title(statement.value)}"
      actions   = ["s3:PutObject"]
      resources = ["arn:aws:s3:::${each.value}/s3/${statement.value}/*"]
      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:aws:s3:::${local.names[statement.value]}"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "RedshiftAuditLogsDelivery"
      actions   = ["s3:PutObject", "s3:GetBucketAcl"]
      resources = ["arn:aws:s3:::${each.value}", "arn:aws:s3:::${each.value}/redshift/*"]
      principals {
        type        = "Service"
        identifiers = ["redshift.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }
    }
  }
}
