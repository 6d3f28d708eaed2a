# Provisioned RA3 serving the gold marts (jobs/redshift/sql). Serverless
# would suit a spiky BI load too, but the local emulator has no Redshift
# Serverless, and RA3's WLM queues are part of what is tested here.

resource "aws_redshift_subnet_group" "this" {
  name       = var.name_prefix
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name_prefix}-redshift"
  description = "Redshift from inside the VPC"
  vpc_id      = var.vpc_id
  ingress {
    description = "SQL clients in the VPC"
    from_port   = 5439
    to_port     = 5439
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  egress {
    description     = "S3 (COPY, UNLOAD, Spectrum) through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [var.s3_prefix_list_id]
  }
  egress {
    description = "Glue catalog (Spectrum) through the interface endpoint"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

resource "aws_redshift_parameter_group" "this" {
  name   = var.name_prefix
  family = "redshift-1.0"
  parameter {
    name  = "require_ssl"
    value = "true"
  }
  parameter {
    name  = "enable_user_activity_logging"
    value = "true"
  }
  # Loads (COPY/UNLOAD, the ETL user group) apart from BI queries, so a
  # backfill load never queues the dashboards; short queries jump ahead.
  parameter {
    name = "wlm_json_configuration"
    value = jsonencode([
      { user_group = ["etl"], query_concurrency = 2, memory_percent_to_use = 40 },
      { query_group = ["bi"], query_concurrency = 5, memory_percent_to_use = 55 },
      { query_concurrency = 1, memory_percent_to_use = 5 },
      { short_query_queue = true },
    ])
  }
}

resource "aws_redshift_cluster" "this" {
  #checkov:skip=CKV_AWS_71:checkov reads only the deprecated inline logging block. Control: aws_redshift_logging.this sends audit logs to S3.
  cluster_identifier                  = var.name_prefix
  node_type                           = var.node_type
  cluster_type                        = var.nodes > 1 ? "multi-node" : "single-node"
  number_of_nodes                     = var.nodes
  database_name                       = var.database
  master_username                     = "mp_admin"
  manage_master_password              = true
  master_password_secret_kms_key_id   = var.kms_key_arn
  encrypted                           = true
  kms_key_id                          = var.kms_key_arn
  publicly_accessible                 = false
  enhanced_vpc_routing                = true
  cluster_subnet_group_name           = aws_redshift_subnet_group.this.name
  vpc_security_group_ids              = [aws_security_group.this.id]
  cluster_parameter_group_name        = aws_redshift_parameter_group.this.name
  iam_roles                           = [var.iam_role_arn]
  default_iam_role_arn                = var.iam_role_arn
  automated_snapshot_retention_period = var.snapshot_retention_days
  preferred_maintenance_window        = "mon:03:00-mon:03:30" # UTC, before the morning's loads
  skip_final_snapshot                 = var.skip_final_snapshot
  final_snapshot_identifier           = var.skip_final_snapshot ? null : "${var.name_prefix}-final"
}

resource "aws_redshift_logging" "this" {
  cluster_identifier   = aws_redshift_cluster.this.cluster_identifier
  log_destination_type = "s3"
  bucket_name          = var.logs_bucket
  s3_key_prefix        = "redshift/"
}
