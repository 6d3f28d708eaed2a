# The daily chain, defined once: a Step Functions state machine that runs
# one day through the platform, started by EventBridge Scheduler
# (docs/decisions/ADR-017-daily-chain.md):
#   producer fleet (Batch array job) -> verify (Batch) -> bronze->silver
#   (EMR step) -> quality gate (EMR step) -> silver->gold (Glue) and its
#   partition crawler -> the marts' load (Redshift Data API) -> a BI smoke
#   query -> a success metric.
# A stage that fails, or a gate that blocks, is reported to the alarm topic
# and ends the execution. Every stage replaces what it wrote for the day,
# so running a day again gives the same result.

locals {
  # The day, in the EMR steps' own files, is filled in at run time.
  day  = "@@DAY@@"
  lake = "s3://${var.bucket_names["raw"]}/daily/${local.day}/"
  step_values = {
    INGEST_DATE      = local.day
    RUN_ID           = local.day
    RAW_LAKE         = local.lake
    ARTIFACTS_BUCKET = var.bucket_names["artifacts"]
    JOBS_VERSION     = var.jobs_version
    SILVER_BUCKET    = var.bucket_names["silver"]
    GLUE_DATABASE    = var.glue_database_silver
  }
  steps = {
    for name in ["bronze_to_silver", "quality_gate"] :
    name => jsondecode(templatefile("${path.module}/../../../deploy/emr/steps/${name}.json", local.step_values))
  }
  # A step's name and arguments as intrinsic functions of the execution's
  # $.day: string literals escaped as ASL asks ('{}\ need a backslash).
  escaped = {
    for name, step in local.steps : name => [
      for text in concat([step.Name], step.HadoopJarStep.Args) :
      replace(replace(replace(replace(text, "\\", "\\\\"), "'", "\\'"), "{", "\\{"), "}", "\\}")
    ]
  }
  intrinsic = {
    for name, texts in local.escaped : name => [
      for text in texts : (
        strcontains(text, local.day)
        ? "States.Format('${replace(text, local.day, "{}")}', ${join(", ", [for _ in range(length(split(local.day, text)) - 1) : "$.day"])})"
        : "'${text}'"
      )
    ]
  }

  # jobs/redshift/sql, rendered for this stack, one statement per item on
  # one line, comments dropped. The Data API runs a batch as one transaction, so the
  # file's own BEGIN and COMMIT go.
  sql = {
    for name, sql_file in { load = "load/copy_marts.sql", smoke = "queries/01_daily_revenue_by_store_and_country.sql" } :
    name => [
      for s in split(";", join("\n", [
        for line in split("\n", file("${path.module}/../../../jobs/redshift/sql/${sql_file}")) :
        replace(replace(split("--", line)[0], "{{ gold_uri }}", var.redshift_sql_params["gold_uri"]), "{{ iam_role }}", var.redshift_sql_params["iam_role"])
      ])) : trimspace(replace(s, "/\\s+/", " ")) if !contains(["", "BEGIN", "COMMIT"], upper(trimspace(s)))
    ]
  }

  # Errors a stage retries with backoff: throttling, AWS-side faults, a run
  # already going. A failed job or step is not one: it has failed.
  transient = {
    emr      = ["Emr.ThrottlingException", "Emr.InternalServerException", "Emr.InternalServerErrorException"]
    glue     = ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException", "Glue.InternalServiceException", "Glue.OperationTimeoutException"]
    batch    = ["Batch.ServerException", "Batch.TooManyRequestsException", "Batch.AWSBatchException"]
    redshift = ["RedshiftData.ThrottlingException", "RedshiftData.InternalServerException", "RedshiftData.ActiveStatementsExceededException"]
    other    = ["States.Timeout", "CloudWatch.ThrottlingException", "Sns.ThrottledException", "SNS.ThrottledException"]
  }
  retry = {
    for service, errors in local.transient :
    service => [{ ErrorEquals = errors, IntervalSeconds = 2, BackoffRate = 2, MaxAttempts = 4, JitterStrategy = "FULL" }]
  }
  catch = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "Report failure" }]
  final = ["FAILED", "CANCELLED", "INTERRUPTED"]

  # Submit an EMR step, then poll it: EMR has no .sync integration.
  emr_stage = {
    for name, next in { bronze_to_silver = "quality_gate", quality_gate = "Gold" } : name => {
      submit = {
        Type     = "Task"
        Resource = "arn:aws:states:::aws-sdk:emr:addJobFlowSteps"
        Parameters = {
          JobFlowId = var.emr_cluster_id
          Steps = [{
            "Name.$"        = local.intrinsic[name][0]
            ActionOnFailure = local.steps[name].ActionOnFailure
            HadoopJarStep = {
              Jar      = local.steps[name].HadoopJarStep.Jar
              "Args.$" = "States.Array(${join(", ", slice(local.intrinsic[name], 1, length(local.intrinsic[name])))})"
            }
          }]
        }
        ResultSelector = { "StepId.$" = "$.StepIds[0]" }
        ResultPath     = "$.${name}"
        Retry          = local.retry.emr
        Catch          = local.catch
        Next           = "${name} wait"
      }
      wait = { Type = "Wait", SecondsPath = "$.poll_seconds", Next = "${name} poll" }
      poll = {
        Type           = "Task"
        Resource       = "arn:aws:states:::aws-sdk:emr:describeStep"
        Parameters     = { ClusterId = var.emr_cluster_id, "StepId.$" = "$.${name}.StepId" }
        ResultSelector = { "State.$" = "$.Step.Status.State" }
        ResultPath     = "$.${name}.status"
        Retry          = local.retry.emr
        Catch          = local.catch
        Next           = "${name} done?"
      }
      done = {
        Type = "Choice"
        Choices = [
          { Variable = "$.${name}.status.State", StringEquals = "COMPLETED", Next = next },
          { Or = [for s in local.final : { Variable = "$.${name}.status.State", StringEquals = s }], Next = name == "quality_gate" ? "Gate blocked" : "${name} failed" },
        ]
        Default = "${name} wait"
      }
    }
  }

  # Run a Data API batch, then poll it (a batch's statements run in one
  # transaction).
  sql_stage = {
    for name, next in { load = "smoke", smoke = "Success metric" } : name => {
      submit = {
        Type     = "Task"
        Resource = "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement"
        Parameters = {
          ClusterIdentifier = var.redshift_cluster_id
          Database          = var.redshift_database
          # The loader is in the etl user group (its WLM queue); the smoke
          # query runs as BI does, in the bi query group.
          DbUser            = name == "load" ? "etl_loader" : "bi_reader"
          Sqls              = name == "load" ? local.sql.load : concat(["SET query_group TO 'bi'"], local.sql.smoke)
          "StatementName.$" = "States.Format('marketpulse ${name} {}', $.day)"
        }
        ResultSelector = { "Id.$" = "$.Id" }
        ResultPath     = "$.${name}"
        Retry          = local.retry.redshift
        Catch          = local.catch
        Next           = "${name} wait"
      }
      wait = { Type = "Wait", SecondsPath = "$.poll_seconds", Next = "${name} poll" }
      poll = {
        Type           = "Task"
        Resource       = "arn:aws:states:::aws-sdk:redshiftdata:describeStatement"
        Parameters     = { "Id.$" = "$.${name}.Id" }
        ResultSelector = { "Status.$" = "$.Status" }
        ResultPath     = "$.${name}.status"
        Retry          = local.retry.redshift
        Catch          = local.catch
        Next           = "${name} done?"
      }
      done = {
        Type = "Choice"
        Choices = [
          { Variable = "$.${name}.status.Status", StringEquals = "FINISHED", Next = next },
          { Or = [for s in ["FAILED", "ABORTED"] : { Variable = "$.${name}.status.Status", StringEquals = s }], Next = "${name} failed" },
        ]
        Default = "${name} wait"
      }
    }
  }

  # The day's producer fleet: one dataset per day, in its own lake, so a
  # re-run resumes and rewrites the same files.
  produce = {
    Type     = "Task"
    Resource = "arn:aws:states:::batch:submitJob.sync"
    Parameters = merge(
      {
        "JobName.$"   = "States.Format('marketpulse-produce-{}', $.day)"
        JobQueue      = var.batch_job_queue_arn
        JobDefinition = var.batch_job_definition_arn
        ContainerOverrides = {
          Environment = [
            { Name = "MARKETPULSE_OUT", "Value.$" = "States.Format('s3://${var.bucket_names["raw"]}/daily/{}/', $.day)" },
            { Name = "MARKETPULSE_START", "Value.$" = "$.day" },
            { Name = "MARKETPULSE_DAYS", Value = "1" },
            { Name = "MARKETPULSE_SCALE", Value = var.generate.scale },
            { Name = "MARKETPULSE_SHARD_COUNT", Value = tostring(var.generate.shards) },
          ]
        }
      },
      # Batch takes arrays of 2 or more.
      var.generate.shards > 1 ? { ArrayProperties = { Size = var.generate.shards } } : {},
    )
    ResultPath = null
    Retry      = local.retry.batch
    Catch      = local.catch
    Next       = "Verify"
  }
  verify = {
    Type     = "Task"
    Resource = "arn:aws:states:::batch:submitJob.sync"
    Parameters = {
      "JobName.$"        = "States.Format('marketpulse-verify-{}', $.day)"
      JobQueue           = var.batch_job_queue_arn
      JobDefinition      = var.batch_job_definition_arn
      ContainerOverrides = { "Command.$" = "States.Array('verify', States.Format('s3://${var.bucket_names["raw"]}/daily/{}/', $.day))" }
    }
    ResultPath = null
    Retry      = local.retry.batch
    Catch      = local.catch
    Next       = "bronze_to_silver"
  }

  failures = {
    "bronze_to_silver failed" = "bronze->silver's EMR step did not complete: its stderr is in the logs bucket under emr/"
    "load failed"             = "the marts' load failed and was rolled back: the marts keep the last good day"
    "smoke failed"            = "the BI smoke query failed on the loaded marts"
  }

  definition = {
    Comment        = "${var.name_prefix}: one day through the platform (infra/modules/orchestration)"
    StartAt        = "Day given?"
    TimeoutSeconds = 12 * 3600
    States = merge(
      {
        # A run started by hand (a re-run, a backfill) names its day; the
        # schedule passes its time, whose UTC date is the day.
        "Day given?" = {
          Type    = "Choice"
          Choices = [{ Variable = "$.day", IsPresent = true, Next = "Poll interval given?" }]
          Default = "Day of the schedule"
        }
        "Day of the schedule" = {
          Type       = "Pass"
          Parameters = { "day.$" = "States.ArrayGetItem(States.StringSplit($.scheduled_time, 'T'), 0)" }
          ResultPath = "$.derived"
          Next       = "Take the day"
        }
        "Take the day" = {
          Type       = "Pass"
          InputPath  = "$.derived.day"
          ResultPath = "$.day"
          Next       = "Poll interval given?"
        }
        "Poll interval given?" = {
          Type    = "Choice"
          Choices = [{ Variable = "$.poll_seconds", IsPresent = true, Next = "Produce" }]
          Default = "Default poll interval"
        }
        "Default poll interval" = { Type = "Pass", Result = 60, ResultPath = "$.poll_seconds", Next = "Produce" }
        Produce                 = local.produce
        Verify                  = local.verify
        Gold = {
          Type       = "Task"
          Resource   = "arn:aws:states:::glue:startJobRun.sync"
          Parameters = { JobName = var.glue_job_name }
          ResultPath = null
          Retry      = local.retry.glue
          Catch      = local.catch
          Next       = "Gold partitions"
        }
        # Spectrum sees the new days once their partitions are catalogued.
        "Gold partitions" = {
          Type       = "Task"
          Resource   = "arn:aws:states:::aws-sdk:glue:startCrawler"
          Parameters = { Name = var.gold_crawler_name }
          ResultPath = null
          Retry      = local.retry.glue
          # Already crawling: that run adds the partitions.
          Catch = concat([{ ErrorEquals = ["Glue.CrawlerRunningException"], ResultPath = null, Next = "load" }], local.catch)
          Next  = "load"
        }
        "Success metric" = {
          Type     = "Task"
          Resource = "arn:aws:states:::aws-sdk:cloudwatch:putMetricData"
          Parameters = {
            Namespace  = "MarketPulse/Chain"
            MetricData = [{ MetricName = "DaySucceeded", Value = 1, Unit = "Count", Dimensions = [{ Name = "Environment", Value = var.env }] }]
          }
          ResultPath = null
          Retry      = local.retry.other
          Catch      = local.catch
          Next       = "Done"
        }
        Done = { Type = "Succeed" }
        "Gate blocked" = {
          Type     = "Task"
          Resource = "arn:aws:states:::sns:publish"
          Parameters = {
            TopicArn    = var.alarm_topic_arn
            Subject     = "${var.name_prefix}: quality gate blocked a day"
            "Message.$" = "States.Format('${var.name_prefix}: the quality gate blocked {}: gold and the marts keep the last good day. The gate step {} on ${var.emr_cluster_id} names each table above its threshold (docs/runbooks/failed-load.md).', $.day, $.quality_gate.StepId)"
          }
          ResultPath = null
          Retry      = local.retry.other
          Next       = "Blocked"
        }
        Blocked = { Type = "Fail", Error = "QualityGate.Blocked", Cause = "a table quarantined more than its threshold (marketpulse_jobs/quality_gate.json)" }
        "Report failure" = {
          Type     = "Task"
          Resource = "arn:aws:states:::sns:publish"
          Parameters = {
            TopicArn    = var.alarm_topic_arn
            Subject     = "${var.name_prefix}: the daily chain failed"
            "Message.$" = "States.Format('${var.name_prefix}: the daily chain failed on {}: {}: {} (docs/runbooks/failed-load.md).', $.day, $.error.Error, $.error.Cause)"
          }
          ResultPath = null
          Retry      = local.retry.other
          Next       = "Failed"
        }
        Failed = { Type = "Fail", Error = "Chain.Failed", Cause = "a stage failed: the alarm topic has its error" }
      },
      { for name, cause in local.failures : name => {
        Type       = "Pass"
        Result     = { Error = "Chain.${replace(title(replace(split(" ", name)[0], "_", " ")), " ", "")}Failed", Cause = cause }
        ResultPath = "$.error"
        Next       = "Report failure"
      } },
      merge([for name, stage in local.emr_stage : { (name) = stage.submit, "${name} wait" = stage.wait, "${name} poll" = stage.poll, "${name} done?" = stage.done }]...),
      merge([for name, stage in local.sql_stage : { (name) = stage.submit, "${name} wait" = stage.wait, "${name} poll" = stage.poll, "${name} done?" = stage.done }]...),
    )
  }
}

