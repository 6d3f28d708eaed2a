"""A local stand-in for Redshift: DuckDB runs the Redshift SQL files of
`jobs/redshift/sql/` as they are, through sqlglot
(docs/decisions/ADR-008-redshift-stand-in.md).

- `CREATE TABLE`: DISTSTYLE, DISTKEY, SORTKEY and ENCODE are checked (every
  key and sort column exists, every column has an encoding) and recorded in
  `tables`, then dropped: DuckDB has no slices.
- `CREATE [TEMP] TABLE t (LIKE s)`: s's columns and layout, no rows.
- `BEGIN` … `COMMIT`: one transaction; an error inside it rolls it back, as
  Redshift aborts it.
- `COPY t FROM 's3://…/' IAM_ROLE '…' FORMAT AS PARQUET`: every Parquet file
  under the prefix, columns mapped by position as Redshift does, the column
  count checked per file.
- `UNLOAD ('query') TO 's3://…/' … FORMAT AS PARQUET [PARTITION BY (c, …)]`:
  Parquet, Hive-style folders, partition columns left out of the files.
  `KMS_KEY_ID '…' ENCRYPTED` is accepted; the files get the lake's own
  encryption (a bucket's default), which on AWS is that key.
- `CREATE EXTERNAL SCHEMA s FROM DATA CATALOG DATABASE 'db' …`: a schema of
  views over the gold tables that `catalog[db]` locates (Spectrum).
- Everything else (queries, `CREATE SCHEMA`) is transpiled to DuckDB.

Paths are local folders, file:// or s3:// (moto or real S3 through pyarrow,
`s3_endpoint` for an emulator). `{{ name }}` placeholders are filled from
`params`; a missing one is an error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

logging.getLogger("sqlglot").setLevel(logging.ERROR)

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
UNLOAD = re.compile(
    r"UNLOAD\s*\(\s*'((?:[^']|'')*)'\s*\)\s*TO\s*'([^']+)'\s*IAM_ROLE\s*'[^']*'(.*)$", re.IGNORECASE | re.DOTALL
)
EXTERNAL_SCHEMA = re.compile(
    r"CREATE\s+EXTERNAL\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+FROM\s+DATA\s+CATALOG\s+DATABASE\s+'(\w+)'",
    re.IGNORECASE,
)


class RedshiftError(Exception):
    """A statement the stand-in refused, as Redshift would, in one line."""


@dataclass
class TableLayout:
    """What a CREATE TABLE asked of Redshift's storage."""

    columns: list[str]
    diststyle: str = "AUTO"
    distkey: str | None = None
    sortkey: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)


