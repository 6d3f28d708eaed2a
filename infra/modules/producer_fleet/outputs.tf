output "cluster_name" {
  description = "Name of the ECS cluster (marketpulse-ecs-launch --cluster)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_arn" {
  description = "ARN (with revision) of the producer's task definition."
  value       = aws_ecs_task_definition.producer.arn
}

output "task_definition_family" {
  description = "Family of the task definition (marketpulse-ecs-launch --task-definition)."
  value       = aws_ecs_task_definition.producer.family
}

output "log_group_name" {
  description = "Log group of the ECS tasks, as the task definition's awslogs group names it; their EMF lines become metrics from here."
  value       = aws_cloudwatch_log_group.producer.name
}

output "batch_log_group_name" {
  description = "Log group of the Batch jobs; null when enable_batch is false."
  value       = var.enable_batch ? aws_cloudwatch_log_group.batch[0].name : null
}

output "batch_job_queue_arn" {
  description = "ARN of the Batch spot queue (marketpulse-batch-submit --queue takes its name, <name_prefix>-spot); null when enable_batch is false."
  value       = var.enable_batch ? aws_batch_job_queue.spot[0].arn : null
}

output "batch_job_definition_arn" {
  description = "ARN (with revision) of the Batch job definition; null when enable_batch is false."
  value       = var.enable_batch ? aws_batch_job_definition.producer[0].arn : null
}

output "repository_url" {
  description = "ECR repository of the producer image."
  value       = aws_ecr_repository.producer.repository_url
}
