# One role per component, each limited to the buckets, prefixes, stream and
# catalog objects it works on. No role gets "*" actions; "*" resources appear
# only for actions that have no resource-level permissions.

locals {
  raw       = var.bucket_arns["raw"]
  silver    = var.bucket_arns["silver"]
  gold      = var.bucket_arns["gold"]
  logs      = var.bucket_arns["logs"]
  artifacts = var.bucket_arns["artifacts"]
  stream    = "arn:aws:kinesis:${var.region}:${var.account_id}:stream/${var.stream_name}"
  catalog   = "arn:aws:glue:${var.region}:${var.account_id}:catalog"
  db        = { for k, v in var.glue_databases : k => "arn:aws:glue:${var.region}:${var.account_id}:database/${v}" }
  tables    = { for k, v in var.glue_databases : k => "arn:aws:glue:${var.region}:${var.account_id}:table/${v}/*" }

  # The producer's task family and job definition, as deploy/ names them
  # (marketpulse-${ENV}-producer): this environment's only.
  task_family = "${var.name_prefix}-producer"
  job_name    = "${var.name_prefix}-producer"
  ecs         = "arn:aws:ecs:${var.region}:${var.account_id}"
  batch       = "arn:aws:batch:${var.region}:${var.account_id}"
}

data "aws_iam_policy_document" "assume" {
  for_each = {
    producer      = "ecs-tasks.amazonaws.com"
    ecs_execution = "ecs-tasks.amazonaws.com"
    emr           = "elasticmapreduce.amazonaws.com"
    emr_ec2       = "ec2.amazonaws.com"
    glue          = "glue.amazonaws.com"
    redshift      = "redshift.amazonaws.com"
    firehose      = "firehose.amazonaws.com"
    batch         = "batch.amazonaws.com"
    batch_ec2     = "ec2.amazonaws.com"
    chain         = "states.amazonaws.com"
    scheduler     = "scheduler.amazonaws.com"
    # People and the daily chain of this account, whose own policies must
    # also let them assume it.
    launcher = "arn:aws:iam::${var.account_id}:root"
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = startswith(each.value, "arn:") ? "AWS" : "Service"
      identifiers = [each.value]
    }
    dynamic "condition" {
      for_each = contains(["emr", "glue", "firehose", "batch", "chain", "scheduler", "redshift"], each.key) ? [1] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = data.aws_iam_policy_document.assume
  name               = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  assume_role_policy = each.value.json
}

resource "aws_iam_role_policy" "this" {
  for_each = local.policies
  name     = "least-privilege"
  role     = aws_iam_role.this[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = each.value })
}

