env                     = "prod"
vpc_cidr                = "10.30.0.0/18"
nat_gateways            = 2
producer_image          = "123456789012.dkr.ecr.us-east-1.amazonaws.com/marketpulse-prod:0.1.0"
producer_version        = "0.1.0"
producer_sha256         = "0000000000000000000000000000000000000000000000000000000000000000"
jobs_version            = "0.1.0"
jobs_sha256             = "0000000000000000000000000000000000000000000000000000000000000000"
emr_task_instance_count = 4
emr_max_capacity_units  = 20
redshift_nodes          = 2
kinesis_shards          = 4
monthly_budget_usd      = 8000
force_destroy           = false
break_glass_role_name   = "marketpulse-prod-break-glass"
chain_schedule          = { expression = "cron(30 1 * * ? *)", timezone = "Europe/London" }
chain_generate          = { shards = 20, scale = "10" }
