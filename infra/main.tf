# The MarketPulse platform for one environment (the workspace): network,
# key, lake, catalog and jobs, EMR, Redshift, streaming, the producer fleet,
# monitoring and budgets. Module order follows the data: storage first,
# then what writes and reads it.

data "aws_caller_identity" "current" {}

locals {
  env         = var.env
  name_prefix = "marketpulse-${local.env}"
  account_id  = data.aws_caller_identity.current.account_id
  stream_name = "${local.name_prefix}-events"
  # The {{ name }} values of jobs/redshift/sql/ on this stack (output
  # redshift_sql_params; the daily chain renders the load with them).
  redshift_sql_params = {
    gold_uri   = "s3://${module.s3_lake.bucket_names["gold"]}/gold"
    unload_uri = "s3://${module.s3_lake.bucket_names["gold"]}/unload"
    iam_role   = module.iam.role_arns["redshift"]
    kms_key_id = module.kms.key_arn
    # serve/external_schema.sql: Spectrum over the gold catalog.
    glue_gold_database = module.glue.databases["gold"]
  }
  firehose = "${local.name_prefix}-events-to-raw"
}

# A tfvars file applied in the wrong workspace (or in "default") stops
# here: every module depends on this check, so -target cannot skip it.
resource "terraform_data" "workspace_matches_env" {
  input = var.env
  lifecycle {
    precondition {
      condition     = terraform.workspace == var.env
      error_message = "This is workspace ${terraform.workspace} but the tfvars say env = ${var.env}: run terraform workspace select ${var.env}."
    }
  }
}

module "kms" {
  source      = "./modules/kms"
  depends_on  = [terraform_data.workspace_matches_env]
  name_prefix = local.name_prefix
  account_id  = local.account_id
  region      = var.region
}

module "network" {
  source             = "./modules/network"
  depends_on         = [terraform_data.workspace_matches_env]
  name_prefix        = local.name_prefix
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
  nat_gateways       = var.nat_gateways
  region             = var.region
  kms_key_arn        = module.kms.key_arn
}

module "iam" {
  source         = "./modules/iam"
  depends_on     = [terraform_data.workspace_matches_env]
  name_prefix    = local.name_prefix
  account_id     = local.account_id
  region         = var.region
  kms_key_arn    = module.kms.key_arn
  bucket_arns    = { for l in ["raw", "silver", "gold", "logs", "artifacts"] : l => "arn:aws:s3:::marketpulse-${local.account_id}-${local.env}-${l}" }
  stream_name    = local.stream_name
  glue_databases = { for l in ["silver", "gold"] : l => "marketpulse_${local.env}_${l}" }
}

module "s3_lake" {
  source        = "./modules/s3_lake"
  depends_on    = [terraform_data.workspace_matches_env]
  name_prefix   = local.name_prefix
  account_id    = local.account_id
  env           = local.env
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy
  break_glass   = "arn:aws:iam::${local.account_id}:role/${var.break_glass_role_name}"
  writers = {
    raw    = [module.iam.role_arns["producer"], module.iam.role_arns["emr_ec2"], module.iam.role_arns["firehose"]]
    silver = [module.iam.role_arns["emr_ec2"]]
    gold   = [module.iam.role_arns["glue"], module.iam.role_arns["redshift"]]
  }
}

module "glue" {
  source        = "./modules/glue"
  depends_on    = [terraform_data.workspace_matches_env]
  name_prefix   = local.name_prefix
  env           = local.env
  bucket_names  = module.s3_lake.bucket_names
  kms_key_arn   = module.kms.key_arn
  glue_role_arn = module.iam.role_arns["glue"]
  jobs_version  = var.jobs_version
}

module "emr" {
  source                  = "./modules/emr"
  depends_on              = [terraform_data.workspace_matches_env]
  name_prefix             = local.name_prefix
  vpc_id                  = module.network.vpc_id
  subnet_id               = module.network.private_subnet_ids[0]
  service_role_arn        = module.iam.role_arns["emr"]
  instance_profile        = module.iam.emr_instance_profile
  kms_key_arn             = module.kms.key_arn
  bucket_names            = module.s3_lake.bucket_names
  producer_version        = var.producer_version
  producer_sha256         = var.producer_sha256
  jobs_version            = var.jobs_version
  jobs_sha256             = var.jobs_sha256
  task_instance_count     = var.emr_task_instance_count
  max_capacity_units      = var.emr_max_capacity_units
  enable_scaling_policies = !var.emulator
}

