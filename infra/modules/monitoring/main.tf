# Alarms and a dashboard for the producer, the Glue jobs, the EMR cluster and
# Redshift, all notifying one KMS-encrypted SNS topic (which the budgets
# module publishes to as well).
#
# The producer's metrics are CloudWatch EMF (producer/cli/src/metrics.rs):
# namespace MarketPulse, one dimension, Sink (the sink's URL, as
# kinesis://<stream> or s3://<bucket>/<prefix>), metrics Requests, Retries,
# Throttles, Bytes, Records, RequestLatencyP50/P99/Max (ms) and, in real-time
# mode, EventLagP50/P99/Max. It writes ONE line per run, at exit, holding the
# run's totals. So there is no events-per-second metric: throughput is
# Records summed over a period divided by the period, and every producer
# alarm treats a period without a finished run as fine.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  ns = var.producer_namespace

  # Alarm per sink; the key is the sink made safe for an alarm name.
  sinks = { for s in var.producer_sinks : trim(replace(s, "/[^A-Za-z0-9]+/", "-"), "-") => s }
  # Only record sinks (Kinesis, Firehose) count Records; the lake's file
  # sinks report 0, which a throughput alarm would read as a stall.
  record_sinks = { for k, s in local.sinks : k => s if can(regex("^(kinesis|firehose)://", s)) }

  glue_jobs = toset(var.glue_job_names)

  actions = [aws_sns_topic.alarms.arn]
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

