"""The producer as an AWS Batch array job (`array_job`)."""