resource "aws_cloudwatch_log_group" "chain" {
  name              = "/aws/vendedlogs/states/${var.name_prefix}-daily-chain"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sfn_state_machine" "chain" {
  name       = "${var.name_prefix}-daily-chain"
  role_arn   = var.chain_role_arn
  definition = jsonencode(local.definition)
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.chain.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }
  tracing_configuration {
    enabled = true
  }
  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
}

resource "aws_scheduler_schedule" "chain" {
  name                         = "${var.name_prefix}-daily-chain"
  group_name                   = aws_scheduler_schedule_group.this.name
  schedule_expression          = var.schedule.expression
  schedule_expression_timezone = var.schedule.timezone
  kms_key_arn                  = var.kms_key_arn
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_sfn_state_machine.chain.arn
    role_arn = var.scheduler_role_arn
    input    = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>", poll_seconds = 60 })
    retry_policy {
      maximum_retry_attempts = 3
    }
  }
}

# dev's cluster runs only in working hours (docs/capacity.md): Scheduler's
# universal target calls Redshift itself.
resource "aws_scheduler_schedule" "redshift" {
  for_each                     = var.redshift_pause == null ? {} : { pause = var.redshift_pause.pause_expression, resume = var.redshift_pause.resume_expression }
  name                         = "${var.name_prefix}-redshift-${each.key}"
  group_name                   = aws_scheduler_schedule_group.this.name
  schedule_expression          = each.value
  schedule_expression_timezone = var.redshift_pause.timezone
  kms_key_arn                  = var.kms_key_arn
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = "arn:aws:scheduler:::aws-sdk:redshift:${each.key}Cluster"
    role_arn = var.scheduler_role_arn
    input    = jsonencode({ ClusterIdentifier = var.redshift_cluster_id })
    retry_policy {
      maximum_retry_attempts = 3
    }
  }
}
