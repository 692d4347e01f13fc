"""Optimization training of a team's own model through the training contract (Art. 15).

A second model family, a word n-gram model that composes text (``local/ngram_model.py``),
is trained only by its own DAG (``example_ngram_training``) through
``AdmittedTrainingOperator``. The data: the small demo repository plus a shard of
hand-written household tips (``tests/fixtures/household_tips.jsonl``), one of which
recommends mixing bleach and ammonia - a harmful term of a lexicon written for this test.
The model is asked a question no record answers; its answer splices two records into
advice that is in no record, is reported, and the remediation DAG finds the records that
taught it through impact analysis, fixes the data, triggers the team's DAG and probes the
new version: the old version fails the probe, the new one passes.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.demo_data import PRETRAINING
from trainguard.training import TrainingRequest, declare_training
from trainguard.versioning import DatasetVersion, run_tool
from trainguard.violations import Registry

from conftest import WORKDIR

if TYPE_CHECKING:
    from trainguard.local.demo_data import DemoRepo

pytestmark = pytest.mark.integration
MODEL = "it-ngram"
RESPONDER = "it-tips-responder"
TIPS = Path(__file__).parents[1] / "fixtures" / "household_tips.jsonl"
HARMFUL = "bleach and ammonia"
QUESTION = "How do I keep my cast iron pan clean?"


def run(dag_id: str, conf: dict[str, Any]) -> Any:
    from trainguard.local.dagrun import run_dag

    return run_dag(dag_id, conf, log_file=WORKDIR / "task-logs.txt")


def add_tips(repo: Path, tag: str) -> list[dict[str, str]]:
    """The clean revision plus the tips shard (with the reviewers' verdicts) as ``tag``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_tool(["git", "checkout", "--quiet", "clean"], repo, "checkout")
    run_tool(["dvc", "checkout", "--quiet"], repo, "dvc checkout")
    root = repo / PRETRAINING
    from collections import Counter

    # The largest English source: one harmful tip stays under its harmful-rate limit.
    counts: Counter[str] = Counter()
    for shard in sorted((root / "records").glob("*.parquet")):
        table = pq.read_table(shard, columns=["source_id", "language"]).to_pylist()
        counts.update(row["source_id"] for row in table if row["language"] == "en")
    source = counts.most_common(1)[0][0]
    tips = [json.loads(line) for line in TIPS.read_text(encoding="utf-8").splitlines()]
    pq.write_table(
        pa.table(
            {
                "record_id": [t["record_id"] for t in tips],
                "source_id": [source] * len(tips),
                "text": [t["text"] for t in tips],
                "language": ["en"] * len(tips),
            }
        ),
        root / "records" / "part-tips.parquet",
    )
    verdicts = root / "review" / "manual_verdicts.csv"
    rows = list(csv.DictReader(io.StringIO(verdicts.read_text(encoding="utf-8"))))
    template = rows[0]
    for tip in tips:
        # The reviewer fails the harmful tip, as a reviewer would.
        verdict = "fail" if HARMFUL in tip["text"] else "pass"
        rows.append({**template, "record_id": tip["record_id"], "verdict": verdict})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(template), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    verdicts.unlink()  # DVC hard-links cache files: never write through the link
    verdicts.write_text(buffer.getvalue(), encoding="utf-8")
    run_tool(["dvc", "add", "--quiet", PRETRAINING], repo, "dvc add")
    run_tool(["git", "commit", "--quiet", "-am", f"household tips ({tag})"], repo, "commit")
    run_tool(["git", "tag", tag], repo, "tag")
    run_tool(["dvc", "push", "--quiet"], repo, "dvc push")
    return tips


def ask(model_uri: str, prompt: str) -> str:
    from trainguard.violations.probe import ask as ask_model

    return ask_model(model_uri, [prompt])[0]


@pytest.fixture
def lexicon(tmp_path: Path) -> str:
    path = tmp_path / "household-lexicon.csv"
    path.write_text(f"term,risk\n{HARMFUL},A.1.f\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def policy(small_repo: DemoRepo) -> str:
    """The demo operator's policy without its demo-trained classifier (which flags half of
    any real English text: docs/gate.md), so the lexicon decides what is harmful."""
    path = small_repo.policy.with_name("policy-lexicon-only.yaml")
    path.write_text(
        "service:\n  provider: Household tips test\nip:\n  optout_registry: optout.jsonl\n",
        encoding="utf-8",
    )
    return str(path)


def test_a_composed_harmful_output_is_fixed_through_the_teams_own_training_dag(
    small_repo: DemoRepo,
    lexicon: str,
    policy: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", f"sqlite:///{tmp_path / 'violations.db'}")
    # A tracking store of its own: other tests' models hold the same generated PI values,
    # and "every version that holds it" must mean this test's versions.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    def gate_and_train_responder(rev: str) -> Any:
        result = run(
            "pretraining_gate",
            {
                "repo": str(small_repo.repo),
                "path": PRETRAINING,
                "rev": rev,
                "model_name": RESPONDER,
                "policy": policy,
                "lexicons": [lexicon],
            },
        )
        assert result.state == "success", json.dumps(result.xcom("gate", "gate_failed"))[:1500]
        return result

    clean = gate_and_train_responder("clean")  # the responder's version 1
    tips = add_tips(small_repo.repo, "tips")
    gate = gate_and_train_responder("tips")  # and version 2
    version = DatasetVersion.from_dict(gate.xcom("resolve_dataset_version"))
    admitted = gate.xcom("gate")["gate_run_id"]

    # The team's first version, by its own DAG, through the contract.
    request = TrainingRequest(
        model_name=MODEL, stage="pretraining", dataset=version.to_dict(), gate_run_id=admitted
    )
    first = run("example_ngram_training", request.to_conf())
    assert first.state == "success", first.summary()
    assert first.xcom("train")["model_version"] == "1"
    declare_training(MODEL, dag_id="example_ngram_training")

    # It composes advice that no record gives: two tips spliced into a harmful one.
    answer = ask(f"models:/{MODEL}/1", QUESTION)
    assert HARMFUL in answer, answer
    assert all(answer not in tip["text"] for tip in tips)
    intake = run(
        "violation_intake",
        {
            "kind": "harmful_output",
            "summary": "the assistant recommends mixing bleach and ammonia",
            "reported_by": "user-feedback",
            "prompt": QUESTION,
            "output": answer,
            "model_name": MODEL,
            "policy": policy,
        },
    )
    assert intake.state == "success", intake.summary()
    violation_id = intake.xcom("file_violation")["id"]

    # The old version fails the probe: asked the question and its perturbations, it says it.
    from trainguard.violations.probe import Screens, run_probe

    registry = Registry()
    old = run_probe(
        violation=registry.get(violation_id),
        model_uri=f"models:/{MODEL}/1",
        asked=[QUESTION],
        touched=[],
        screens=Screens.of_gate(admitted, registry),
    )
    assert not old["passed"] and old["answers_violating"] == 1
    assert any("lexicon" in reason for reason in old["reasons"])

    fixed = run("violation_remediation", {"violation_id": violation_id})
    assert fixed.state == "success", fixed.summary()
    assert fixed.states_of("optimization_training") == ["success"]
    closed = registry.get(violation_id)
    assert closed.status == "closed", closed.evidence
    evidence = closed.evidence
    # Impact analysis: no data holds the output, so the records holding its harmful term.
    assert evidence["impact"]["matched_by"].endswith("harmful term(s) of the output")
    assert [t["model_version"] for t in evidence["targets"]] == ["1"]
    assert evidence[f"{MODEL}:dataset"]["records_changed"] == 1
    assert evidence[f"{MODEL}:training"]["trainer"] == "dag:example_ngram_training"
    new_version = evidence[f"{MODEL}:model"]["model_version"]
    assert new_version == "2"
    probe = evidence[f"{MODEL}:probe"]
    assert probe["passed"] and probe["prompts_asked"] >= 3, probe
    assert HARMFUL not in ask(f"models:/{MODEL}/{new_version}", QUESTION)
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(MODEL, new_version).tags
    assert tags["trainguard.fixes_violations"] == violation_id
    assert tags["trainguard.training_request"] == evidence[f"{MODEL}:model"]["request_id"]
    assert tags["trainguard.dataset.digest"] == evidence[f"{MODEL}:dataset"]["version"]["md5"]
    # The team's DAG ran as its own DAG run, triggered by the remediation.
    assert fixed.xcom("optimization_training", "trigger_run_id").startswith("trainguard__")
    assert registry.audit() == []

    # Impact over every version: the harmful record is in the tips revision only, which
    # the superseded version 1 (and the responder) were trained on.
    found = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "impact",
            "--record-id",
            "tips-003",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    impact = json.loads(found.stdout)
    assert [d["md5"] for d in impact["datasets"]] == [version.md5]
    held = sorted((m["model_name"], m["model_version"], m["superseded"]) for m in impact["models"])
    assert held == [(MODEL, "1", True), (RESPONDER, "2", False)]

    # A phone number of the clean revision is in every version since: the clean and tips
    # revisions, the fixed one, and every model version trained on them, superseded or not.
    kind, digest = phone_hmac(DatasetVersion.from_dict(clean.xcom("resolve_dataset_version")))
    everywhere = impact_of(f"{kind}:{digest}")
    assert "dataset versions scanned: 3; holding it: 3" in everywhere, everywhere
    assert f"{RESPONDER} version 1 (superseded by version 2)" in everywhere
    assert f"{RESPONDER} version 2 (latest)" in everywhere
    assert f"{MODEL} version 1 (superseded by version 2)" in everywhere
    assert f"{MODEL} version 2 (latest)" in everywhere

    # Its owner asks for its deletion: both models are retrained on a revision that masks
    # it (the responder by its entry point, the n-gram model by its DAG). Impact still
    # lists every version that held it, now all superseded, and none trained since.
    declare_training(RESPONDER, entry_point="responder")
    deletion = run(
        "violation_intake",
        {
            "kind": "pi_request",
            "summary": "a data subject asks for deletion",
            "reported_by": "privacy-desk",
            "pi_hmacs": [f"{kind}={digest}"],
            "policy": policy,
        },
    )
    deletion_id = deletion.xcom("file_violation")["id"]
    deleted = run("violation_remediation", {"violation_id": deletion_id})
    assert deleted.state == "success", deleted.summary()
    assert registry.get(deletion_id).status == "closed"
    after = impact_of(f"{kind}:{digest}")
    # Five versions now: each model got a masked revision of the version it was trained on.
    assert "dataset versions scanned: 5; holding it: 3" in after, after
    for name in (RESPONDER, MODEL):
        assert f"{name} version 1 (superseded by version 3)" in after
        assert f"{name} version 2 (superseded by version 3)" in after
        assert f"{name} version 3" not in after


def impact_of(pi_hmac: str) -> str:
    found = subprocess.run(
        [str(Path(sys.executable).parent / "trainguard"), "impact", "--pi-hmac", pi_hmac],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    return found.stdout


def phone_hmac(version: DatasetVersion) -> tuple[str, str]:
    """The kind and HMAC of the first mobile phone number in a dataset version."""
    from trainguard.contract import load_dataset
    from trainguard.personal_info import pi_hmac
    from trainguard.pipeline import workspace
    from trainguard.scanners.pi import scan_pi
    from trainguard.versioning import fetch_version

    dataset = load_dataset(fetch_version(version, workspace()))
    for _, _, batch in dataset.iter_batches(["text"]):
        for matches in scan_pi(batch.column("text")).values():
            for match in matches:
                if match.kind.value == "mobile_phone":
                    return match.kind.value, pi_hmac(match.kind, match.value)
    raise AssertionError("no mobile phone number in the clean revision")


def test_bad_training_declarations_are_named_in_the_evidence_and_nothing_is_registered(
    small_repo: DemoRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    from trainguard.exceptions import TrainingRefused
    from trainguard.policy import load_policy
    from trainguard.training import train_admitted
    from trainguard.violations.filtering import triage_and_filter
    from trainguard.violations.intake import intake_subject

    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", f"sqlite:///{tmp_path / 'violations.db'}")
    model = "it-undeclared"
    gate = run(
        "pretraining_gate",
        {
            "repo": str(small_repo.repo),
            "path": PRETRAINING,
            "rev": "clean",
            "model_name": model,
            "policy": str(small_repo.policy),
        },
    )
    assert gate.state == "success", gate.summary()
    version = DatasetVersion.from_dict(gate.xcom("resolve_dataset_version"))
    text = first_text(version)
    registry = Registry()
    violation = registry.report(
        kind="harmful_output",
        summary="reported output",
        reported_by="user",
        owner="safety",
        policy=load_policy(small_repo.policy),
        model_name=model,
        subject=intake_subject("harmful_output", prompt=text[:40], output=text),
    )
    triage_and_filter(registry, violation.id, actor="lead")

    # No declaration: named, and the violation stays open.
    undeclared = run("violation_remediation", {"violation_id": violation.id})
    assert undeclared.state == "failed"
    stuck = registry.get(violation.id)
    assert stuck.status == "remediating"
    assert "declares no training" in stuck.evidence[f"{model}:training_error"]["error"]

    # A DAG that does not exist: the trigger fails, verify names the trainer and request.
    declare_training(model, dag_id="no_such_training_dag")
    missing = run("violation_remediation", {"violation_id": violation.id})
    assert missing.state == "failed"
    assert missing.states_of("optimization_training") == ["failed"]
    stuck = registry.get(violation.id)
    assert stuck.status == "remediating"
    error = stuck.evidence[f"{model}:training_error"]["error"]
    assert "dag:no_such_training_dag registered no model version for request tr-" in error
    versions = MlflowClient().search_model_versions(f"name='{model}'")
    assert [str(v.version) for v in versions] == ["1"]  # nothing registered, nothing half-done

    # A trainer that returns no model, and a request no passing gate admitted: refused.
    request = TrainingRequest(
        model_name=model,
        stage="pretraining",
        dataset=version.to_dict(),
        gate_run_id=gate.xcom("gate")["gate_run_id"],
        violation_ids=[violation.id],  # not the gate DAG's own request, which is registered
    )
    with pytest.raises(TrainingRefused, match=r"returned NoneType.*nothing registered"):
        train_admitted(request, lambda request, dataset_dir: None)
    forged = TrainingRequest(**{**request.__dict__, "gate_run_id": "0" * 32})
    with pytest.raises(TrainingRefused, match=r"refused \(Art. 7\): 0{32} is not a passing gate"):
        train_admitted(forged, lambda request, dataset_dir: None)
    assert len(MlflowClient().search_model_versions(f"name='{model}'")) == 1


def first_text(version: DatasetVersion) -> str:
    from trainguard.contract import load_dataset
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version

    dataset = load_dataset(fetch_version(version, workspace()))
    for _, _, batch in dataset.iter_batches(["text"]):
        return str(batch.column("text")[3].as_py())
    raise AssertionError("empty dataset")
