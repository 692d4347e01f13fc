"""The command line: exit codes 0/1/2, the JSON report of DESIGN.md, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dataset_factory import default_sources, write_dataset

pytestmark = pytest.mark.unit


def trainguard(*args: str) -> subprocess.CompletedProcess[str]:
    # A real process, so exit codes and stderr are what a user sees.
    return subprocess.run([sys.executable, "-m", "trainguard.cli", *args],
                          capture_output=True, text=True, check=False)


def test_scan_passes_with_exit_0_and_json_report(tmp_path: Path) -> None:
    """A clean dataset exits 0 and the JSON report has the DESIGN.md fields."""
    done = trainguard("scan", str(write_dataset(tmp_path / "d")), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["decision"] == "pass"
    assert report["dataset"]["name"] == "tiny" and report["dataset"]["records"] == 30
    assert report["dataset"]["digest"].startswith("sha256:")
    assert set(report["findings"][0]) >= {"check", "clauses", "status", "source_id",
                                          "observed", "threshold", "record_ids"}


def test_scan_fails_with_exit_1_naming_clause(tmp_path: Path) -> None:
    """A dataset with a denied licence exits 1 and the text report names the clause."""
    sources = default_sources()
    sources[0]["license"] = "CC-BY-NC-4.0"
    done = trainguard("scan", str(write_dataset(tmp_path / "d", sources=sources)))
    assert done.returncode == 1
    assert "decision: FAIL" in done.stdout
    assert "source.licence [source wiki]" in done.stdout and "Art. 7(2)" in done.stdout


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """A contract breach prints one error line naming the file and exits 2."""
    root = write_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text("name: tiny\nstage: midtraining\nmodality: text\n"
                                       "languages: [zh]\n")
    done = trainguard("scan", str(root))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "dataset.yaml, field 'stage'" in lines[0]


def test_missing_dataset_directory_exits_2(tmp_path: Path) -> None:
    """Scanning a folder that does not exist is bad input."""
    done = trainguard("scan", str(tmp_path / "nope"))
    assert done.returncode == 2 and "dataset directory not found" in done.stderr


def test_bad_policy_exits_2(tmp_path: Path) -> None:
    """An out-of-range policy value exits 2 naming the key."""
    policy = tmp_path / "p.yaml"
    policy.write_text("harmful: {sample_size: 0}\n")
    done = trainguard("scan", str(write_dataset(tmp_path / "d")), "--policy", str(policy))
    assert done.returncode == 2 and "'harmful.sample_size'" in done.stderr


def test_policy_show_prints_every_setting_with_clause() -> None:
    """`policy show` lists each setting with its clause; JSON carries them too."""
    text = trainguard("policy", "show")
    assert text.returncode == 0
    assert "harmful.max_rate = 0.05" in text.stdout and "TC260-003 5.1 a [C]" in text.stdout
    document = json.loads(trainguard("policy", "show", "--format", "json").stdout)
    assert document["settings"]["corpus.manual_pass_rate"]["clause"] == "TC260-003 9.2"
    assert len(document["digest"]) == 64


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
        f"{row['record_id']},rev1,pass,2026-01-02T00:00:00\n" for row in rows)
    (root / "review" / "manual_verdicts.csv").write_text(verdicts)
    passing = trainguard("scan", str(root), "--format", "json", "--quiet")
    manual = [f for f in json.loads(passing.stdout)["findings"] if f["check"] == "corpus.manual"]
    assert manual and all(f["status"] == "pass" for f in manual)


def test_optout_registry_catches_a_lightly_edited_work(tmp_path: Path) -> None:
    """A work added to the registry is found in a record that copies it with small edits."""
    from dataset_factory import default_records

    work = ("The lantern keeper climbed the stairs every evening with oil and matches, and "
            "the harbour answered with a hundred small lights of its own for forty years.")
    (tmp_path / "work.txt").write_text(work)
    registry = tmp_path / "optout.jsonl"
    added = trainguard("optout", "add", "--registry", str(registry), "--work-id", "w1",
                       "--text-file", str(tmp_path / "work.txt"))
    assert added.returncode == 0, added.stderr
    assert work[:20] not in registry.read_text()  # fingerprints only
    again = trainguard("optout", "add", "--registry", str(registry), "--work-id", "w1",
                       "--text-file", str(tmp_path / "work.txt"))
    assert again.returncode == 2 and "already registered" in again.stderr
    records = default_records()
    records[7]["text"] = work.replace("forty", "fifty").replace("every", "each")
    root = write_dataset(tmp_path / "d", records=records)
    (tmp_path / "policy.yaml").write_text(f"ip: {{optout_registry: {registry}}}\n")
    done = trainguard("scan", str(root), "--policy", str(tmp_path / "policy.yaml"),
                      "--format", "json", "--quiet")
    hits = [f for f in json.loads(done.stdout)["findings"] if f["check"] == "ip.optout"
            and f["status"] == "fail"]
    assert done.returncode == 1 and hits[0]["record_ids"] == ["r0007"]
