"""The data-quality gate (marketpulse_jobs.gate): thresholds read from the
packaged quality_gate.json, refused when malformed; a metrics record judged
table by table; the command's exit codes, locally and from S3."""

import json

import boto3
import pytest
from marketpulse_jobs import contracts, gate
from marketpulse_jobs.utils import JobError


def metrics(**tables: tuple[int, int]) -> dict:
    """A bronze->silver metrics record: table=(rows_in, quarantined)."""
    return {"job": "bronze_to_silver", "tables": {t: {"rows_in": n, "quarantined": q} for t, (n, q) in tables.items()}}


def test_every_table_defaults_to_five_percent():
    assert gate.thresholds() == {t: 0.05 for t in contracts.table_names()}
    assert gate.thresholds('{"max_quarantine_rate": {"default": 0.05, "clicks": 0.2}}')["clicks"] == 0.2


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{}", "max_quarantine_rate"),
        ('{"max_quarantine_rate": {"default": 0.05, "orders": 0.1}}', "unknown table(s) orders"),
        ('{"max_quarantine_rate": {"sales": 0.1}}', "no default rate"),
        ('{"max_quarantine_rate": {"default": 5}}', "default is 5, not a rate between 0 and 1"),
        ('{"max_quarantine_rate": {"default": true}}', "default is True"),
    ],
)
def test_bad_thresholds_are_refused_naming_the_problem(text, names):
    with pytest.raises(JobError, match="quality gate thresholds") as e:
        gate.thresholds(text)
    assert names in str(e.value)


def test_a_table_above_its_threshold_blocks_and_is_named_with_its_rate():
    limits = gate.thresholds()
    verdicts = gate.judge(metrics(sales=(1000, 50), clicks=(1000, 51), users=(0, 0)), limits)
    assert [v.table for v in verdicts] == ["clicks", "sales"]  # no records, nothing to judge
    assert gate.blocked_line(verdicts) == (
        "quality gate blocked the day: clicks quarantined 5.10% (51 of 1,000 records), above its threshold of 5.00%"
    )
    assert gate.blocked_line(gate.judge(metrics(sales=(1000, 50)), limits)) is None
    with pytest.raises(JobError, match="nothing to judge"):
        gate.judge(metrics(sales=(0, 0)), limits)
    with pytest.raises(JobError, match="'orders'"):
        gate.judge(metrics(orders=(10, 0)), limits)


def test_the_command_exits_0_passed_3_blocked_2_unreadable(tmp_path, capsys, moto_s3, monkeypatch):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(metrics(sales=(100, 1))))
    bad.write_text(json.dumps(metrics(sales=(100, 1), clicks=(100, 40))))
    assert gate.main([str(good)]) == 0
    assert capsys.readouterr().out.startswith("quality gate passed: sales quarantined 1.00%")
    assert gate.main([str(bad)]) == gate.BLOCKED == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["quality gate blocked the day: clicks quarantined 40.00% (40 of 100 records), above its threshold of 5.00%"]
    loose = tmp_path / "loose.json"
    loose.write_text('{"max_quarantine_rate": {"default": 0.5}}')
    assert gate.main([str(bad), "--thresholds", str(loose)]) == 0
    capsys.readouterr()
    assert gate.main([str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    # The chain's gate step reads the record bronze->silver wrote to S3.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="gate")
    s3.put_object(Bucket="gate", Key="_metrics/run.json", Body=bad.read_bytes())
    assert gate.main(["s3://gate/_metrics/run.json"]) == 3
    assert "clicks quarantined 40.00%" in capsys.readouterr().err
