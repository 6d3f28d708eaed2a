output "key_arn" {
  description = "ARN of the environment's key."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Id of the environment's key."
  value       = aws_kms_key.this.key_id
}

output "alias" {
  description = "The key's alias."
  value       = aws_kms_alias.this.name
}
