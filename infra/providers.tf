provider "aws" {
  region = var.region
  default_tags {
    tags = {
      app         = "marketpulse"
      env         = local.env
      owner       = var.owner
      cost-center = var.cost_center
    }
  }
}
