variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "account_id" {
  type        = string
  description = "Account id (ARNs are built from it)."
  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id is 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region (ARNs are built from it)."
}

variable "kms_key_arn" {
  type        = string
  description = "The environment's key: every role that touches data at rest may use it."
}

variable "bucket_arns" {
  type        = map(string)
  description = "Bucket ARN per layer: raw, silver, gold, logs, artifacts."
  validation {
    condition     = alltrue([for l in ["raw", "silver", "gold", "logs", "artifacts"] : contains(keys(var.bucket_arns), l)])
    error_message = "bucket_arns needs raw, silver, gold, logs and artifacts."
  }
}

variable "stream_name" {
  type        = string
  description = "Kinesis stream the producer writes and Firehose reads."
}

variable "glue_databases" {
  type        = map(string)
  description = "Glue database name per layer (silver, gold)."
}