# Only the services that notify may publish, and only from this account:
# CloudWatch for the alarms below, Budgets for the budgets module. People and
# roles of the account reach the topic through IAM.
data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:${var.name_prefix}-*"]
    }
  }

  statement {
    sid       = "BudgetsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Producer -----------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "throughput" {
  for_each = local.record_sinks

  alarm_name          = "${var.name_prefix}-producer-throughput-${each.key}"
  alarm_description   = "Producer runs to ${each.value} delivered fewer than ${var.min_events_per_second} events/s, averaged over ${var.throughput_period_seconds} s (Records / period: the producer reports run totals at exit)."
  comparison_operator = "LessThanThreshold"
  threshold           = var.min_events_per_second
  evaluation_periods  = 1
  # The only datapoint of a run comes when it ends; a period with no run
  # ending in it is not a stall this metric can see.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions

  metric_query {
    id          = "records"
    return_data = false
    metric {
      namespace   = local.ns
      metric_name = "Records"
      dimensions  = { Sink = each.value }
      stat        = "Sum"
      period      = var.throughput_period_seconds
    }
  }

  metric_query {
    id          = "events_per_second"
    expression  = "records / PERIOD(records)"
    label       = "Events per second"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "sink_p99" {
  for_each = local.sinks

  alarm_name          = "${var.name_prefix}-producer-sink-p99-${each.key}"
  alarm_description   = "A producer run's p99 request latency to ${each.value} was above ${var.max_sink_p99_ms} ms."
  namespace           = local.ns
  metric_name         = "RequestLatencyP99"
  dimensions          = { Sink = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_sink_p99_ms
  # One datapoint per finished run; no run, nothing to judge.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each = local.sinks

  alarm_name          = "${var.name_prefix}-producer-throttles-${each.key}"
  alarm_description   = "A producer run to ${each.value} was throttled (Kinesis/Firehose throughput exceeded, S3 SlowDown, HTTP 429/503): add shards or lower the rate."
  namespace           = local.ns
  metric_name         = "Throttles"
  dimensions          = { Sink = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # One datapoint per finished run; no run, no throttling.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
}

# --- Glue ---------------------------------------------------------------

# Glue job metrics live in the "Glue" namespace (not AWS/Glue) and exist only
# for jobs run with --enable-metrics.
resource "aws_cloudwatch_metric_alarm" "glue_failed_tasks" {
  for_each = local.glue_jobs

  alarm_name          = "${var.name_prefix}-glue-failed-tasks-${each.value}"
  alarm_description   = "Glue job ${each.value} had failed Spark tasks."
  namespace           = "Glue"
  metric_name         = "glue.driver.aggregate.numFailedTasks"
  dimensions          = { JobName = each.value, JobRunId = "ALL", Type = "count" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # Glue reports only while a run is going; between runs there is nothing to
  # fail.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
}

# --- EMR and Redshift ---------------------------------------------------

# One alarm per cluster the root asked for. Each spec is built only when its
# flag is set, so a cluster id left null (the default) is never read.
locals {
  cluster_alarms = { for a in concat(
    var.emr_alarm ? [{
      key         = "emr_idle"
      name        = "emr-idle"
      description = "EMR cluster ${var.emr_cluster_id} has been idle for ${var.emr_idle_minutes} minutes and is still billed."
      namespace   = "AWS/ElasticMapReduce"
      metric      = "IsIdle"
      dimensions  = { JobFlowId = var.emr_cluster_id }
      statistic   = "Minimum"
      periods     = var.emr_idle_minutes / 5
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 1
    }] : [],
    var.redshift_alarm ? [{
      key         = "redshift_queue"
      name        = "redshift-wlm-queue"
      description = "More than ${var.redshift_max_wlm_queue_length} queries have waited in Redshift ${var.redshift_cluster_id}'s WLM queues for 15 minutes."
      namespace   = "AWS/Redshift"
      metric      = "WLMQueueLength"
      dimensions  = { ClusterIdentifier = var.redshift_cluster_id }
      statistic   = "Average"
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.redshift_max_wlm_queue_length
    }] : [],
  ) : a.key => a }
}

resource "aws_cloudwatch_metric_alarm" "cluster" {
  for_each = local.cluster_alarms

  alarm_name          = "${var.name_prefix}-${each.value.name}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  # A terminated EMR cluster stops reporting, which is the outcome we want; a
  # paused Redshift cluster queues nothing and its health has its own signals.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
}

# The two alarms were separate counted resources; keep existing ones in place.
moved {
  from = aws_cloudwatch_metric_alarm.emr_idle[0]
  to   = aws_cloudwatch_metric_alarm.cluster["emr_idle"]
}

moved {
  from = aws_cloudwatch_metric_alarm.redshift_queue[0]
  to   = aws_cloudwatch_metric_alarm.cluster["redshift_queue"]
}

# --- Dashboard ----------------------------------------------------------

locals {
  alarm_arns = concat(
    [for a in aws_cloudwatch_metric_alarm.throughput : a.arn],
    [for a in aws_cloudwatch_metric_alarm.sink_p99 : a.arn],
    [for a in aws_cloudwatch_metric_alarm.throttles : a.arn],
    [for a in aws_cloudwatch_metric_alarm.glue_failed_tasks : a.arn],
    [for a in aws_cloudwatch_metric_alarm.cluster : a.arn],
  )

  # Producer graphs search every Sink, so runs to sinks not listed in
  # producer_sinks (a new lake prefix, a test stream) still show.
  producer_search = { for m, stat in {
    Records           = "Sum"
    RequestLatencyP99 = "Maximum"
    Throttles         = "Sum"
    Retries           = "Sum"
    EventLagP99       = "Maximum"
    } : m => "SEARCH('{${local.ns},Sink} MetricName=\"${m}\"', '${stat}', 300)"
  }

  metric_widgets = concat(
    [
      {
        title   = "Producer: events per second, by sink (Records / 300 s)"
        metrics = [[{ expression = local.producer_search["Records"], id = "records", visible = false }], [{ expression = "records / 300", id = "rate" }]]
        stat    = null
      },
      {
        title   = "Producer: sink p99 latency (ms), by sink"
        metrics = [[{ expression = local.producer_search["RequestLatencyP99"], id = "p99" }]]
        stat    = null
      },
      {
        title   = "Producer: throttles and retries, by sink"
        metrics = [[{ expression = local.producer_search["Throttles"], id = "throttles" }], [{ expression = local.producer_search["Retries"], id = "retries" }]]
        stat    = null
      },
      {
        title   = "Producer: real-time event lag p99 (ms), by sink"
        metrics = [[{ expression = local.producer_search["EventLagP99"], id = "lag" }]]
        stat    = null
      },
    ],
    length(var.glue_job_names) == 0 ? [] : [{
      title   = "Glue: failed tasks per job"
      metrics = [for j in var.glue_job_names : ["Glue", "glue.driver.aggregate.numFailedTasks", "JobName", j, "JobRunId", "ALL", "Type", "count"]]
      stat    = "Sum"
    }],
    var.emr_alarm ? [{
      title   = "EMR: cluster idle (1 = idle)"
      metrics = [["AWS/ElasticMapReduce", "IsIdle", "JobFlowId", var.emr_cluster_id]]
      stat    = "Minimum"
    }] : [],
    var.redshift_alarm ? [{
      title   = "Redshift: WLM queue length"
      metrics = [["AWS/Redshift", "WLMQueueLength", "ClusterIdentifier", var.redshift_cluster_id]]
      stat    = "Average"
    }] : [],
  )

  # An alarm widget must list at least one alarm; without any, leave it out.
  alarm_widgets = length(local.alarm_arns) == 0 ? [] : [{
    type       = "alarm"
    x          = 0
    y          = 0
    width      = 24
    height     = 4
    properties = { title = "Alarms", alarms = local.alarm_arns }
  }]
  top = length(local.alarm_widgets) * 4

  widgets = concat(local.alarm_widgets, [for i, w in local.metric_widgets : {
    type   = "metric"
    x      = (i % 2) * 12
    y      = local.top + floor(i / 2) * 6
    width  = 12
    height = 6
    properties = merge(
      {
        title   = w.title
        region  = data.aws_region.current.name
        view    = "timeSeries"
        stacked = false
        period  = 300
        metrics = w.metrics
      },
      w.stat == null ? {} : { stat = w.stat },
    )
  }])
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({ widgets = local.widgets })
}
