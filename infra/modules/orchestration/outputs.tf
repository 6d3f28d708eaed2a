output "state_machine_arn" {
  description = "The daily chain."
  value       = aws_sfn_state_machine.chain.arn
}

output "schedule_names" {
  description = "The chain's schedule and, where set, Redshift's pause and resume, in the group named after the environment."
  value       = concat([aws_scheduler_schedule.chain.name], [for s in aws_scheduler_schedule.redshift : s.name])
}
