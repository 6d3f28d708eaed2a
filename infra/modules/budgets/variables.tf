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
  description = "Environment (dev, stg, prod): the value of the env cost allocation tag the budget counts."

  validation {
    condition     = contains(["dev", "stg", "prod"], var.env)
    error_message = "env is dev, stg or prod."
  }
}

variable "monthly_limit_usd" {
  type        = number
  description = "Monthly cost limit in USD."

  validation {
    condition     = var.monthly_limit_usd > 0
    error_message = "monthly_limit_usd is above 0."
  }
}

variable "sns_topic_arn" {
  type        = string
  description = "SNS topic that receives every alert (the monitoring module's; its policy must let budgets.amazonaws.com publish)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.sns_topic_arn))
    error_message = "sns_topic_arn is an SNS topic ARN."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses emailed directly by Budgets, besides the topic (at most 10)."
  default     = []

  validation {
    condition     = length(var.alert_emails) <= 10 && alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails holds at most 10 email addresses (the Budgets limit per notification)."
  }
}

variable "thresholds_percent" {
  type        = list(number)
  description = "Percentages of the limit at which actual spend alerts; a forecast alert at 100% is always added."
  default     = [80, 100]

  validation {
    condition     = length(var.thresholds_percent) >= 1 && length(var.thresholds_percent) <= 4 && length(distinct(var.thresholds_percent)) == length(var.thresholds_percent)
    error_message = "thresholds_percent holds 1 to 4 distinct values (Budgets allows 5 notifications, one of which is the forecast)."
  }
  validation {
    condition     = alltrue([for t in var.thresholds_percent : t > 0 && t <= 1000])
    error_message = "thresholds_percent values are above 0 and at most 1000."
  }
}
