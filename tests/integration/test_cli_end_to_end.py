"""The command line end to end: a real `trainguard` process runs the whole gate.

These moved out of the unit tier because each runs every check of the gate in a fresh
process (GX suites, classifier training, a scan of a dataset): 10-20 s apiece here.
The argument and error handling of the CLI stays in tests/unit/test_cli.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.policy import load_policy
from trainguard.violations import Registry
from trainguard.violations.intake import intake_subject

from dataset_factory import default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

PHONE = "13987654321"


def report(registry: Registry, **overrides: object) -> object:
    """A deletion request filed straight into the registry (for back-dating)."""
    values: dict[str, object] = {
        "kind": "pi_request",
        "summary": "reported by a user",
        "subject": intake_subject("pi_request", pi=[("mobile_phone", PHONE)]),
        "reported_by": "cs-wang",
        "owner": "privacy",
        "policy": load_policy(None),
        **overrides,
    }
    return registry.report(**values)  # type: ignore[arg-type]


def trainguard(*args: str) -> subprocess.CompletedProcess[str]:
    # A real process, so exit codes and stderr are what a user sees.
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args], capture_output=True, text=True, check=False
    )


def trainguard_env(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def test_scan_passes_with_exit_0_and_json_report(tmp_path: Path) -> None:
    """A clean dataset exits 0 and the JSON report has the DESIGN.md fields."""
    done = trainguard("scan", str(write_dataset(tmp_path / "d")), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["decision"] == "pass"
    assert report["dataset"]["name"] == "tiny" and report["dataset"]["records"] == 30
    assert report["dataset"]["digest"].startswith("sha256:")
    assert set(report["findings"][0]) >= {
        "check",
        "clauses",
        "status",
        "source_id",
        "observed",
        "threshold",
        "record_ids",
    }


def test_scan_fails_with_exit_1_naming_clause(tmp_path: Path) -> None:
    """A dataset with a denied licence exits 1 and the text report names the clause."""
    sources = default_sources()
    sources[0]["license"] = "CC-BY-NC-4.0"
    dataset = write_dataset(tmp_path / "d", sources=sources)
    done = trainguard("scan", str(dataset))
    assert done.returncode == 1
    assert "decision: FAIL" in done.stdout
    assert "source.licence [source wiki]" in done.stdout and "Art. 7(2)" in done.stdout
    # The same report in Simplified Chinese, the clause under the Measures' official title.
    chinese = trainguard("scan", str(dataset), "--lang", "zh", "--quiet")
    assert chinese.returncode == 1, chinese.stderr
    assert "结论：未通过" in chinese.stdout
    assert "source.licence [来源 wiki]: 许可证 CC-BY-NC-4.0 禁止使用（" in chinese.stdout
    assert "《办法》第七条第（二）项" in chinese.stdout and "Art. 7(2)" not in chinese.stdout


def test_review_sample_masks_pi_and_feeds_the_manual_check(tmp_path: Path) -> None:
    """The review sample has every record (fewer than 4,000), PI masked; verdicts pass the gate."""
    from dataset_factory import default_records

    records = default_records()
    records[4]["text"] += " 电话13812345678"
    root = write_dataset(tmp_path / "d", records=records)
    (root / "review" / "manual_verdicts.csv").unlink()
    failing = trainguard("scan", str(root), "--format", "json", "--quiet")
    manual = [f for f in json.loads(failing.stdout)["findings"] if f["check"] == "corpus.manual"]
    assert failing.returncode == 1 and any(f["status"] == "fail" for f in manual)
    sample = tmp_path / "sample.csv"
    done = trainguard("review-sample", str(root), "--out", str(sample))
    assert done.returncode == 0, done.stderr
    text = sample.read_text(encoding="utf-8")
    assert "13812345678" not in text and "[mobile_phone]" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 30 and rows[0]["verdict"] == ""
    verdicts = "record_id,reviewer_id,verdict,reviewed_at\n" + "".join(
        f"{row['record_id']},rev1,pass,2026-01-02T00:00:00\n" for row in rows
    )
    (root / "review" / "manual_verdicts.csv").write_text(verdicts)
    passing = trainguard("scan", str(root), "--format", "json", "--quiet")
    manual = [f for f in json.loads(passing.stdout)["findings"] if f["check"] == "corpus.manual"]
    assert manual and all(f["status"] == "pass" for f in manual)


def test_optout_registry_catches_a_lightly_edited_work(tmp_path: Path) -> None:
    """A work added to the registry is found in a record that copies it with small edits."""
    from dataset_factory import default_records

    work = (
        "The lantern keeper climbed the stairs every evening with oil and matches, and "
        "the harbour answered with a hundred small lights of its own for forty years."
    )
    (tmp_path / "work.txt").write_text(work)
    registry = tmp_path / "optout.jsonl"
    added = trainguard(
        "optout",
        "add",
        "--registry",
        str(registry),
        "--work-id",
        "w1",
        "--text-file",
        str(tmp_path / "work.txt"),
    )
    assert added.returncode == 0, added.stderr
    assert work[:20] not in registry.read_text()  # fingerprints only
    again = trainguard(
        "optout",
        "add",
        "--registry",
        str(registry),
        "--work-id",
        "w1",
        "--text-file",
        str(tmp_path / "work.txt"),
    )
    assert again.returncode == 2 and "already registered" in again.stderr
    records = default_records()
    records[7]["text"] = work.replace("forty", "fifty").replace("every", "each")
    root = write_dataset(tmp_path / "d", records=records)
    (tmp_path / "policy.yaml").write_text(f"ip: {{optout_registry: {registry}}}\n")
    done = trainguard(
        "scan", str(root), "--policy", str(tmp_path / "policy.yaml"), "--format", "json", "--quiet"
    )
    hits = [
        f
        for f in json.loads(done.stdout)["findings"]
        if f["check"] == "ip.optout" and f["status"] == "fail"
    ]
    assert done.returncode == 1 and hits[0]["record_ids"] == ["r0007"]


def test_scan_honours_a_waiver_added_on_the_command_line(tmp_path: Path) -> None:
    """waiver add → scan exits 0 with the finding WAIVED; after revoke it fails again."""
    sources = default_sources()
    sources[0]["license"] = "CC-BY-NC-4.0"
    dataset = write_dataset(tmp_path / "d", sources=sources)
    store = tmp_path / "waivers.jsonl"
    until = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    added = trainguard(
        "waiver",
        "add",
        "--check",
        "source.licence",
        "--source",
        "wiki",
        "--by",
        "reviewer-li",
        "--reason",
        "licence renegotiated",
        "--until",
        until,
        "--store",
        str(store),
    )
    assert added.returncode == 0, added.stderr
    waiver_id = added.stdout.split()[1]
    scan = trainguard("scan", str(dataset), "--waivers", str(store), "--quiet")
    assert scan.returncode == 0, scan.stdout
    assert "WAIVED  source.licence [source wiki]" in scan.stdout
    assert f"waiver {waiver_id} by reviewer-li" in scan.stdout
    listed = json.loads(
        trainguard("waiver", "list", "--format", "json", "--store", str(store)).stdout
    )
    assert [w["id"] for w in listed] == [waiver_id] and listed[0]["active"]
    revoked = trainguard(
        "waiver", "revoke", waiver_id, "--by", "lead", "--reason", "no", "--store", str(store)
    )
    assert revoked.returncode == 0, revoked.stderr
    assert trainguard("scan", str(dataset), "--waivers", str(store), "--quiet").returncode == 1


def test_cli_reports_lists_overdue_and_audits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    env = {"TRAINGUARD_REGISTRY_URL": url}
    filed = trainguard_env(
        "violations",
        "report",
        "--kind",
        "pi_request",
        "--summary",
        "delete",
        "--by",
        "cs",
        "--pi",
        f"mobile_phone={PHONE}",
        "--format",
        "json",
        env=env,
    )
    assert filed.returncode == 0, filed.stderr
    fresh = json.loads(filed.stdout)
    assert fresh["status"] == "reported" and PHONE not in filed.stdout
    aged = report(Registry(url), reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    overdue = json.loads(
        trainguard_env("violations", "list", "--overdue", "--format", "json", env=env).stdout
    )
    assert [v["id"] for v in overdue] == [aged.id] and overdue[0]["sla"] == "overdue"  # type: ignore[attr-defined]
    text = trainguard_env("violations", "list", "--overdue", env=env).stdout
    assert "OVERDUE" in text and aged.id in text  # type: ignore[attr-defined]
    moved = trainguard_env(
        "violations", "transition", fresh["id"], "--to", "closed", "--by", "x", env=env
    )
    assert moved.returncode == 2 and "cannot move to closed" in moved.stderr
    assert "Traceback" not in moved.stderr
    assert trainguard_env("violations", "audit", env=env).returncode == 0
    blocked = trainguard_env("filter-check", "--text", PHONE, env=env)
    assert blocked.returncode == 0  # reported, not yet filtered: the filter starts at triage
    for status in ("triaged", "filtered"):
        assert (
            trainguard_env(
                "violations", "transition", fresh["id"], "--to", status, "--by", "lead", env=env
            ).returncode
            == 0
        )
    blocked = trainguard_env("filter-check", "--text", f"call {PHONE}", env=env)
    assert blocked.returncode == 1 and fresh["id"] in blocked.stdout
