"""The EMR fleet driver (marketpulse_deploy.emr.fleet) on the shared local
SparkSession (`local[2,2]`: two cores, a failed task tried twice, as EMR
retries a lost executor's task): 4 shards as 4 Spark tasks give the lake
one process gives, into a folder and into moto's S3. Faults come from a
stand-in for the producer binary (`faulty`): a shard whose producer is
killed mid-run on its first attempt is retried and resumed; one that fails
every attempt fails the step and is named."""

import json
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from marketpulse_deploy.emr import fleet
from marketpulse_deploy.lake import MANIFEST_DIR, manifest_shard
from marketpulse_testkit import AWS_ENV, files, s3_objects
from marketpulse_testkit.aws import client

SHARDS = 4
FLAGS = ["--seed", "11", "--scale", "0.002", "--days", "2", "--start", "2025-11-27", "--clicks-v2-from", "2025-11-28"]
DIRTY = "[dirty]\nlate = 0.02\nduplicates = 0.02\nmalformed = 0.02\n"
# What names the shards (manifests, journals, locks): the rest of a sharded lake equals a single process's.
SHARD_NAMED = (f"{MANIFEST_DIR}/",)

# The producer as the driver runs it, with a fault for one shard: `crash`
# kills the real producer on the shard's first attempt only (a lost spot
# node), mid-run, once its journal lists a delivered data file. The journal
# gets a segment when a second has passed since the last one (or 64 files),
# which a small shard never reaches: the stand-in lets the producer run a
# few milliseconds at a time, stopped (SIGSTOP) for a second in between,
# and records what the journal lists, with modification times. `fail` exits 1 on every attempt; `silent` exits 0 having written
# nothing. Other shards, and the driver's settings check, run the real
# binary.
FAULTY = '''#!{python}
import json, os, signal, subprocess, sys, time

from marketpulse_deploy.lake import MANIFEST_DIR, journal_shard

REAL, MODE, SHARD, STATE = {real!r}, {mode!r}, {shard!r}, {state!r}
args = sys.argv[1:]
if "--shard-index" not in args or args[args.index("--shard-index") + 1] != SHARD:
    os.execv(REAL, [REAL, *args])
if MODE == "fail":
    sys.exit("error: injected failure")
if MODE == "silent":
    sys.exit(0)
if os.path.exists(STATE):  # the retry: the real producer, resuming
    os.execv(REAL, [REAL, *args])
out = args[args.index("--out") + 1]


def journaled():
    try:
        keys = [os.path.relpath(os.path.join(d, f), out) for d, _, names in os.walk(os.path.join(out, MANIFEST_DIR))
                for f in names]
        mine = [k for k in keys if (journal_shard(k) or (None,))[0] == int(SHARD)]
        # Data files only: a unit's data file is journaled after its truth sidecar.
        paths = [e["path"] for k in mine for e in json.load(open(os.path.join(out, k)))["files"] if e["domain"] != "truth"]
        return {{p: os.stat(os.path.join(out, p)).st_mtime_ns for p in paths}}
    except (OSError, ValueError):
        return {{}}


producer = subprocess.Popen([REAL, *args])
kept, deadline = {{}}, time.monotonic() + 60
while not kept and producer.poll() is None and time.monotonic() < deadline:
    time.sleep(0.005)  # a few milliseconds of work
    os.kill(producer.pid, signal.SIGSTOP)
    kept = journaled()
    if not kept:
        time.sleep(1.1)  # the journal's segment age: the next delivery writes a segment
        os.kill(producer.pid, signal.SIGCONT)
ended = producer.poll()
producer.kill()
producer.wait()
with open(STATE, "w") as f:
    json.dump({{"kept": kept, "killed_running": ended is None}}, f)
os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.fixture
def faulty(binary, tmp_path):
    """`faulty(mode, shard)`: a stand-in binary with that fault, and the file
    where a `crash` records what the killed attempt had journaled."""

    def make(mode: str, shard: int) -> tuple[Path, Path]:
        path, state = tmp_path / f"marketpulse-{mode}", tmp_path / f"{mode}-{shard}.json"
        path.write_text(FAULTY.format(python=sys.executable, real=str(binary), mode=mode, shard=str(shard), state=str(state)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path, state

    return make


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "dirty.toml"
    path.write_text(DIRTY)
    return path


@pytest.fixture(scope="module")
def single(binary, config, tmp_path_factory) -> Path:
    """The lake one process writes."""
    out = tmp_path_factory.mktemp("single") / "lake"
    subprocess.run([binary, "generate", "--out", out, "--quiet", "--config", config, *FLAGS], check=True)
    return out


@pytest.fixture(scope="module")
def single_files(single) -> dict[str, bytes]:
    return files(single, exclude=SHARD_NAMED)


@pytest.fixture(scope="module")
def single_data(single, single_files) -> list[dict]:
    """The data files (truth sidecars aside) that the single process's
    manifest lists; it lists every file of that lake."""
    (manifest,) = filter(manifest_shard, keys(single))
    listed = json.loads((single / manifest).read_text())["files"]
    assert sorted(f["path"] for f in listed) == sorted(single_files)
    return [f for f in listed if f["domain"] != "truth"]


@pytest.fixture(scope="module")
def spark_fleet(spark):
    """The session, with the driver's tasks pickled by value, as spark-submit
    ships a script's: the workers need nothing of this package."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(fleet)
    yield spark
    cloudpickle.unregister_pickle_by_value(fleet)


def run(spark, binary, config, out, report: Path, *extra: str, env: tuple[str, ...] = ()) -> tuple[int, dict]:
    """The fleet step with SHARDS shards; its exit code and JSON report."""
    argv = ["--shards", str(SHARDS), "--binary", str(binary), "--report", str(report)]
    argv += [a for e in env for a in ("--env", e)]
    argv += ["--", "--out", str(out), "--config", str(config), *FLAGS, *extra]
    code = fleet.main(argv, spark=spark)
    return code, (json.loads(report.read_text()) if code == 0 else {})


def keys(root: Path) -> list[str]:
    """Every file under `root`, as a key relative to it."""
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]


def verify(binary, lake, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "verify", lake, *extra], capture_output=True, text=True, env=env, check=False)


def test_four_shards_into_a_folder_equal_one_process(
    spark_fleet, binary, config, single_files, single_data, tmp_path, capsys
):
    lake = tmp_path / "lake"
    code, report = run(spark_fleet, binary, config, lake, tmp_path / "report.json")
    assert code == 0, capsys.readouterr().err
    assert files(lake, exclude=SHARD_NAMED) == single_files
    assert sorted(filter(None, map(manifest_shard, keys(lake)))) == [(i, SHARDS) for i in range(SHARDS)]
    checked = verify(binary, lake)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    results = sorted(report["results"], key=lambda r: r["shard"])
    assert [r["shard"] for r in results] == list(range(SHARDS))
    assert all(r["attempt"] == 1 and r["complete"] and r["sink"]["requests"] > 0 for r in results)
    # Each shard's totals, from its manifest; their sum is the single process's lake.
    assert sum(r["files"] for r in results) == len(single_data)
    assert sum(r["rows"] for r in results) == sum(f["rows"] for f in single_data)
    assert sum(r["bytes"] for r in results) == sum(f["bytes"] for f in single_data)
    out = capsys.readouterr().out
    assert f"fleet: {SHARDS} shards, {sum(f['rows'] for f in single_data)} rows, 0 retries" in out


def test_a_shard_killed_mid_run_on_its_first_attempt_is_retried(
    spark_fleet, binary, faulty, config, single_files, tmp_path, capsys
):
    crashing, state = faulty("crash", 2)
    lake = tmp_path / "lake"
    code, report = run(spark_fleet, crashing, config, lake, tmp_path / "report.json")
    assert code == 0, capsys.readouterr().err
    killed = json.loads(state.read_text())
    kept = killed["kept"]
    assert killed["killed_running"] and kept, killed
    assert files(lake, exclude=SHARD_NAMED) == single_files
    # The retry resumed: the data files the killed attempt had journaled were kept, not written again.
    assert {p: (lake / p).stat().st_mtime_ns for p in kept} == kept
    checked = verify(binary, lake)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    attempts = {r["shard"]: r["attempt"] for r in report["results"]}
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 1}
    out = capsys.readouterr().out
    assert "shard 2 of 4: done on attempt 2 (after 1 retry)" in out
    assert "1 retries" in out


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("fail", "marketpulse exited 1: error: injected failure"),
        ("silent", "marketpulse ended without its --metrics-json"),
    ],
)
def test_a_shard_that_fails_every_attempt_fails_the_step_and_is_named(
    spark_fleet, faulty, config, tmp_path, capsys, mode, reason
):
    failing, _ = faulty(mode, 3)
    code, _ = run(spark_fleet, failing, config, tmp_path / "lake", tmp_path / "report.json")
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"fleet: shard 3 of 4 failed after 2 attempt(s): {reason}"), err


def test_four_shards_into_s3_on_moto_equal_one_process(
    spark_fleet, binary, config, single_files, single_data, moto_s3, tmp_path, capsys
):
    bucket = f"fleet-{uuid.uuid4().hex[:8]}"
    s3 = client("s3", moto_s3)
    s3.create_bucket(Bucket=bucket)
    lake = f"s3://{bucket}/lake"
    env = tuple(f"{k}={v}" for k, v in AWS_ENV.items())
    code, report = run(spark_fleet, binary, config, lake, tmp_path / "report.json", "--endpoint-url", moto_s3, env=env)
    assert code == 0, capsys.readouterr().err
    objects = s3_objects(s3, bucket, "lake/")
    assert {k: v for k, v in objects.items() if not k.startswith(SHARD_NAMED)} == single_files
    checked = verify(binary, lake, "--endpoint-url", moto_s3, env={**AWS_ENV, "PATH": "/usr/bin:/bin"})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The totals come from the manifests in the bucket.
    assert sum(r["files"] for r in report["results"]) == len(single_data)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard-index", "1"], "fleet: --shard-index is set by the fleet for each shard; leave it out"),
        (["--scale", "-1"], "fleet: the producer refused the settings: "),
    ],
)
def test_bad_settings_stop_before_any_shard_starts(spark_fleet, binary, config, tmp_path, capsys, extra, message):
    lake = tmp_path / "lake"
    code, _ = run(spark_fleet, binary, config, lake, tmp_path / "report.json", *extra)
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1, err
    assert not lake.exists()


def test_a_relative_lake_is_refused(spark_fleet, binary, capsys):
    assert fleet.main(["--shards", "2", "--binary", str(binary), "--", "--out", "lake"], spark=spark_fleet) == 1
    assert "--out lake is relative" in capsys.readouterr().err


def test_speculation_is_refused(spark_fleet):
    conf = spark_fleet.sparkContext.getConf()  # a copy: the session keeps its own
    fleet.check_conf(conf)
    with pytest.raises(fleet.FleetError, match="spark.speculation is on"):
        fleet.check_conf(conf.set("spark.speculation", "true"))
