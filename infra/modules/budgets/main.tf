# One monthly cost budget per environment. It counts the cost tagged
# env=<env> (the provider's default tags put it on every resource), so each
# environment is judged on its own spend even when several share an account.
# The env tag must be activated as a cost allocation tag in Billing, or the
# filter matches nothing.

resource "aws_budgets_budget" "monthly" {
  name         = "${var.name_prefix}-monthly-cost"
  budget_type  = "COST"
  time_unit    = "MONTHLY"
  limit_amount = tostring(var.monthly_limit_usd)
  limit_unit   = "USD"

  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:env$%s", var.env)]
  }

  # One alert per threshold on what has been spent...
  dynamic "notification" {
    for_each = toset(var.thresholds_percent)
    content {
      notification_type          = "ACTUAL"
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value
      threshold_type             = "PERCENTAGE"
      subscriber_sns_topic_arns  = [var.sns_topic_arn]
      subscriber_email_addresses = var.alert_emails
    }
  }

  # ...and one on the month's forecast, which warns while there is still
  # time to act.
  notification {
    notification_type          = "FORECASTED"
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    subscriber_sns_topic_arns  = [var.sns_topic_arn]
    subscriber_email_addresses = var.alert_emails
  }
}