class RedshiftLocal:
    def __init__(
        self,
        database: str = ":memory:",
        params: dict[str, str] | None = None,
        catalog: dict[str, str] | None = None,
        s3_endpoint: str | None = None,
    ):
        self.con = duckdb.connect(database)
        self.con.execute("SET TimeZone = 'UTC'")
        self.params = dict(params or {})
        self.catalog = dict(catalog or {})
        self.s3_endpoint = s3_endpoint
        self.tables: dict[str, TableLayout] = {}
        self.copied: dict[str, int] = {}
        self._views = 0
        # Inside BEGIN … COMMIT: an error rolls the transaction back.
        self.in_transaction = False

    # --- files and placeholders --------------------------------------------

    def _fs(self, uri: str) -> tuple[pafs.FileSystem, str]:
        if uri.startswith("s3://"):
            options = {}
            if self.s3_endpoint:
                scheme, _, host = self.s3_endpoint.rpartition("://")
                options = {"endpoint_override": host, "scheme": scheme or "https"}
            return pafs.S3FileSystem(**options), uri[len("s3://") :].rstrip("/")
        path = uri.removeprefix("file://")
        return pafs.LocalFileSystem(), str(Path(path).resolve())

    def render(self, sql: str) -> str:
        def fill(m):
            if m.group(1) not in self.params:
                raise RedshiftError(f"no value for placeholder {{{{ {m.group(1)} }}}}")
            return self.params[m.group(1)]

        return PLACEHOLDER.sub(fill, sql)

    # --- statements ------------------------------------------------------------

    def run_file(self, path: str | Path) -> list:
        return self.execute(Path(path).read_text())

    def execute(self, sql: str) -> list:
        """Runs every statement; returns each one's result (rows of a query,
        rows loaded by COPY, rows unloaded, else None)."""
        results = []
        for statement in _statements(self.render(sql)):
            try:
                results.append(self._one(statement))
            except Exception:
                # Redshift aborts the open transaction on an error: what it
                # did is rolled back, what was committed before stays.
                if self.in_transaction:
                    self.con.execute("ROLLBACK")
                    self.in_transaction = False
                raise
        return results

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """One query's column names and rows."""
        (statement,) = _statements(self.render(sql))
        cur = self.con.execute(_duckdb(statement))
        return [d[0] for d in cur.description], cur.fetchall()

    def _one(self, statement: str):
        m = UNLOAD.match(statement)
        if m:
            return self._unload(m.group(1).replace("''", "'"), m.group(2), m.group(3))
        m = EXTERNAL_SCHEMA.match(statement)
        if m:
            return self._external_schema(m.group(1), m.group(2))
        tree = sqlglot.parse_one(statement, read="redshift")
        if isinstance(tree, exp.Copy):
            return self._copy(tree)
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":
            self._create_table(tree)
            return None
        if isinstance(tree, exp.Command):
            raise RedshiftError(f"the stand-in does not run: {statement.split(chr(10))[0][:80]}")
        cur = self.con.execute(tree.sql("duckdb"))
        if isinstance(tree, (exp.Transaction, exp.Commit, exp.Rollback)):
            self.in_transaction = isinstance(tree, exp.Transaction)
        return cur.fetchall() if isinstance(tree, exp.Query) else None

    def _create_table(self, tree: exp.Create) -> None:
        name = tree.this.this.sql("duckdb")
        like = [e for e in tree.this.expressions if isinstance(e, exp.LikeProperty)]
        if like:
            # CREATE [TEMP] TABLE t (LIKE source): the source's columns and
            # layout, no rows.
            source = like[0].this.sql("duckdb")
            if source not in self.tables:
                raise RedshiftError(f"{name}: LIKE {source}, which is not a table")
            temp = "TEMPORARY " if tree.find(exp.TemporaryProperty) else ""
            self.tables[name] = self.tables[source]
            self.con.execute(f"CREATE {temp}TABLE {name} AS SELECT * FROM {source} LIMIT 0")
            return
        columns = [c.name for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
        layout = TableLayout(columns)
        for prop in list(tree.find_all(exp.DistStyleProperty, exp.DistKeyProperty, exp.SortKeyProperty)):
            if isinstance(prop, exp.DistStyleProperty):
                layout.diststyle = prop.this.name.upper()
            elif isinstance(prop, exp.DistKeyProperty):
                layout.diststyle, layout.distkey = "KEY", prop.this.name
            else:
                layout.sortkey = [c.name for c in prop.args["this"]]
            prop.pop()
        for col in tree.this.expressions:
            if not isinstance(col, exp.ColumnDef):
                continue
            for constraint in list(col.args.get("constraints") or []):
                if isinstance(constraint.kind, exp.EncodeColumnConstraint):
                    layout.encodings[col.name] = constraint.kind.this.name.upper()
                    constraint.pop()
        for key in [layout.distkey, *layout.sortkey]:
            if key is not None and key not in columns:
                raise RedshiftError(f"{name}: distribution or sort key '{key}' is not a column")
        unencoded = [c for c in columns if c not in layout.encodings]
        if unencoded:
            raise RedshiftError(f"{name}: no ENCODE for column(s) {', '.join(unencoded)}")
        self.tables[name] = layout
        self.con.execute(tree.sql("duckdb"))

    def _copy(self, tree: exp.Copy):
        table = tree.this.sql("duckdb")
        params = {p.this.name.upper(): p.expression.sql().upper() if p.expression else "" for p in tree.args["params"]}
        if params.get("FORMAT") != "PARQUET":
            raise RedshiftError(f"COPY {table}: the stand-in loads FORMAT AS PARQUET only")
        if not tree.args.get("credentials"):
            raise RedshiftError(f"COPY {table}: no IAM_ROLE")
        target = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]
        loaded = 0
        for source in tree.args["files"]:
            fs, prefix = self._fs(source.name)
            files = _parquet_files(fs, prefix)
            if not files:
                raise RedshiftError(f"COPY {table}: no Parquet files under {source.name}")
            for f in files:
                data = pq.ParquetFile(f, filesystem=fs).read()
                if data.num_columns != len(target):
                    raise RedshiftError(
                        f"COPY {table}: {f} has {data.num_columns} columns, the table {len(target)} "
                        "(COPY maps Parquet columns by position)"
                    )
                data = data.rename_columns(target)
                self.con.register("__copy", data)
                self.con.execute(f"INSERT INTO {table} SELECT * FROM __copy")
                self.con.unregister("__copy")
                loaded += data.num_rows
        self.copied[table] = self.copied.get(table, 0) + loaded
        return loaded

    def _unload(self, query: str, to: str, options: str):
        opts = " ".join(options.split()).upper()
        if "FORMAT AS PARQUET" not in opts and "FORMAT PARQUET" not in opts:
            raise RedshiftError("UNLOAD: the stand-in writes FORMAT AS PARQUET only")
        m = re.search(r"PARTITION\s+BY\s*\(([^)]*)\)", options, re.IGNORECASE)
        keys = [k.strip() for k in m.group(1).split(",")] if m else []
        cur = self.con.execute(_duckdb(query))
        data = cur.to_arrow_table() if hasattr(cur, "to_arrow_table") else cur.fetch_arrow_table()
        missing = [k for k in keys if k not in data.column_names]
        if missing:
            raise RedshiftError(f"UNLOAD: PARTITION BY column(s) {', '.join(missing)} not in the query")
        fs, base = self._fs(to)
        partitioning = ds.partitioning(pa.schema([data.schema.field(k) for k in keys]), flavor="hive") if keys else None
        ds.write_dataset(
            data,
            base,
            filesystem=fs,
            format="parquet",
            partitioning=partitioning,
            basename_template="part-{i}.parquet",
            existing_data_behavior="delete_matching",
        )
        return data.num_rows

    def _external_schema(self, schema: str, database: str):
        root = self.catalog.get(database)
        if root is None:
            raise RedshiftError(f"CREATE EXTERNAL SCHEMA {schema}: no catalog database '{database}'")
        from marketpulse_jobs.utils import gold_schemas

        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        fs, base = self._fs(root)
        for table, spec in gold_schemas().items():
            files = _parquet_files(fs, f"{base}/{table}")
            if not files:
                continue
            if isinstance(fs, pafs.LocalFileSystem):
                # A view DuckDB keeps in the database file.
                source = f"read_parquet('{base}/{table}/**/*.parquet', hive_partitioning = false)"
            else:
                self._views += 1
                source = f"__ext_{self._views}"
                self.con.register(source, ds.dataset(files, filesystem=fs, format="parquet"))
            self.con.execute(f"CREATE OR REPLACE VIEW {schema}.{table} AS SELECT {', '.join(spec.names)} FROM {source}")


def _statements(sql: str) -> list[str]:
    """Statements of a file, split on `;` outside quotes, comments dropped."""
    out, buf, quote, comment = [], [], False, False
    for i, ch in enumerate(sql):
        if comment:
            comment = ch != "\n"
            continue
        if ch == "'":
            quote = not quote
        if ch == "-" and not quote and sql[i + 1 : i + 2] == "-":
            comment = True
        elif ch == ";" and not quote:
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf).strip())
    return [s for s in out if s]


def _duckdb(statement: str) -> str:
    return sqlglot.transpile(statement, read="redshift", write="duckdb")[0]


def _parquet_files(fs: pafs.FileSystem, prefix: str) -> list[str]:
    info = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    return sorted(
        i.path
        for i in info
        if i.type == pafs.FileType.File
        and not any(part.startswith(("_", ".")) for part in i.path[len(prefix) :].split("/"))
    )
