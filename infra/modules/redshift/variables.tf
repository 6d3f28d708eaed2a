variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>."
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "vpc_cidr" {
  type        = string
  description = "Clients inside this block may connect (BI tools reach it through the VPC)."
}

variable "s3_prefix_list_id" {
  type        = string
  description = "S3's prefix list, for egress to the gateway endpoint (enhanced VPC routing)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the cluster."
}

variable "kms_key_arn" {
  type        = string
  description = "Key encrypting the cluster."
}

variable "iam_role_arn" {
  type        = string
  description = "Role for COPY, UNLOAD and Spectrum (the default role of the cluster)."
}

variable "logs_bucket" {
  type        = string
  description = "Bucket receiving the audit logs (under redshift/)."
}

variable "node_type" {
  type        = string
  description = "RA3 node type."
  default     = "ra3.xlplus"
  validation {
    condition     = startswith(var.node_type, "ra3.")
    error_message = "Use RA3 nodes: storage scales apart from compute and Spectrum is included."
  }
}

variable "nodes" {
  type        = number
  description = "Nodes (1 is a single-node cluster)."
  default     = 1
  validation {
    condition     = var.nodes >= 1 && var.nodes <= 32
    error_message = "nodes is 1 to 32."
  }
}

variable "database" {
  type        = string
  description = "Database of the marts."
  default     = "marketpulse"
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days automated snapshots are kept (the RPO of the marts is the snapshot interval, about 8 h)."
  default     = 7
  validation {
    condition     = var.snapshot_retention_days >= 1 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days is 1 to 35."
  }
}

variable "skip_final_snapshot" {
  type        = bool
  description = "Destroy without a final snapshot (dev and test stacks only)."
  default     = false
}