module "redshift" {
  source              = "./modules/redshift"
  depends_on          = [terraform_data.workspace_matches_env]
  name_prefix         = local.name_prefix
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.cidr
  s3_prefix_list_id   = module.network.s3_prefix_list_id
  subnet_ids          = module.network.private_subnet_ids
  kms_key_arn         = module.kms.key_arn
  iam_role_arn        = module.iam.role_arns["redshift"]
  logs_bucket         = module.s3_lake.bucket_names["logs"]
  nodes               = var.redshift_nodes
  skip_final_snapshot = var.force_destroy
}

module "streaming" {
  source            = "./modules/streaming"
  depends_on        = [terraform_data.workspace_matches_env]
  name_prefix       = local.name_prefix
  kms_key_arn       = module.kms.key_arn
  raw_bucket_arn    = module.s3_lake.bucket_arns["raw"]
  firehose_role_arn = module.iam.role_arns["firehose"]
  shard_count       = var.kinesis_shards
}

module "producer_fleet" {
  source                     = "./modules/producer_fleet"
  depends_on                 = [terraform_data.workspace_matches_env]
  name_prefix                = local.name_prefix
  env                        = local.env
  region                     = var.region
  account_id                 = local.account_id
  image                      = var.producer_image
  task_role_arn              = module.iam.role_arns["producer"]
  execution_role_arn         = module.iam.role_arns["ecs_execution"]
  subnet_ids                 = module.network.private_subnet_ids
  security_group_ids         = [module.network.https_egress_security_group_id]
  kms_key_arn                = module.kms.key_arn
  log_retention_days         = 30
  batch_service_role_arn     = module.iam.role_arns["batch"]
  batch_instance_profile_arn = module.iam.batch_instance_profile_arn
}

module "orchestration" {
  source                   = "./modules/orchestration"
  depends_on               = [terraform_data.workspace_matches_env]
  name_prefix              = local.name_prefix
  env                      = local.env
  chain_role_arn           = module.iam.role_arns["chain"]
  scheduler_role_arn       = module.iam.role_arns["scheduler"]
  kms_key_arn              = module.kms.key_arn
  alarm_topic_arn          = module.monitoring.sns_topic_arn
  schedule                 = var.chain_schedule
  generate                 = var.chain_generate
  batch_job_queue_arn      = module.producer_fleet.batch_job_queue_arn
  batch_job_definition_arn = module.producer_fleet.batch_job_definition_arn
  bucket_names             = module.s3_lake.bucket_names
  emr_cluster_id           = module.emr.cluster_id
  jobs_version             = var.jobs_version
  glue_database_silver     = module.glue.databases["silver"]
  glue_job_name            = module.glue.job_name
  gold_crawler_name        = module.glue.crawler_name
  redshift_cluster_id      = module.redshift.cluster_id
  redshift_database        = module.redshift.database
  redshift_sql_params      = local.redshift_sql_params
  redshift_pause           = var.redshift_pause
}

module "monitoring" {
  source              = "./modules/monitoring"
  depends_on          = [terraform_data.workspace_matches_env]
  name_prefix         = local.name_prefix
  kms_key_arn         = module.kms.key_arn
  alarm_emails        = var.alarm_emails
  emr_alarm           = true
  emr_cluster_id      = module.emr.cluster_id
  glue_job_names      = [module.glue.job_name]
  redshift_alarm      = true
  redshift_cluster_id = module.redshift.cluster_id
  # The Sink dimension of the producer's EMF metrics, for its alarms.
  producer_sinks = [
    "kinesis://${local.stream_name}",
    "firehose://${local.firehose}",
    "s3://${module.s3_lake.bucket_names["raw"]}/lake",
  ]
}

module "budgets" {
  source            = "./modules/budgets"
  depends_on        = [terraform_data.workspace_matches_env]
  name_prefix       = local.name_prefix
  env               = local.env
  monthly_limit_usd = var.monthly_budget_usd
  sns_topic_arn     = module.monitoring.sns_topic_arn
  alert_emails      = var.alarm_emails
}
