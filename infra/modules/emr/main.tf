# A long-running EMR cluster for the silver job and the producer fleet:
# on-demand master and core (the Spark driver lives on core, so spot never
# takes it), spot task nodes for the work, managed scaling, auto-termination
# when idle. Bootstrap actions install the producer binary and the jobs
# wheel from artifacts, each checked by SHA-256 (deploy/emr/).

locals {
  artifacts = "s3://${var.bucket_names["artifacts"]}"
  certs     = var.tls_certificates_s3_object != "" ? var.tls_certificates_s3_object : "${local.artifacts}/emr/tls/certs.zip"
  fleet_step = jsondecode(templatefile("${path.module}/../../../deploy/emr/steps/fleet.json", {
    SHARDS           = var.sample_step_shards
    ARTIFACTS_BUCKET = var.bucket_names["artifacts"]
    LAKE             = "s3://${var.bucket_names["raw"]}/lake"
    KMS_KEY_ARN      = var.kms_key_arn
  }))
  spark_defaults = jsondecode(file("${path.module}/../../../deploy/emr/cluster.json")).Configurations
}

resource "aws_security_group" "master" {
  name                   = "${var.name_prefix}-emr-master"
  description            = "EMR master (EMR manages its rules)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  # AmazonEMRServicePolicy_v2 manages only security groups so tagged.
  tags = { for-use-with-amazon-emr-managed-policies = "true" }
}

resource "aws_security_group" "worker" {
  name                   = "${var.name_prefix}-emr-worker"
  description            = "EMR core and task nodes (EMR manages its rules)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  # AmazonEMRServicePolicy_v2 manages only security groups so tagged.
  tags = { for-use-with-amazon-emr-managed-policies = "true" }
}

resource "aws_security_group" "service" {
  name                   = "${var.name_prefix}-emr-service"
  description            = "EMR service access in a private subnet"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  # AmazonEMRServicePolicy_v2 manages only security groups so tagged.
  tags = { for-use-with-amazon-emr-managed-policies = "true" }
  ingress {
    description     = "EMR service access from the master"
    from_port       = 9443
    to_port         = 9443
    protocol        = "tcp"
    security_groups = [aws_security_group.master.id]
  }
}

# The long-running cluster's and the transient fleet cluster's (output
# security_configuration, deploy/emr/cluster.json): encryption at rest and in
# transit, and IMDSv2 only, one hop, on every node.
resource "aws_emr_security_configuration" "this" {
  name = var.name_prefix
  configuration = jsonencode({
    InstanceMetadataServiceConfiguration = {
      MinimumInstanceMetadataServiceVersion = 2
      HttpPutResponseHopLimit               = 1
    }
    EncryptionConfiguration = {
      EnableAtRestEncryption    = true
      EnableInTransitEncryption = true
      AtRestEncryptionConfiguration = {
        S3EncryptionConfiguration = { EncryptionMode = "SSE-KMS", AwsKmsKey = var.kms_key_arn }
        LocalDiskEncryptionConfiguration = {
          EncryptionKeyProviderType = "AwsKms"
          AwsKmsKey                 = var.kms_key_arn
          EnableEbsEncryption       = true
        }
      }
      InTransitEncryptionConfiguration = {
        TLSCertificateConfiguration = { CertificateProviderType = "PEM", S3Object = local.certs }
      }
    }
  })
}

resource "aws_emr_cluster" "this" {
  name                              = var.name_prefix
  release_label                     = var.release_label
  applications                      = ["Spark"]
  service_role                      = var.service_role_arn
  security_configuration            = aws_emr_security_configuration.this.name
  log_uri                           = "s3://${var.bucket_names["logs"]}/emr/"
  log_encryption_kms_key_id         = var.kms_key_arn
  keep_job_flow_alive_when_no_steps = true
  termination_protection            = false
  visible_to_all_users              = true
  scale_down_behavior               = "TERMINATE_AT_TASK_COMPLETION"

  ec2_attributes {
    subnet_id                         = var.subnet_id
    instance_profile                  = var.instance_profile
    emr_managed_master_security_group = aws_security_group.master.id
    emr_managed_slave_security_group  = aws_security_group.worker.id
    service_access_security_group     = aws_security_group.service.id
  }

  master_instance_group {
    name           = "master"
    instance_type  = var.master_instance_type
    instance_count = 1
  }

  core_instance_group {
    name           = "core"
    instance_type  = var.core_instance_type
    instance_count = var.core_instance_count
  }

  bootstrap_action {
    name = "install marketpulse"
    path = "${local.artifacts}/emr/bootstrap.sh"
    args = ["${local.artifacts}/bin/marketpulse-${var.producer_version}", var.producer_sha256]
  }

  bootstrap_action {
    name = "install marketpulse_jobs"
    path = "${local.artifacts}/emr/install-jobs.sh"
    args = ["${local.artifacts}/jobs/marketpulse_jobs-${var.jobs_version}-py3-none-any.whl", var.jobs_sha256]
  }

  # The fleet's Spark and YARN settings, from the same file the transient
  # fleet cluster uses (deploy/emr/cluster.json).
  configurations_json = jsonencode(local.spark_defaults)

  dynamic "step" {
    for_each = var.sample_step_shards > 0 ? [local.fleet_step] : []
    content {
      name              = step.value.Name
      action_on_failure = "CONTINUE"
      hadoop_jar_step {
        jar  = step.value.HadoopJarStep.Jar
        args = step.value.HadoopJarStep.Args
      }
    }
  }

  dynamic "auto_termination_policy" {
    for_each = var.enable_scaling_policies ? [1] : []
    content {
      idle_timeout = var.idle_timeout_seconds
    }
  }

  lifecycle {
    # Steps are submitted later (the daily chain, marketpulse-emr); they are
    # not part of the cluster's definition. Managed scaling owns the core
    # group's size.
    ignore_changes = [step, core_instance_group[0].instance_count]
  }
}

resource "aws_emr_instance_group" "task" {
  name           = "task-spot"
  cluster_id     = aws_emr_cluster.this.id
  instance_type  = var.task_instance_type
  instance_count = var.task_instance_count
  bid_price      = var.task_spot_bid_usd
  lifecycle {
    # Managed scaling owns the size once the cluster runs.
    ignore_changes = [instance_count]
  }
}

resource "aws_emr_managed_scaling_policy" "this" {
  count      = var.enable_scaling_policies ? 1 : 0
  cluster_id = aws_emr_cluster.this.id
  compute_limits {
    unit_type                       = "Instances"
    minimum_capacity_units          = var.min_capacity_units
    maximum_capacity_units          = var.max_capacity_units
    maximum_core_capacity_units     = var.core_instance_count
    maximum_ondemand_capacity_units = var.core_instance_count
  }
}
