output "role_arns" {
  description = "Role ARN per component: producer, ecs_execution, emr, emr_ec2, glue, redshift, firehose, batch, batch_ec2, chain, scheduler, launcher."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "emr_instance_profile" {
  description = "Instance profile of EMR nodes."
  value       = aws_iam_instance_profile.emr_ec2.name
}

output "batch_instance_profile_arn" {
  description = "Instance profile of Batch hosts."
  value       = aws_iam_instance_profile.batch_ec2.arn
}

output "policies" {
  description = "Every inline policy document, by role (the IAM test reads them)."
  value       = { for k, p in aws_iam_role_policy.this : k => p.policy }
}
