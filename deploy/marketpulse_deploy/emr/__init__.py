"""The producer as an EMR step: `cluster` publishes the artifacts and runs
the step; `fleet` is the step's Spark driver, shipped to S3 as a script
with the lake reader it imports."""
