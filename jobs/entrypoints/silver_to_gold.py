"""Glue job entry point (Glue 5, `--extra-py-files` the marketpulse_jobs
wheel, `--job-bookmark-option job-bookmark-enable`). The job itself is
`marketpulse_jobs.silver_to_gold`; locally, `marketpulse-glue-local run`
runs this file unchanged.

Arguments: --JOB_NAME --silver --gold --fx_per_usd (CODE=units-per-USD,…),
optional --metrics (a path for the run's metrics record)."""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from marketpulse_jobs.silver_to_gold import GLUE_ARGS, run_glue
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, GLUE_ARGS + (["metrics"] if "--metrics" in sys.argv else []))
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
run_glue(glue_context, args, args.get("metrics"))
job.commit()
