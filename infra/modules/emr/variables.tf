variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "release_label" {
  type        = string
  description = "EMR release (7.x runs Spark 3.5, as the jobs are tested on)."
  default     = "emr-7.5.0"
  validation {
    condition     = can(regex("^emr-7\\.", var.release_label))
    error_message = "The jobs are tested on Spark 3.5: use an emr-7.x release."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet of the cluster."
}

variable "service_role_arn" {
  type        = string
  description = "EMR service role."
}

variable "instance_profile" {
  type        = string
  description = "Instance profile of the nodes."
}

variable "kms_key_arn" {
  type        = string
  description = "Key for S3 writes and local disks."
}

variable "bucket_names" {
  type        = map(string)
  description = "Bucket name per layer (raw, silver, logs, artifacts)."
}

variable "producer_version" {
  type        = string
  description = "Version of the producer binary in artifacts (bin/marketpulse-<version>)."
}

variable "producer_sha256" {
  type        = string
  description = "SHA-256 of that binary; the bootstrap action refuses any other."
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.producer_sha256))
    error_message = "producer_sha256 is 64 lower-case hex digits."
  }
}

variable "jobs_version" {
  type        = string
  description = "Version of the marketpulse_jobs wheel in artifacts."
}

variable "jobs_sha256" {
  type        = string
  description = "SHA-256 of that wheel."
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.jobs_sha256))
    error_message = "jobs_sha256 is 64 lower-case hex digits."
  }
}

variable "master_instance_type" {
  type        = string
  description = "Master node type (on-demand)."
  default     = "m7i.xlarge"
}

variable "core_instance_type" {
  type        = string
  description = "Core node type (on-demand: it hosts the Spark driver)."
  default     = "m7i.xlarge"
}

variable "core_instance_count" {
  type        = number
  description = "Core nodes."
  default     = 1
  validation {
    condition     = var.core_instance_count >= 1
    error_message = "At least one core node."
  }
}

variable "task_instance_type" {
  type        = string
  description = "Task node type (spot): where the producer's shards and the silver job's executors run."
  default     = "c7i.2xlarge"
}

variable "task_instance_count" {
  type        = number
  description = "Task nodes at start; managed scaling moves between the min and max below."
  default     = 2
}

variable "task_spot_bid_usd" {
  type        = string
  description = "Spot bid per task node-hour; about the on-demand price, so spot is used whenever there is capacity."
  default     = "0.36"
}

variable "min_capacity_units" {
  type        = number
  description = "Managed scaling: fewest instances."
  default     = 2
}

variable "max_capacity_units" {
  type        = number
  description = "Managed scaling: most instances."
  default     = 10
  validation {
    condition     = var.max_capacity_units >= 2
    error_message = "max_capacity_units is at least 2."
  }
}

variable "idle_timeout_seconds" {
  type        = number
  description = "Auto-termination after this long without a step."
  default     = 3600
  validation {
    condition     = var.idle_timeout_seconds >= 60 && var.idle_timeout_seconds <= 604800
    error_message = "idle_timeout_seconds is 60 s to 7 days."
  }
}

variable "tls_certificates_s3_object" {
  type        = string
  description = "S3 URL of the zip of PEM certificates for in-transit encryption; empty for s3://<artifacts>/emr/tls/certs.zip."
  default     = ""
}

variable "sample_step_shards" {
  type        = number
  description = "Shards of the sample fleet step added at creation (0 for none)."
  default     = 0
}

variable "enable_scaling_policies" {
  type        = bool
  description = "Managed scaling and auto-termination policies. false only on emulators without those APIs (infra/README.md)."
  default     = true
}
