output "stream_name" {
  description = "Name of the Kinesis stream (the producer's `--sink kinesis://<name>`)."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.this.arn
}

output "delivery_stream_name" {
  description = "Name of the Firehose delivery stream that lands the stream in the raw bucket."
  value       = aws_kinesis_firehose_delivery_stream.this.name
}

output "delivery_stream_arn" {
  description = "ARN of the Firehose delivery stream."
  value       = aws_kinesis_firehose_delivery_stream.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of Firehose's delivery errors."
  value       = aws_cloudwatch_log_group.firehose.name
}

output "firehose_role_policy_json" {
  description = "Least-privilege policy (JSON) the Firehose role needs: read this stream, write the raw bucket, use the key through Kinesis and S3, write its error log."
  value       = data.aws_iam_policy_document.firehose.json
}
