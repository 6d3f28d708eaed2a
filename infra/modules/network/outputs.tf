output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "cidr" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets, one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ: where compute and Redshift run."
  value       = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets (the S3 gateway endpoint is on them)."
  value       = aws_route_table.private[*].id
}

output "s3_prefix_list_id" {
  description = "Prefix list of S3 in the region (egress rules to the gateway endpoint)."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "https_egress_security_group_id" {
  description = "Security group for compute that only calls AWS APIs."
  value       = aws_security_group.https_egress.id
}
