output "sns_topic_arn" {
  description = "ARN of the alarm topic (the budgets module's sns_topic_arn)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Names of every alarm this module made."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.throughput : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.sink_p99 : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.throttles : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.glue_failed_tasks : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.cluster : a.alarm_name],
  )
}
