variable "name_prefix" {
  type        = string
  description = "marketpulse-<env>: names the state machine, schedules and log group."
}

variable "env" {
  type        = string
  description = "Environment name, for the success metric's dimension and the alarm's text."
}

variable "chain_role_arn" {
  type        = string
  description = "Role the state machine runs under (module.iam's chain)."
}

variable "scheduler_role_arn" {
  type        = string
  description = "Role EventBridge Scheduler starts the chain and pauses Redshift with (module.iam's scheduler)."
}

variable "kms_key_arn" {
  type        = string
  description = "The environment key: encrypts the state machine's logs and execution data."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic a failed or blocked day is reported to (module.monitoring)."
}

variable "schedule" {
  type = object({
    expression = string
    timezone   = string
  })
  description = "When the chain runs: an EventBridge Scheduler cron expression and its IANA time zone (each env's tfvars)."
}

variable "generate" {
  type = object({
    shards = number
    scale  = string
  })
  description = "The day's producer fleet: Batch array size and --scale."
}

variable "batch_job_queue_arn" {
  type        = string
  description = "The producer fleet's Batch queue."
}

variable "batch_job_definition_arn" {
  type        = string
  description = "The producer's Batch job definition (generate, and verify by command override)."
}

variable "bucket_names" {
  type        = map(string)
  description = "Lake bucket per layer (raw, silver, gold, artifacts)."
}

variable "emr_cluster_id" {
  type        = string
  description = "The long-running cluster bronze->silver and the quality gate run on."
}

variable "jobs_version" {
  type        = string
  description = "Version of the marketpulse_jobs wheel the steps run."
}

variable "glue_database_silver" {
  type        = string
  description = "Glue database bronze->silver registers silver in."
}

variable "glue_job_name" {
  type        = string
  description = "The silver->gold Glue job."
}

variable "gold_crawler_name" {
  type        = string
  description = "The crawler that adds gold's new partitions after the job."
}

variable "redshift_cluster_id" {
  type        = string
  description = "The Redshift cluster the marts live in."
}

variable "redshift_database" {
  type        = string
  description = "The marts' database."
}

variable "redshift_sql_params" {
  type        = map(string)
  description = "The {{ name }} values of jobs/redshift/sql on this stack."
}

variable "redshift_pause" {
  type = object({
    pause_expression  = string
    resume_expression = string
    timezone          = string
  })
  default     = null
  description = "Pause and resume the Redshift cluster on these cron expressions (dev's fixed cost); null keeps it running."
}

variable "log_retention_days" {
  type        = number
  default     = 365
  description = "Retention of the state machine's execution logs (a year: a day's failure may be looked into long after)."
}
