output "bucket_names" {
  description = "Bucket name per layer (raw, silver, gold, logs, artifacts)."
  value       = { for k, b in aws_s3_bucket.this : k => b.bucket }
}

output "bucket_arns" {
  description = "Bucket ARN per layer."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}
