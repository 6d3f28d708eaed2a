variable "region" {
  type        = string
  description = "Region of the state bucket and lock table."
  default     = "us-east-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "state_bucket_name" {
  type        = string
  description = "Name of the state bucket; empty for marketpulse-<account>-tfstate."
  default     = ""
  validation {
    condition     = var.state_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "lock_table_name" {
  type        = string
  description = "DynamoDB table that holds Terraform's state locks."
  default     = "marketpulse-tflock"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "lock_table_name must be 3-255 characters of letters, digits, _ . and -."
  }
}

variable "state_version_retention_days" {
  type        = number
  description = "Days a superseded state version is kept (the RPO of a bad apply is one version back)."
  default     = 90
  validation {
    condition     = var.state_version_retention_days >= 7
    error_message = "Keep superseded state versions at least 7 days."
  }
}

variable "owner" {
  type        = string
  description = "Team that owns the platform (owner tag)."
  default     = "data-platform"
}

variable "cost_center" {
  type        = string
  description = "Cost center tag."
  default     = "analytics"
}
