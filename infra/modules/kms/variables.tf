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
  description = "Account that owns the key."
  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id is 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the key (CloudWatch Logs is granted use in it)."
}

variable "deletion_window_days" {
  type        = number
  description = "Days a scheduled key deletion can still be cancelled."
  default     = 30
  validation {
    condition     = var.deletion_window_days >= 7 && var.deletion_window_days <= 30
    error_message = "deletion_window_days is 7 to 30."
  }
}
