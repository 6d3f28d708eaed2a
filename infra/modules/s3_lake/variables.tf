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
  description = "Account id, part of every bucket name (bucket names are global)."
  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id is 12 digits."
  }
}

variable "env" {
  type        = string
  description = "Environment: dev, stg or prod."
  validation {
    condition     = contains(["dev", "stg", "prod"], var.env)
    error_message = "env is dev, stg or prod."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer key for SSE-KMS on the data buckets."
}

variable "raw_to_ia_days" {
  type        = number
  description = "Days before raw objects move to STANDARD_IA."
  default     = 30
  validation {
    condition     = var.raw_to_ia_days >= 30
    error_message = "S3 moves objects to STANDARD_IA after 30 days at the earliest."
  }
}

variable "raw_to_glacier_days" {
  type        = number
  description = "Days before raw objects move to GLACIER (Flexible Retrieval)."
  default     = 90
}

variable "quarantine_expiry_days" {
  type        = number
  description = "Days quarantined records are kept in the silver bucket."
  default     = 30
  validation {
    condition     = var.quarantine_expiry_days >= 1
    error_message = "quarantine_expiry_days is at least 1."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days a replaced or deleted object version is kept (the lake's undo window)."
  default     = 30
}

variable "log_expiry_days" {
  type        = number
  description = "Days access logs are kept in the logs bucket."
  default     = 365
}

variable "force_destroy" {
  type        = bool
  description = "Let destroy empty the buckets (dev and test stacks only)."
  default     = false
}

variable "break_glass" {
  type        = string
  description = "ARN of the one role besides the account root exempt from the writers-only rule."
  validation {
    condition     = can(regex("^arn:aws:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_-]+$", var.break_glass))
    error_message = "break_glass is one role's ARN, without wildcards."
  }
}

variable "writers" {
  type        = map(list(string))
  description = "Role ARNs allowed to write each bucket (layer => ARNs); every other principal of the account is denied writes."
  default     = {}
}
