variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."

  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the stream, the delivered objects and the log group. Its policy must let CloudWatch Logs use it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn is a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "raw_bucket_arn" {
  type        = string
  description = "ARN of the raw bucket Firehose delivers to."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.raw_bucket_arn))
    error_message = "raw_bucket_arn is a bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "firehose_role_arn" {
  type        = string
  description = "ARN of the role Firehose assumes to read the stream and write the bucket (see the firehose_role_policy_json output)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.firehose_role_arn))
    error_message = "firehose_role_arn is an IAM role ARN."
  }
}

variable "shard_count" {
  type        = number
  description = "Shards of the provisioned stream (1 MB/s or 1,000 records/s of writes each)."
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 500 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count is a whole number from 1 to 500."
  }
}

variable "retention_hours" {
  type        = number
  description = "Hours the stream keeps records (24 to 8760)."
  default     = 24

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760 && floor(var.retention_hours) == var.retention_hours
    error_message = "retention_hours is a whole number from 24 to 8760."
  }
}

variable "buffering_size_mb" {
  type        = number
  description = "MiB Firehose buffers per partition before writing an object (64 to 128: dynamic partitioning needs at least 64)."
  default     = 64

  validation {
    condition     = var.buffering_size_mb >= 64 && var.buffering_size_mb <= 128 && floor(var.buffering_size_mb) == var.buffering_size_mb
    error_message = "buffering_size_mb is a whole number from 64 to 128."
  }
}

variable "buffering_interval_seconds" {
  type        = number
  description = "Seconds Firehose buffers per partition before writing an object (0 to 900)."
  default     = 300

  validation {
    condition     = var.buffering_interval_seconds >= 0 && var.buffering_interval_seconds <= 900 && floor(var.buffering_interval_seconds) == var.buffering_interval_seconds
    error_message = "buffering_interval_seconds is a whole number from 0 to 900."
  }
}

# The retention values CloudWatch Logs accepts (validation may read locals
# since Terraform 1.9).
locals {
  log_retention_values = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps Firehose's delivery error logs."
  default     = 30

  validation {
    condition     = contains(local.log_retention_values, var.log_retention_days)
    error_message = "log_retention_days is one of the values CloudWatch Logs accepts (${join(", ", local.log_retention_values)})."
  }
}
