variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "env" {
  type        = string
  description = "Environment, part of the database names (marketpulse_<env>_<layer>)."
  validation {
    condition     = contains(["dev", "stg", "prod"], var.env)
    error_message = "env is dev, stg or prod."
  }
}

variable "bucket_names" {
  type        = map(string)
  description = "Bucket name per layer (raw, silver, gold, artifacts)."
}

variable "kms_key_arn" {
  type        = string
  description = "Key for job logs, bookmarks and S3 writes."
}

variable "glue_role_arn" {
  type        = string
  description = "Role of the silver->gold job (and crawlers)."
}

variable "jobs_version" {
  type        = string
  description = "Version of the marketpulse_jobs wheel in the artifacts bucket (jobs/marketpulse_jobs-<v>-py3-none-any.whl)."
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+", var.jobs_version))
    error_message = "jobs_version is a version such as 0.1.0."
  }
}

variable "worker_type" {
  type        = string
  description = "Glue worker type of the silver->gold job."
  default     = "G.1X"
  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.worker_type)
    error_message = "worker_type is G.1X, G.2X, G.4X or G.8X."
  }
}

variable "workers" {
  type        = number
  description = "Workers of the silver->gold job."
  default     = 2
  validation {
    condition     = var.workers >= 2
    error_message = "A Glue Spark job needs at least 2 workers."
  }
}

variable "timeout_minutes" {
  type        = number
  description = "A run of the job is stopped after this long."
  default     = 60
}

variable "max_retries" {
  type        = number
  description = "Retries of a failed run (bookmarks make a retry pick up the same partitions)."
  default     = 1
  validation {
    condition     = var.max_retries >= 0 && var.max_retries <= 10
    error_message = "max_retries is 0 to 10."
  }
}

variable "fx_per_usd" {
  type        = map(number)
  description = "Units of each sale currency per USD, as the producer's world config (gold converts sales to USD with it)."
  default     = { AUD = 1.52, BRL = 5.0, CAD = 1.36, EUR = 0.92, GBP = 0.79, INR = 83.0, JPY = 150.0, USD = 1.0 }
  validation {
    condition     = alltrue([for v in values(var.fx_per_usd) : v > 0])
    error_message = "Every rate is positive."
  }
}