locals {
  policies = {
    # The producer task: writes the raw lake and the Kinesis stream, exactly
    # the calls the access ledger records (infra/tests/test_access.py).
    producer = [
      { Effect = "Allow", Action = ["s3:ListBucket", "s3:ListBucketMultipartUploads"], Resource = local.raw },
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource = "${local.raw}/*" },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
      { Effect = "Allow", Action = ["kinesis:PutRecords", "kinesis:DescribeStreamSummary"], Resource = local.stream },
    ]
    # ECS pulls the image and writes the task's logs.
    ecs_execution = [
      { Sid = "RegistryLogin", Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = "*" },
      { Sid = "PullImage", Effect = "Allow", Action = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], Resource = "arn:aws:ecr:${var.region}:${var.account_id}:repository/marketpulse*" },
      { Sid = "TaskLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "arn:aws:logs:${var.region}:${var.account_id}:log-group:/marketpulse/*" },
    ]
    # EMR's service role: AmazonEMRServicePolicy_v2 (attached below) acts only
    # on subnets and security groups tagged for it; it passes only roles named
    # EMR_EC2_DefaultRole, so the nodes' role is passed here.
    emr = [
      { Sid = "PassNodeRole", Effect = "Allow", Action = ["iam:PassRole"], Resource = "arn:aws:iam::${var.account_id}:role/${var.name_prefix}-emr-ec2", Condition = { StringLike = { "iam:PassedToService" = "ec2.amazonaws.com*" } } },
      # The security configuration encrypts the nodes' EBS volumes with the
      # key: EMR launches them, so its role is a key user, and may hand EC2
      # and EBS grants on it (EMR Management Guide, "Create keys and
      # certificates for data encryption with Amazon EMR").
      { Sid = "EbsEncryptionKey", Effect = "Allow", Action = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], Resource = var.kms_key_arn },
      { Sid = "EbsEncryptionGrants", Effect = "Allow", Action = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], Resource = var.kms_key_arn, Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } } },
    ]
    # EMR nodes: bronze->silver reads raw, writes silver and registers it in
    # the catalog (the calls the access ledger records); the fleet runs the
    # producer on raw, resuming; EMR ships the nodes' logs.
    emr_ec2 = [
      { Effect = "Allow", Action = ["s3:ListBucket", "s3:ListBucketMultipartUploads"], Resource = local.raw },
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = local.silver },
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource = ["${local.raw}/*", "${local.silver}/*"] },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = "${local.artifacts}/*" },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
      { Sid = "ClusterLogs", Effect = "Allow", Action = ["s3:PutObject"], Resource = "${local.logs}/emr/*" },
      { Effect = "Allow", Action = ["glue:CreateDatabase"], Resource = [local.catalog, local.db["silver"]] },
      { Effect = "Allow", Action = ["glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"], Resource = [local.catalog, local.db["silver"], local.tables["silver"]] },
    ]
    # Glue silver->gold, exactly what the access ledger records: the job
    # reads silver and rewrites gold days; Glue fetches its script and wheel,
    # keeps temporary files under --TempDir, encrypts bookmarks with the key
    # and writes the job's logs and metrics.
    glue = [
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = [local.silver, local.gold, local.artifacts] },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.silver}/*", "${local.artifacts}/jobs/*"] },
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource = ["${local.gold}/*", "${local.artifacts}/glue/tmp/*"] },
      { Sid = "FailedUploads", Effect = "Allow", Action = ["s3:AbortMultipartUpload"], Resource = "${local.gold}/*" },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"], Resource = var.kms_key_arn },
      # The gold-partitions crawler adds each new day's partitions.
      { Sid = "GoldPartitionsCrawler", Effect = "Allow", Action = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions", "glue:BatchGetPartition", "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition"], Resource = [local.catalog, local.db["gold"], local.tables["gold"]] },
      { Effect = "Allow", Action = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"], Resource = "arn:aws:logs:${var.region}:${var.account_id}:log-group:/aws-glue/*" },
      { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = "*", Condition = { StringEquals = { "cloudwatch:namespace" = "Glue" } } },
    ]
    # Redshift, exactly what the access ledger derives from jobs/redshift/sql:
    # COPY reads gold, UNLOAD writes gold/unload under the key, Spectrum reads
    # the gold catalog and files.
    redshift = [
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = local.gold },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = "${local.gold}/gold/*" },
      { Effect = "Allow", Action = ["s3:PutObject"], Resource = "${local.gold}/unload/*" },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
      { Effect = "Allow", Action = ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], Resource = [local.catalog, local.db["gold"], local.tables["gold"]] },
    ]
    # Firehose: reads the stream, writes raw.
    # Firehose, as its developer guide lists for a Kinesis source and an S3
    # destination: read the stream, write raw under the key, log errors.
    firehose = [
      { Sid = "ReadStream", Effect = "Allow", Action = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"], Resource = local.stream },
      { Sid = "WriteRaw", Effect = "Allow", Action = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"], Resource = [local.raw, "${local.raw}/*"] },
      { Sid = "EnvironmentKey", Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
      { Sid = "ErrorLogs", Effect = "Allow", Action = ["logs:PutLogEvents"], Resource = "arn:aws:logs:${var.region}:${var.account_id}:log-group:/marketpulse/*" },
    ]
    # The fleet launchers (marketpulse-ecs-launch, marketpulse-batch-submit),
    # exactly what the access ledger records: they start the producer's tasks
    # and array jobs on this environment's cluster and queue, hand the tasks
    # their roles, and read the lake's manifests to judge each shard.
    launcher = [
      { Effect = "Allow", Action = ["ecs:RunTask"], Resource = "${local.ecs}:task-definition/${local.task_family}:*", Condition = { ArnEquals = { "ecs:cluster" = "${local.ecs}:cluster/${var.name_prefix}" } } },
      { Effect = "Allow", Action = ["ecs:DescribeTasks"], Resource = "${local.ecs}:task/${var.name_prefix}/*" },
      { Effect = "Allow", Action = ["iam:PassRole"], Resource = ["arn:aws:iam::${var.account_id}:role/${var.name_prefix}-producer", "arn:aws:iam::${var.account_id}:role/${var.name_prefix}-ecs-execution"], Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } } },
      { Effect = "Allow", Action = ["batch:SubmitJob"], Resource = ["${local.batch}:job/*", "${local.batch}:job-queue/${var.name_prefix}-spot", "${local.batch}:job-definition/${local.job_name}", "${local.batch}:job-definition/${local.job_name}:*"] },
      { Effect = "Allow", Action = ["batch:DescribeJobs"], Resource = "*" },
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = local.raw },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.raw}/_manifests/*", "${local.raw}/*/_manifests/*"] },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn },
    ]
    # The daily chain (module.orchestration), exactly what the access ledger
    # derives from its executions: the producer fleet and verify on Batch
    # (.sync watches the jobs through an EventBridge rule Step Functions
    # manages), the EMR steps, the Glue job and crawler, the marts' load and
    # a query through the Data API as the etl and bi users, the alarm topic
    # and the success metric.
    chain = [
      { Effect = "Allow", Action = ["batch:SubmitJob"], Resource = ["${local.batch}:job/*", "${local.batch}:job-queue/${var.name_prefix}-spot", "${local.batch}:job-definition/${local.job_name}", "${local.batch}:job-definition/${local.job_name}:*"] },
      { Sid = "BatchSync", Effect = "Allow", Action = ["batch:DescribeJobs"], Resource = "*" },
      { Sid = "StopBatchOnAbort", Effect = "Allow", Action = ["batch:TerminateJob"], Resource = "${local.batch}:job/*" },
      { Sid = "BatchSyncRule", Effect = "Allow", Action = ["events:PutTargets", "events:PutRule", "events:DescribeRule"], Resource = "arn:aws:events:${var.region}:${var.account_id}:rule/StepFunctionsGetEventsForBatchJobsRule" },
      { Effect = "Allow", Action = ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep"], Resource = "arn:aws:elasticmapreduce:${var.region}:${var.account_id}:cluster/*", Condition = { StringEquals = { "aws:ResourceTag/env" = trimprefix(var.name_prefix, "marketpulse-") } } },
      { Effect = "Allow", Action = ["glue:StartJobRun", "glue:GetJobRun"], Resource = "arn:aws:glue:${var.region}:${var.account_id}:job/${var.name_prefix}-silver-to-gold" },
      { Sid = "StopGlueOnAbort", Effect = "Allow", Action = ["glue:GetJobRuns", "glue:BatchStopJobRun"], Resource = "arn:aws:glue:${var.region}:${var.account_id}:job/${var.name_prefix}-silver-to-gold" },
      { Effect = "Allow", Action = ["glue:StartCrawler"], Resource = "arn:aws:glue:${var.region}:${var.account_id}:crawler/${var.name_prefix}-gold-partitions" },
      { Effect = "Allow", Action = ["redshift-data:BatchExecuteStatement"], Resource = "arn:aws:redshift:${var.region}:${var.account_id}:cluster:${var.name_prefix}" },
      { Effect = "Allow", Action = ["redshift-data:DescribeStatement"], Resource = "*" },
      { Effect = "Allow", Action = ["redshift:GetClusterCredentials"], Resource = ["arn:aws:redshift:${var.region}:${var.account_id}:dbuser:${var.name_prefix}/etl_loader", "arn:aws:redshift:${var.region}:${var.account_id}:dbuser:${var.name_prefix}/bi_reader", "arn:aws:redshift:${var.region}:${var.account_id}:dbname:${var.name_prefix}/marketpulse"] },
      { Effect = "Allow", Action = ["sns:Publish"], Resource = "arn:aws:sns:${var.region}:${var.account_id}:${var.name_prefix}-alarms" },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
      { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = "*", Condition = { StringEquals = { "cloudwatch:namespace" = "MarketPulse/Chain" } } },
      { Sid = "ExecutionLogs", Effect = "Allow", Action = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"], Resource = "*" },
      { Sid = "Tracing", Effect = "Allow", Action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"], Resource = "*" },
    ]
    # EventBridge Scheduler starts the chain, and pauses and resumes dev's
    # Redshift cluster.
    scheduler = [
      { Effect = "Allow", Action = ["states:StartExecution"], Resource = "arn:aws:states:${var.region}:${var.account_id}:stateMachine:${var.name_prefix}-daily-chain" },
      { Effect = "Allow", Action = ["redshift:PauseCluster", "redshift:ResumeCluster"], Resource = "arn:aws:redshift:${var.region}:${var.account_id}:cluster:${var.name_prefix}" },
      { Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.kms_key_arn },
    ]
  }
}

# The policies AWS documents for its service roles, kept current by AWS:
# EMR's service role (with the tag conditions the network and EMR modules
# meet), Batch's service role, and the Amazon ECS instance role Batch's hosts
# run under (AWS Batch User Guide, "Amazon ECS instance role").
resource "aws_iam_role_policy_attachment" "aws_managed" {
  for_each = {
    emr       = "service-role/AmazonEMRServicePolicy_v2"
    batch     = "service-role/AWSBatchServiceRole"
    batch_ec2 = "service-role/AmazonEC2ContainerServiceforEC2Role"
  }
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/${each.value}"
}

resource "aws_iam_instance_profile" "emr_ec2" {
  name = "${var.name_prefix}-emr-ec2"
  role = aws_iam_role.this["emr_ec2"].name
}

resource "aws_iam_instance_profile" "batch_ec2" {
  name = "${var.name_prefix}-batch-ec2"
  role = aws_iam_role.this["batch_ec2"].name
}
