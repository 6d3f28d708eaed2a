output "state_bucket" {
  description = "Bucket holding every workspace's state (env:/<workspace>/<key>)."
  value       = aws_s3_bucket.state.bucket
}

output "lock_table" {
  description = "DynamoDB table of state locks."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_arn" {
  description = "KMS key encrypting the state bucket and the lock table."
  value       = aws_kms_key.state.arn
}

output "backend_config" {
  description = "The root stack's -backend-config values."
  value = {
    bucket         = aws_s3_bucket.state.bucket
    key            = "marketpulse/platform.tfstate"
    region         = var.region
    dynamodb_table = aws_dynamodb_table.lock.name
    encrypt        = true
    kms_key_id     = aws_kms_key.state.arn
  }
}

output "state_bucket_policy" {
  description = "The state bucket's policy as configured (TLS only)."
  value       = data.aws_iam_policy_document.state_bucket.json
}
