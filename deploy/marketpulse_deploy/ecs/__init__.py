"""The producer as one ECS task per shard (`launcher`)."""
