variable "name_prefix" {
  type        = string
  description = "Prefix of every name, as marketpulse-<env>. The cluster is named exactly this, the Batch queue <name_prefix>-spot."

  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix takes lower-case letters, digits and dashes."
  }
}

variable "env" {
  type        = string
  description = "Environment (dev, stg, prod): the templates' ENV placeholder (log group, lake bucket, role names)."

  validation {
    condition     = contains(["dev", "stg", "prod"], var.env)
    error_message = "env is dev, stg or prod."
  }
}

variable "region" {
  type        = string
  description = "Region the tasks and jobs log to: the templates' REGION placeholder."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region is an AWS region name, as us-east-1."
  }
}

variable "account_id" {
  type        = string
  description = "Account id: the templates' ACCOUNT_ID placeholder (lake bucket marketpulse-<account>-<env>-raw)."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id is 12 digits."
  }
}

variable "image" {
  type        = string
  description = "Producer container image (registry/marketpulse:tag or @sha256 digest): the templates' IMAGE placeholder."

  validation {
    condition     = can(regex("^[^\\s\"]+$", var.image))
    error_message = "image is a non-empty image reference without spaces or quotes."
  }
}

variable "task_role_arn" {
  type        = string
  description = "Role the producer runs as, on ECS (task role) and Batch (job role): writes the raw lake and the streams."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.task_role_arn))
    error_message = "task_role_arn is an IAM role ARN."
  }
}

variable "execution_role_arn" {
  type        = string
  description = "Role ECS uses to pull the image and write the task's logs."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn is an IAM role ARN."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the Batch compute environment (ECS tasks take theirs from the launcher at run time). Needed when enable_batch."
  default     = []

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids are subnet ids (subnet-...)."
  }
  validation {
    condition     = !var.enable_batch || length(var.subnet_ids) > 0
    error_message = "enable_batch needs at least one subnet in subnet_ids."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the Batch hosts (egress to S3, ECR, CloudWatch and the streams). Needed when enable_batch."
  default     = []

  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids are security group ids (sg-...)."
  }
  validation {
    condition     = !var.enable_batch || length(var.security_group_ids) > 0
    error_message = "enable_batch needs at least one security group in security_group_ids."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the log groups and ECS Exec sessions. Its policy must let CloudWatch Logs use it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn is a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

# The retention values CloudWatch Logs accepts (validation may read locals
# since Terraform 1.9).
locals {
  log_retention_values = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the producer's logs (and so its EMF lines)."
  default     = 30

  validation {
    condition     = contains(local.log_retention_values, var.log_retention_days)
    error_message = "log_retention_days is one of the values CloudWatch Logs accepts (${join(", ", local.log_retention_values)})."
  }
}

variable "enable_batch" {
  type        = bool
  description = "Also make the AWS Batch spot compute environment, queue and job definition."
  default     = true
}

variable "batch_service_role_arn" {
  type        = string
  description = "Service role of the Batch compute environment; null uses Batch's service-linked role (AWSServiceRoleForBatch)."
  default     = null

  validation {
    condition     = var.batch_service_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.batch_service_role_arn))
    error_message = "batch_service_role_arn is an IAM role ARN or null."
  }
}

variable "batch_instance_profile_arn" {
  type        = string
  description = "Instance profile of the Batch hosts (joins ECS, pulls the image, ships logs). Needed when enable_batch."
  default     = null

  validation {
    condition     = var.batch_instance_profile_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/.+$", var.batch_instance_profile_arn))
    error_message = "batch_instance_profile_arn is an instance profile ARN (arn:aws:iam::<account>:instance-profile/<name>) or null."
  }
  validation {
    condition     = !var.enable_batch || var.batch_instance_profile_arn != null
    error_message = "enable_batch needs batch_instance_profile_arn."
  }
}

variable "batch_max_vcpus" {
  type        = number
  description = "Most vCPUs the Batch compute environment scales to (one per child job: the job definition asks for 1 vCPU)."
  default     = 64

  validation {
    condition     = var.batch_max_vcpus >= 1 && floor(var.batch_max_vcpus) == var.batch_max_vcpus
    error_message = "batch_max_vcpus is a whole number of at least 1."
  }
}

variable "batch_instance_types" {
  type        = list(string)
  description = "Instance types the spot compute environment may launch; several families give spot more pools to pick from."
  default     = ["c7i.large", "c6i.large", "m7i.large"]

  validation {
    condition     = length(var.batch_instance_types) > 0 && alltrue([for t in var.batch_instance_types : can(regex("^[a-z][a-z0-9-]*(\\.[a-z0-9]+)?$", t))])
    error_message = "batch_instance_types is a non-empty list of instance types or families (as c7i.large, c7i or optimal)."
  }
}
