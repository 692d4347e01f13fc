"""The legality scan on the full-size demo: accuracy against the ground truth, and no leaks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from trainguard.local.demo_data import PRETRAINING, DemoRepo
from trainguard.pipeline import workspace
from trainguard.versioning import fetch_version, resolve_version, run_tool

from conftest import (
    CANARIES,
    WAIVED_MODEL,
    WORKDIR,
    Stack,
    assert_no_canary,
    plant_canaries,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def planted_annotations(stack: Stack) -> Any:
    from trainguard.gate.decide import evaluate
    from trainguard.policy import load_policy

    version = resolve_version(stack.demo.repo, PRETRAINING, "planted")
    out = WORKDIR / "planted-annotations.parquet"
    evaluate(
        fetch_version(version, workspace()),
        load_policy(stack.demo.policy),
        digest=version.md5,
        annotations_out=out,
    )
    return pq.read_table(out)


def test_pi_precision_and_recall_per_kind(stack: Stack, planted_annotations: Any) -> None:
    """Every PI kind is found with precision and recall >= 0.99 at the planted offsets."""
    truth = {
        (s["record_id"], s["kind"], s["start"], s["end"]): s["covered"]
        for s in stack.demo.ground_truth("planted")["pretraining"]["pi"]
    }
    found = {
        (record_id, span["kind"], span["start"], span["end"]): span["covered"]
        for record_id, spans in zip(
            planted_annotations.column("record_id").to_pylist(),
            planted_annotations.column("pi").to_pylist(),
            strict=True,
        )
        for span in spans
    }
    for kind in sorted({key[1] for key in truth}):
        expected = {k for k in truth if k[1] == kind}
        reported = {k for k in found if k[1] == kind}
        hits = expected & reported
        assert len(hits) / len(reported) >= 0.99, f"{kind} precision: {sorted(reported - hits)}"
        assert len(hits) / len(expected) >= 0.99, f"{kind} recall: {sorted(expected - hits)}"
    # Values written in groups (longer than their digits) are planted and all found.
    plain_length = {"resident_id": 18, "bank_card": 19, "mobile_phone": 11, "landline_phone": 12}
    for kind, length in plain_length.items():
        grouped = {k for k in truth if k[1] == kind and k[3] - k[2] > length}
        assert len(grouped) >= 5, f"the demo plants too few grouped {kind} values"
        assert grouped <= found.keys(), f"grouped {kind} missed: {sorted(grouped - found.keys())}"
    # The consent verdict of every matched value agrees with how it was planted.
    assert all(found[key] == truth[key] for key in truth.keys() & found.keys())
    assert Counter(truth.values())[False] == sum(1 for v in found.values() if not v)


def test_annotations_follow_the_contract(planted_annotations: Any, stack: Stack) -> None:
    """One row per record with pi, risks, and duplicate_of linking each planted pair."""
    names = set(planted_annotations.column_names)
    assert {"record_id", "pi", "risks", "duplicate_of"} <= names
    assert (
        planted_annotations.num_rows == stack.demo.ground_truth("planted")["pretraining"]["records"]
    )
    duplicate_of = dict(
        zip(
            planted_annotations.column("record_id").to_pylist(),
            planted_annotations.column("duplicate_of").to_pylist(),
            strict=True,
        )
    )
    problems = stack.demo.ground_truth("planted")["pretraining"]["problems"]
    pairs = next(p["pairs"] for p in problems if p["problem"] == "near_duplicates")
    # The earlier record in dataset order (shard, then row) is the one the other points to.
    found = sum(
        duplicate_of[copy] == original or duplicate_of[original] == copy for copy, original in pairs
    )
    assert found / len(pairs) >= 0.95
    harmful = next(p for p in problems if p["problem"] == "harmful_over_threshold")
    risks = dict(
        zip(
            planted_annotations.column("record_id").to_pylist(),
            planted_annotations.column("risks").to_pylist(),
            strict=True,
        )
    )
    assert all(any(r.startswith("A.") for r in risks[rid]) for rid in harmful["record_ids"])


def test_gate_run_logs_data_docs_and_tables(planted_run: Any) -> None:
    """The gate run in MLflow holds the GX Data Docs site and the per-source measures."""
    import mlflow
    from mlflow import MlflowClient

    run_id = planted_run.xcom("gate", "gate_failed")["gate_run_id"]
    docs = [a.path for a in MlflowClient().list_artifacts(run_id, "data_docs")]
    assert "data_docs/index.html" in docs
    tables = mlflow.artifacts.load_dict(f"runs:/{run_id}/gate_tables.json")
    social = next(s for s in tables["sources"] if s["source_id"] == "social-posts")
    assert social["harmful_rate"] > 0.05 and social["harmful_sampled"] == 1500


def test_masked_revision_passes_the_consent_check(small_repo: DemoRepo) -> None:
    """`trainguard mask` commits a new DVC revision in which no PI lacks consent."""
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "mask",
            str(small_repo.repo),
            "--path",
            PRETRAINING,
            "--rev",
            "planted",
            "--tag",
            "planted-masked",
            "--policy",
            str(small_repo.policy),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    log = run_tool(["git", "log", "-1", "--format=%s", "planted-masked"], small_repo.repo, "log")
    assert "Mask" in log and "Art. 7(3)" in log
    scan = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "scan",
            "--quiet",
            "--format",
            "json",
            "--policy",
            str(small_repo.policy),
            str(
                fetch_version(
                    resolve_version(small_repo.repo, PRETRAINING, "planted-masked"), workspace()
                )
            ),
        ],
        capture_output=True,
        text=True,
    )
    report = json.loads(scan.stdout)
    consent = [f for f in report["findings"] if f["check"] == "pi.consent"]
    assert consent and all(f["status"] == "pass" for f in consent)


def test_no_raw_pi_leaks_into_any_output(stack: Stack, small_repo: DemoRepo) -> None:
    """Canary PI values planted in the data appear in no report, log, XCom or MLflow file."""

    repo = small_repo.repo
    plant_canaries(repo, "canary")  # into news-crawl, which declares no PI: none consented

    result = stack.run_gate("canary", repo=repo, policy=str(small_repo.policy))
    failed = result.xcom("gate", "gate_failed")["failed"]
    assert any(f["check"] == "pi.consent" and f["source_id"] == "news-crawl" for f in failed)

    local = fetch_version(resolve_version(repo, PRETRAINING, "canary"), workspace())
    annotations = WORKDIR / "canary-annotations.parquet"
    cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "scan",
            str(local),
            "--format",
            "json",
            "--policy",
            str(small_repo.policy),
            "--annotations",
            str(annotations),
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    outputs = {"cli stdout": cli.stdout, "cli stderr": cli.stderr}
    searched = _readable_outputs(outputs, annotations)
    assert searched > 20  # logs, databases, artifacts, scans were all read
    # The search itself works: the same decoding finds every canary in the data.
    data = str(pq.read_table(local / "records" / "part-canary.parquet").to_pylist())
    assert all(value in data for value in CANARIES.values())
    assert_no_canary(outputs)


def _readable_outputs(outputs: dict[str, str], annotations: Path) -> int:
    """Every file trainguard, Airflow and MLflow wrote, as text (Parquet decoded)."""
    outputs["annotations"] = str(pq.read_table(annotations).to_pylist())
    from mlflow import MlflowClient

    skipped = {"datasets", "demo", "dvc-site-cache"}  # the data itself, on purpose
    # The weights of a model deliberately trained on canary data (admitted by waivers in
    # test_provenance) reproduce that data by design; every other model is searched.
    skipped |= {
        version.tags.get("trainguard.logged_model_id", "")
        for version in MlflowClient().search_model_versions(f"name='{WAIVED_MODEL}'")
    }
    skipped.discard("")
    for path in WORKDIR.rglob("*"):
        if not path.is_file() or skipped & set(path.relative_to(WORKDIR).parts):
            continue
        if path.suffix == ".parquet":
            outputs[str(path)] = str(pq.read_table(path).to_pylist())
        else:
            outputs[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return len(outputs)
