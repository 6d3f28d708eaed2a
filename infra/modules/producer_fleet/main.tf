# The producer fleet: one ECS cluster whose tasks run on Fargate Spot by
# default (marketpulse-ecs-launch restarts reclaimed shards with resume), and an
# optional AWS Batch spot queue for array jobs (marketpulse-batch-submit).
#
# The task and job definitions are the JSON files under deploy/, which the
# launchers also register by hand; Terraform reads them rather than restating
# them, so there is one definition to change. templatefile fills their
# ${NAME} placeholders (ACCOUNT_ID, ENV, REGION, IMAGE, KMS_KEY_ARN); the files hold no
# other ${...} or %{...}, which templatefile would also interpret.

locals {
  placeholders = {
    ACCOUNT_ID  = var.account_id
    ENV         = var.env
    REGION      = var.region
    IMAGE       = var.image
    KMS_KEY_ARN = var.kms_key_arn
  }

  task = jsondecode(templatefile("${path.module}/../../../deploy/ecs/task-definition.json", local.placeholders))
  job  = jsondecode(templatefile("${path.module}/../../../deploy/batch/job-definition.json", local.placeholders))

  # The awslogs group the task definition names is the one this module makes.
  log_group_name = local.task.containerDefinitions[0].logConfiguration.options["awslogs-group"]

  # The job definition leaves its log group to Batch's default
  # (/aws/batch/job: unencrypted, kept forever). Its jobs log to a group of
  # their own under /aws/batch/, where the Batch hosts' role may write.
  batch_log_group_name = "/aws/batch/${var.name_prefix}-producer"
  batch_container_properties = merge(local.job.containerProperties, {
    jobRoleArn = var.task_role_arn
    logConfiguration = merge(local.job.containerProperties.logConfiguration, {
      options = {
        "awslogs-group"         = local.batch_log_group_name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "shard"
      }
    })
  })
}

# The roles come from inputs (one module owns IAM); the launchers' own
# registration path takes the names the templates spell out. Warn when the
# two disagree, as a definition registered by hand would then fail to start.
check "roles_match_the_templates" {
  assert {
    condition     = var.task_role_arn == local.task.taskRoleArn && var.task_role_arn == local.job.containerProperties.jobRoleArn
    error_message = "task_role_arn (${var.task_role_arn}) differs from the role deploy/ecs/task-definition.json and deploy/batch/job-definition.json name (${local.task.taskRoleArn}); marketpulse-ecs-launch --register would use the latter."
  }
  assert {
    condition     = var.execution_role_arn == local.task.executionRoleArn
    error_message = "execution_role_arn (${var.execution_role_arn}) differs from the role deploy/ecs/task-definition.json names (${local.task.executionRoleArn}); marketpulse-ecs-launch --register would use the latter."
  }
}

# The image ECS and Batch pull (deploy/container builds it). Tags are
# immutable so a version names one image; the execution roles may pull only
# from marketpulse* repositories.
resource "aws_ecr_repository" "producer" {
  name                 = var.name_prefix
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_cloudwatch_log_group" "producer" {
  #checkov:skip=CKV_AWS_338:Run logs of a synthetic data producer, not audit records. Control: retention is var.log_retention_days, set per environment.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "this" {
  name = var.name_prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # Should ECS Exec be turned on for a task (to debug a stuck shard), its
  # sessions are encrypted with the key and logged to the encrypted group.
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.producer.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  # Spot by default: a reclaimed shard resumes from what it delivered, so
  # interruptions cost minutes, not correctness. The launcher's
  # --capacity-provider FARGATE picks on-demand per run.
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }
}

resource "aws_ecs_task_definition" "producer" {
  family                   = local.task.family
  cpu                      = local.task.cpu
  memory                   = local.task.memory
  network_mode             = local.task.networkMode
  requires_compatibilities = local.task.requiresCompatibilities
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions    = jsonencode(local.task.containerDefinitions)

  runtime_platform {
    cpu_architecture        = local.task.runtimePlatform.cpuArchitecture
    operating_system_family = local.task.runtimePlatform.operatingSystemFamily
  }

  depends_on = [aws_cloudwatch_log_group.producer]
}

resource "aws_cloudwatch_log_group" "batch" {
  #checkov:skip=CKV_AWS_338:Run logs of a synthetic data producer, not audit records. Control: retention is var.log_retention_days, set per environment.
  count = var.enable_batch ? 1 : 0

  name              = local.batch_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# Batch's hosts answer the instance metadata service only with a session
# token (IMDSv2), and only to the host itself (one hop): a container cannot
# reach the instance role's credentials through it; jobs get theirs from the
# job role.
resource "aws_launch_template" "batch" {
  count = var.enable_batch ? 1 : 0

  name = "${var.name_prefix}-batch"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
}

resource "aws_batch_compute_environment" "spot" {
  count = var.enable_batch ? 1 : 0

  compute_environment_name = "${var.name_prefix}-spot"
  type                     = "MANAGED"
  # null: Batch's service-linked role, which AWS recommends over a custom one.
  service_role = var.batch_service_role_arn

  compute_resources {
    type = "SPOT"
    # Spot capacity least likely to be reclaimed, at a low price; retried
    # children resume, so a reclaim is cheap anyway.
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    min_vcpus           = 0
    max_vcpus           = var.batch_max_vcpus
    instance_type       = var.batch_instance_types
    instance_role       = var.batch_instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    ec2_configuration {
      image_type = "ECS_AL2023"
    }

    # By name and $Latest, both known when planning: an unknown template id
    # or version leaves the provider planning this block inconsistently.
    launch_template {
      launch_template_name = aws_launch_template.batch[0].name
      version              = "$Latest"
    }
  }
}

resource "aws_batch_job_queue" "spot" {
  count = var.enable_batch ? 1 : 0

  name     = "${var.name_prefix}-spot"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot[0].arn
  }
}

resource "aws_batch_job_definition" "producer" {
  count = var.enable_batch ? 1 : 0

  name                  = local.job.jobDefinitionName
  type                  = local.job.type
  platform_capabilities = local.job.platformCapabilities
  propagate_tags        = local.job.propagateTags
  container_properties  = jsonencode(local.batch_container_properties)

  retry_strategy {
    attempts = local.job.retryStrategy.attempts

    dynamic "evaluate_on_exit" {
      for_each = local.job.retryStrategy.evaluateOnExit
      content {
        action           = evaluate_on_exit.value.action
        on_exit_code     = lookup(evaluate_on_exit.value, "onExitCode", null)
        on_reason        = lookup(evaluate_on_exit.value, "onReason", null)
        on_status_reason = lookup(evaluate_on_exit.value, "onStatusReason", null)
      }
    }
  }

  timeout {
    attempt_duration_seconds = local.job.timeout.attemptDurationSeconds
  }

  depends_on = [aws_cloudwatch_log_group.batch]
}
