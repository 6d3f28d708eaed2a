output "env" {
  description = "The environment this state describes."
  value       = local.env
}

output "buckets" {
  description = "Bucket name per layer."
  value       = module.s3_lake.bucket_names
}

output "kms_key_arn" {
  description = "The environment's key."
  value       = module.kms.key_arn
}

output "glue_databases" {
  description = "Glue database per layer."
  value       = module.glue.databases
}

output "emr_security_configuration" {
  description = "The EMR security configuration every cluster runs with: --set SECURITY_CONFIGURATION for deploy/emr/cluster.json."
  value       = module.emr.security_configuration
}

output "emr_cluster_id" {
  description = "The EMR cluster."
  value       = module.emr.cluster_id
}

output "redshift_endpoint" {
  description = "host:port of Redshift."
  value       = module.redshift.endpoint
}

output "stream_name" {
  description = "Kinesis stream of real-time events."
  value       = module.streaming.stream_name
}

output "ecs_cluster" {
  description = "ECS cluster of the producer fleet."
  value       = module.producer_fleet.cluster_name
}

output "alarm_topic_arn" {
  description = "SNS topic of alarms."
  value       = module.monitoring.sns_topic_arn
}

output "role_arns" {
  description = "Role ARN per component."
  value       = module.iam.role_arns
}

output "redshift_sql_params" {
  description = "The {{ name }} values of jobs/redshift/sql/ on this stack: where COPY reads gold, where UNLOAD writes, the role both assume, the key UNLOAD encrypts with, and gold's catalog database."
  value       = local.redshift_sql_params
}

output "chain_state_machine_arn" {
  description = "The daily chain (module.orchestration): start it by hand with {\"day\": \"YYYY-MM-DD\"} to run or re-run a day."
  value       = module.orchestration.state_machine_arn
}
