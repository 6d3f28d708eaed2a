env                     = "stg"
vpc_cidr                = "10.20.0.0/20"
nat_gateways            = 1
producer_image          = "123456789012.dkr.ecr.us-east-1.amazonaws.com/marketpulse-stg:0.1.0"
producer_version        = "0.1.0"
producer_sha256         = "0000000000000000000000000000000000000000000000000000000000000000"
jobs_version            = "0.1.0"
jobs_sha256             = "0000000000000000000000000000000000000000000000000000000000000000"
emr_task_instance_count = 2
emr_max_capacity_units  = 8
redshift_nodes          = 1
kinesis_shards          = 2
monthly_budget_usd      = 1500
force_destroy           = false
break_glass_role_name   = "marketpulse-stg-break-glass"
chain_schedule          = { expression = "cron(30 1 * * ? *)", timezone = "Europe/London" }
chain_generate          = { shards = 4, scale = "0.5" }
