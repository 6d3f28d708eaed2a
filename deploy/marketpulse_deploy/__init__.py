"""Launchers that run the producer fleet on AWS: ECS tasks (`ecs`), an AWS
Batch array job (`batch`) and an EMR Spark fan-out (`emr`)."""
