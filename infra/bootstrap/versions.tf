terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      app         = "marketpulse"
      owner       = var.owner
      cost-center = var.cost_center
      component   = "terraform-state"
      env         = "shared"
    }
  }
}
