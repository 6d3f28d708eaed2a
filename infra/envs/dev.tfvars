env                     = "dev"
vpc_cidr                = "10.10.0.0/20"
nat_gateways            = 1
producer_image          = "123456789012.dkr.ecr.us-east-1.amazonaws.com/marketpulse-dev:0.1.0"
producer_version        = "0.1.0"
producer_sha256         = "0000000000000000000000000000000000000000000000000000000000000000"
jobs_version            = "0.1.0"
jobs_sha256             = "0000000000000000000000000000000000000000000000000000000000000000"
emr_task_instance_count = 1
emr_max_capacity_units  = 4
redshift_nodes          = 1
kinesis_shards          = 1
monthly_budget_usd      = 300
force_destroy           = true
break_glass_role_name   = "marketpulse-dev-break-glass"
# Weekdays, once the paused cluster has resumed, so the load finds it up.
chain_schedule = { expression = "cron(15 8 ? * MON-FRI *)", timezone = "Europe/London" }
chain_generate = { shards = 2, scale = "0.05" }
# Working hours only: the cluster costs more than dev's budget around the clock (docs/capacity.md).
redshift_pause = { pause_expression = "cron(0 18 ? * MON-FRI *)", resume_expression = "cron(0 8 ? * MON-FRI *)", timezone = "Europe/London" }
