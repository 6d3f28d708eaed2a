variable "env" {
  type        = string
  description = "Environment; must equal the workspace (dev, stg, prod), so one tfvars file cannot land in another's state."
  validation {
    condition     = contains(["dev", "stg", "prod"], var.env)
    error_message = "env is dev, stg or prod."
  }
}

variable "region" {
  type        = string
  description = "Region of the platform."
  default     = "us-east-1"
}

variable "availability_zones" {
  type        = list(string)
  description = "The two availability zones of the network."
  default     = ["us-east-1a", "us-east-1b"]
}

variable "break_glass_role_name" {
  type        = string
  description = "The one role, besides the account root, that may write or delete lake data the pipeline's roles own: for repairs by hand."
  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.break_glass_role_name))
    error_message = "break_glass_role_name is an IAM role name (no path, no wildcard)."
  }
}

variable "owner" {
  type        = string
  description = "Owner tag."
  default     = "data-platform"
}

variable "cost_center" {
  type        = string
  description = "cost-center tag."
  default     = "analytics"
}

variable "vpc_cidr" {
  type        = string
  description = "VPC block of the environment (docs/network.md)."
}

variable "nat_gateways" {
  type        = number
  description = "0, 1 or 2 NAT gateways."
  default     = 0
}

variable "producer_image" {
  type        = string
  description = "Producer container image (registry/marketpulse:tag) for ECS and Batch."
}

variable "producer_version" {
  type        = string
  description = "Producer version whose binary is in artifacts (bin/marketpulse-<version>)."
}

variable "producer_sha256" {
  type        = string
  description = "SHA-256 of that binary (marketpulse-emr publish prints it)."
}

variable "jobs_version" {
  type        = string
  description = "marketpulse_jobs wheel version in artifacts."
}

variable "jobs_sha256" {
  type        = string
  description = "SHA-256 of that wheel."
}

variable "emr_task_instance_count" {
  type        = number
  description = "Spot task nodes at start."
  default     = 2
}

variable "emr_max_capacity_units" {
  type        = number
  description = "Most EMR instances under managed scaling."
  default     = 10
}

variable "redshift_nodes" {
  type        = number
  description = "Redshift RA3 nodes."
  default     = 1
}

variable "kinesis_shards" {
  type        = number
  description = "Shards of the event stream (size from `marketpulse plan` at the peak minute)."
  default     = 1
}

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly cost budget of the environment."
}

variable "alarm_emails" {
  type        = list(string)
  description = "Who receives alarms and budget alerts."
  default     = []
}

variable "force_destroy" {
  type        = bool
  description = "Let destroy empty buckets and skip Redshift's final snapshot (dev only)."
  default     = false
}

variable "chain_schedule" {
  type = object({
    expression = string
    timezone   = string
  })
  description = "When the daily chain runs (EventBridge Scheduler cron and IANA time zone); it processes the UTC date of the scheduled time."
}

variable "chain_generate" {
  type = object({
    shards = number
    scale  = string
  })
  description = "The daily chain's producer fleet: Batch array size and --scale of each day."
}

variable "redshift_pause" {
  type = object({
    pause_expression  = string
    resume_expression = string
    timezone          = string
  })
  description = "Pause and resume the Redshift cluster on these schedules (dev, to stay in budget: docs/capacity.md); null keeps it running."
  default     = null
}

variable "emulator" {
  type        = bool
  description = "true only when applying to a local AWS emulator: leaves out the resources infra/README.md lists as unsupported there. Never true for a real account."
  default     = false
}
