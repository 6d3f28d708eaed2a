variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "cidr" {
  type        = string
  description = "VPC CIDR (docs/network.md has the plan per environment)."
  validation {
    condition     = can(cidrnetmask(var.cidr)) && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "cidr must be an IPv4 block of /20 or larger (four /22 subnets are cut from it)."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Two availability zones."
  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "The network spans exactly two availability zones."
  }
}

variable "nat_gateways" {
  type        = number
  description = "NAT gateways: 0 (private subnets reach AWS through endpoints only: list every service in interface_endpoints), 1 (shared) or 2 (one per AZ)."
  default     = 0
  validation {
    condition     = contains([0, 1, 2], var.nat_gateways)
    error_message = "nat_gateways is 0, 1 or 2."
  }
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services reached through interface endpoints (service name suffixes, as glue or ecr.api)."
  default     = ["glue"]
}

variable "region" {
  type        = string
  description = "Region, for the endpoint service names."
}

variable "kms_key_arn" {
  type        = string
  description = "Key encrypting the flow-log group."
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days VPC flow logs are kept (a year, for incident reviews)."
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value."
  }
}
