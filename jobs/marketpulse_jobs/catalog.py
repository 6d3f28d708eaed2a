"""Glue Data Catalog registration of silver and quarantine tables, with the
partitions a run wrote. Columns come from `schemas/` (silver) and
`schemas/jobs/` (quarantine), so Athena, Redshift Spectrum and Glue jobs read
what the producer declared.

The client is boto3's default: `AWS_ENDPOINT_URL` points it at a local
stand-in (moto) in tests."""

from __future__ import annotations

from .layers import GOLD_PARTITION, quarantine_partitions, silver_partitions
from .utils import (
    TableSchema,
    glue_type,
    gold_schemas,
    job_schema,
    load_schemas,
    silver_schema,
)

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


def s3_location(path: str) -> str:
    """Glue and Athena name S3 locations `s3://`; Spark writes through `s3a://`."""
    for scheme in ("s3a://", "s3n://"):
        if path.startswith(scheme):
            return "s3://" + path[len(scheme) :]
    return path


def _columns(schema: TableSchema) -> list[dict]:
    return [{"Name": c.name, "Type": glue_type(c), "Comment": c.description[:255]} for c in schema.columns]


def _table_input(name: str, schema: TableSchema, location: str, partitions: list[str], description: str) -> dict:
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": p, "Type": "string"} for p in partitions],
        "StorageDescriptor": {"Columns": _columns(schema), "Location": location, **PARQUET},
    }


def _put_table(glue, database: str, table_input: dict) -> None:
    try:
        glue.create_table(DatabaseName=database, TableInput=table_input)
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=database, TableInput=table_input)


def _add_partitions(glue, database: str, table_input: dict, keys: list[str], written: list[dict]) -> int:
    """Adds the partitions not yet registered, each with the table's columns
    and SerDe (Athena checks them per partition); returns how many were new."""
    table = table_input["Name"]
    location = table_input["StorageDescriptor"]["Location"]
    inputs = []
    for part in written:
        values = [str(part[k]) for k in keys]
        path = "/".join(f"{k}={v}" for k, v in zip(keys, values))
        sd = dict(table_input["StorageDescriptor"], Location=f"{location.rstrip('/')}/{path}/")
        inputs.append({"Values": values, "StorageDescriptor": sd})
    added = 0
    for i in range(0, len(inputs), 100):  # BatchCreatePartition takes 100 at a time
        batch = inputs[i : i + 100]
        out = glue.batch_create_partition(DatabaseName=database, TableName=table, PartitionInputList=batch)
        errors = [e for e in out.get("Errors", []) if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
        if errors:
            raise RuntimeError(f"glue: {table}: {errors[0]['ErrorDetail']['ErrorMessage']}")
        added += len(batch) - len(out.get("Errors", []))
    return added


def register(database: str, schemas: dict[str, TableSchema], written: dict[str, dict], opts) -> dict:
    """Creates (or updates) `<table>` and `<table>_quarantine` in `database`
    and adds the partitions this run wrote."""
    import boto3

    glue = boto3.client("glue")
    try:
        glue.create_database(DatabaseInput={"Name": database, "Description": "MarketPulse silver layer"})
    except glue.exceptions.AlreadyExistsException:
        pass
    quarantine = job_schema("quarantine")
    summary = {"database": database, "tables": [], "partitions_added": 0}
    for table, parts in written.items():
        for name, schema, root, keys, rows in (
            (table, schemas[table], opts.silver, silver_partitions(table), parts["silver"]),
            (f"{table}_quarantine", quarantine, opts.quarantine, quarantine_partitions(table), parts["quarantine"]),
        ):
            location = s3_location(f"{root.rstrip('/')}/{table}/")
            table_input = _table_input(name, schema, location, keys, f"MarketPulse {name}")
            _put_table(glue, database, table_input)
            summary["partitions_added"] += _add_partitions(glue, database, table_input, keys, rows)
            summary["tables"].append(name)
    return summary


def terraform_tables() -> dict:
    """Every catalog table Terraform declares (infra/modules/glue/tables.json),
    built by the same code as the tables the jobs register, so the two never
    differ: silver and quarantine tables in the silver database, gold tables
    in the gold one. Locations are prefixes of the layer's bucket."""

    def entry(schema: TableSchema, keys: list[str], prefix: str) -> dict:
        table = _table_input("-", schema, prefix, keys, "-")
        return {"columns": table["StorageDescriptor"]["Columns"], "partition_keys": keys, "prefix": prefix}

    quarantine = job_schema("quarantine")
    silver, gold = {}, {}
    for table, versions in sorted(load_schemas().items()):
        silver[table] = entry(silver_schema(versions), silver_partitions(table), f"silver/{table}/")
        silver[f"{table}_quarantine"] = entry(quarantine, quarantine_partitions(table), f"quarantine/{table}/")
    for table, schema in sorted(gold_schemas().items()):
        gold[table] = entry(schema, [GOLD_PARTITION], f"gold/{table}/")
    return {"silver": silver, "gold": gold}


if __name__ == "__main__":
    import json
    import sys

    # python -m marketpulse_jobs.catalog > infra/modules/glue/tables.json
    json.dump(terraform_tables(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
