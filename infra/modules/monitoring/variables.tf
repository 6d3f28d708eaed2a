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
  description = "ARN of the KMS key that encrypts the SNS topic. Its policy must let cloudwatch.amazonaws.com and budgets.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn is a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "alarm_emails" {
  type        = list(string)
  description = "Addresses subscribed to the alarm topic (each must confirm the subscription)."
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails are email addresses."
  }
}

variable "producer_sinks" {
  type        = list(string)
  description = "Sink dimension values to alarm on, exactly as the producer names them: its --sink URL (kinesis://<stream>, firehose://<name>) or, without one, its --out (s3://<bucket>/<prefix>). Every sink gets the p99 and throttle alarms; Kinesis and Firehose sinks also the throughput alarm. Empty: no producer alarms (the dashboard still graphs every sink)."
  default     = []

  validation {
    condition     = alltrue([for s in var.producer_sinks : length(trimspace(s)) > 0])
    error_message = "producer_sinks holds non-empty sink names."
  }
  validation {
    condition     = length(distinct([for s in var.producer_sinks : trim(replace(s, "/[^A-Za-z0-9]+/", "-"), "-")])) == length(var.producer_sinks)
    error_message = "producer_sinks must stay distinct once every run of characters other than letters and digits becomes a dash (alarm names are made that way)."
  }
}

variable "producer_namespace" {
  type        = string
  description = "CloudWatch namespace of the producer's EMF metrics (the producer writes MarketPulse)."
  default     = "MarketPulse"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]+$", var.producer_namespace))
    error_message = "producer_namespace takes letters, digits and _ . / # : - (no spaces, quotes or commas: it goes into SEARCH expressions)."
  }
}

variable "min_events_per_second" {
  type        = number
  description = "Throughput alarm threshold: events per second delivered to a record sink, averaged over throughput_period_seconds."
  default     = 1000

  validation {
    condition     = var.min_events_per_second >= 0
    error_message = "min_events_per_second is at least 0."
  }
}

variable "throughput_period_seconds" {
  type        = number
  description = "Period of the throughput alarm. The producer reports a run's total records once, at exit, so this should be at least the time between run ends."
  default     = 3600

  validation {
    condition     = var.throughput_period_seconds >= 60 && var.throughput_period_seconds <= 86400 && var.throughput_period_seconds % 60 == 0
    error_message = "throughput_period_seconds is a multiple of 60 from 60 to 86400."
  }
}

variable "max_sink_p99_ms" {
  type        = number
  description = "Latency alarm threshold: a run's p99 sink request latency, in milliseconds."
  default     = 2000

  validation {
    condition     = var.max_sink_p99_ms > 0
    error_message = "max_sink_p99_ms is above 0."
  }
}

variable "glue_job_names" {
  type        = list(string)
  description = "Glue jobs to alarm on (failed Spark tasks). They must run with --enable-metrics."
  default     = []

  validation {
    condition     = alltrue([for j in var.glue_job_names : can(regex("^[A-Za-z0-9_.-]{1,255}$", j))]) && length(distinct(var.glue_job_names)) == length(var.glue_job_names)
    error_message = "glue_job_names are distinct Glue job names (letters, digits, _ . -)."
  }
}

variable "emr_alarm" {
  type        = bool
  description = "Alarm on an idle EMR cluster (emr_cluster_id). A flag apart from the id, which is known only after the cluster exists."
  default     = false
}

variable "redshift_alarm" {
  type        = bool
  description = "Alarm on Redshift's WLM queue (redshift_cluster_id)."
  default     = false
}

variable "emr_cluster_id" {
  type        = string
  description = "EMR cluster id (j-...) to alarm on when idle (with emr_alarm)."
  default     = null

  validation {
    condition     = var.emr_cluster_id == null || can(regex("^j-[A-Z0-9]+$", var.emr_cluster_id))
    error_message = "emr_cluster_id is an EMR cluster id (j-...) or null."
  }
}

variable "emr_idle_minutes" {
  type        = number
  description = "Minutes of IsIdle before the EMR idle alarm fires (EMR reports every 5 minutes)."
  default     = 30

  validation {
    condition     = var.emr_idle_minutes >= 5 && var.emr_idle_minutes <= 1440 && var.emr_idle_minutes % 5 == 0
    error_message = "emr_idle_minutes is a multiple of 5 from 5 to 1440."
  }
}

variable "redshift_cluster_id" {
  type        = string
  description = "Redshift cluster identifier to alarm on queued queries; null for none."
  default     = null

  validation {
    condition     = var.redshift_cluster_id == null || can(regex("^[a-z][a-z0-9-]{0,62}$", var.redshift_cluster_id))
    error_message = "redshift_cluster_id is a Redshift cluster identifier (lower-case, starts with a letter) or null."
  }
}

variable "redshift_max_wlm_queue_length" {
  type        = number
  description = "Redshift alarm threshold: queries waiting in WLM queues, averaged over 5 minutes, for 15 minutes."
  default     = 5

  validation {
    condition     = var.redshift_max_wlm_queue_length >= 0
    error_message = "redshift_max_wlm_queue_length is at least 0."
  }
}
