output "cluster_id" {
  description = "The cluster."
  value       = aws_emr_cluster.this.id
}

output "task_instance_group_id" {
  description = "The spot task group."
  value       = aws_emr_instance_group.task.id
}

output "security_configuration" {
  description = "The encryption settings of the cluster."
  value       = aws_emr_security_configuration.this.name
}
