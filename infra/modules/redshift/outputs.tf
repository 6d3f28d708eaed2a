output "cluster_id" {
  description = "The cluster identifier."
  value       = aws_redshift_cluster.this.cluster_identifier
}

output "endpoint" {
  description = "host:port of the cluster."
  value       = aws_redshift_cluster.this.endpoint
}

output "database" {
  description = "Database of the marts."
  value       = var.database
}

output "parameter_group" {
  description = "The TLS-only parameter group with the WLM queues."
  value       = aws_redshift_parameter_group.this.name
}
