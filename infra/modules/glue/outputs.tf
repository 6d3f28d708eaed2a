output "databases" {
  description = "Glue database per layer (silver, gold)."
  value       = { for k, d in aws_glue_catalog_database.this : k => d.name }
}

output "tables" {
  description = "Declared tables, as <layer>.<table>."
  value       = keys(aws_glue_catalog_table.this)
}

output "job_name" {
  description = "The silver->gold Glue job."
  value       = aws_glue_job.silver_to_gold.name
}

output "crawler_name" {
  description = "The crawler that adds gold's new partitions."
  value       = aws_glue_crawler.gold_partitions.name
}
