"""The violation lifecycle on the real stack: intake and filter at once, remediation DAG
(fixed DVC revision, gate, optimization training, probe), deadlines and alerts, and a
remediation killed midway that resumes without a duplicate dataset version."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.personal_info import pi_hmac
from trainguard.pipeline import workspace
from trainguard.policy import load_policy
from trainguard.training import declare_training
from trainguard.versioning import DatasetVersion, fetch_version, run_tool
from trainguard.violations import Registry
from trainguard.violations.filtering import check_output
from trainguard.violations.intake import intake_subject
from trainguard.violations.remediation import Matcher

from conftest import WORKDIR, Stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trainguard.local.demo_data import DemoRepo

pytestmark = pytest.mark.integration
MODEL = "it-remediated"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A SQLite registry of the test's own (the DAGs run in this process and read the
    variable)."""
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", url)
    return Registry(url)


@pytest.fixture
def pg_registry(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """A registry in a PostgreSQL database of the test's own: the production set-up."""
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", pg_url)
    registry = Registry(pg_url)
    yield registry
    registry.engine.dispose()  # the database is dropped next


@pytest.fixture
def trained(stack: Stack, small_repo: DemoRepo) -> dict[str, Any]:
    """A model trained on the small repository's clean pretraining data."""
    result = stack.run_gate(
        "clean", repo=small_repo.repo, policy=str(small_repo.policy), model_name=MODEL
    )
    assert result.state == "success", result.summary()
    # The team declares how the model is trained: here trainguard's own responder trainer.
    declare_training(MODEL, entry_point="responder")
    version = DatasetVersion.from_dict(result.xcom("resolve_dataset_version"))
    return {
        "model_version": result.xcom("train")["model_version"],
        "dataset": version,
        "dir": fetch_version(version, workspace()),
    }


def first_texts(dataset_dir: Path) -> tuple[str, tuple[str, str]]:
    """A training text, and one PI value (kind, value) found in the data."""
    from trainguard.contract import load_dataset
    from trainguard.scanners.pi import scan_pi

    dataset = load_dataset(dataset_dir)
    text, value = None, None
    for _, _, batch in dataset.iter_batches(["text"]):
        column = batch.column("text")
        text = text or column[3].as_py()
        for row, matches in scan_pi(column).items():
            match = matches[0]
            value = (match.kind.value, column[row].as_py()[match.start : match.end])
            break
        if value:
            break
    assert text and value
    return text, value


def run(dag_id: str, conf: dict[str, Any]) -> Any:
    from trainguard.local.dagrun import run_dag

    return run_dag(dag_id, conf, log_file=WORKDIR / "task-logs.txt")


class Webhook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Webhook.received = []
    monkeypatch.setenv("TRAINGUARD_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/")
    yield Webhook.received
    server.shutdown()


def test_reported_output_and_pi_request_are_filtered_fixed_verified_and_closed(
    registry: Registry,
    trained: dict[str, Any],
    small_repo: DemoRepo,
    webhook: list[dict[str, Any]],
    stack: Stack,
) -> None:
    import mlflow.sklearn

    text, (pi_kind, pi_value) = first_texts(trained["dir"])
    prompt = text[:40]
    old_model = mlflow.sklearn.load_model(f"models:/{MODEL}/{trained['model_version']}")
    assert old_model.predict([prompt]) == [text]  # the probe has something to catch

    harmful = run(
        "violation_intake",
        {
            "kind": "harmful_output",
            "summary": "a user reported this answer",
            "reported_by": "user-feedback",
            "prompt": prompt,
            "output": text,
            "model_name": MODEL,
            "model_version": trained["model_version"],
            "policy": str(small_repo.policy),
        },
    )
    assert harmful.state == "success", harmful.summary()
    harmful_id = harmful.xcom("file_violation")["id"]
    hmac = pi_hmac(pi_kind, pi_value)
    deletion = run(
        "violation_intake",
        {
            "kind": "pi_request",
            "summary": "a data subject asks for deletion",
            "reported_by": "privacy-desk",
            "pi_hmacs": [f"{pi_kind}={hmac}"],
            "model_name": MODEL,
        },
    )
    pi_id = deletion.xcom("file_violation")["id"]
    # The immediate measure: both are blocked at serving time before any retraining.
    assert registry.get(harmful_id).status == registry.get(pi_id).status == "filtered"
    assert check_output(f"Sure: {text}", registry).violations == (harmful_id,)
    assert check_output(f"reach them at {pi_value}", registry).violations == (pi_id,)
    # An artificially aged report: overdue, so the daily run raises its alert.
    aged = registry.report(
        kind="ip_complaint",
        summary="takedown request left unhandled",
        reported_by="legal",
        owner="legal",
        policy=load_policy(small_repo.policy),
        subject=intake_subject("ip_complaint", work_id="W-404"),
        reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=60),
    )

    fixed = run("violation_remediation", {"policy": str(small_repo.policy)})
    assert fixed.state == "success", fixed.summary()
    assert [a["violation"] for a in fixed.xcom("check_deadlines")] == [aged.id]
    assert webhook and webhook[0]["violation"] == aged.id and webhook[0]["level"] == "overdue"
    assert "OVERDUE" in webhook[0]["text"]

    harmful, deletion = registry.get(harmful_id), registry.get(pi_id)
    for violation in (harmful, deletion):
        assert violation.status == "closed", violation.evidence
        assert violation.closed_at < violation.deadline
    probe = harmful.evidence[f"{MODEL}:probe"]
    assert probe["passed"] and probe["dataset_records_still_matching"] == 0
    tags = (
        mlflow_client()
        .get_model_version(MODEL, harmful.evidence[f"{MODEL}:model"]["model_version"])
        .tags
    )
    assert tags["trainguard.fixes_violations"] == harmful_id
    # One fixed revision removes all reported content a gate refuses (else its own gate
    # would fail): the output dropped, and the PI value under deletion masked with it.
    fixed = harmful.evidence[f"{MODEL}:dataset"]
    assert fixed["also_removed"].get(pi_id, 0) >= 1
    message = run_tool(
        ["git", "log", "-1", "--format=%B", fixed["version"]["rev"]], small_repo.repo, "log"
    )
    assert harmful_id in message and pi_id in message
    # Both were prepared in the same run, so each fixed the same version on its own, and
    # each fixed revision holds neither violation's content.
    assert deletion.evidence[f"{MODEL}:dataset"]["also_removed"].get(harmful_id, 0) >= 1
    fixed_dir = fetch_version(DatasetVersion.from_dict(fixed["version"]), workspace())
    assert Matcher(deletion).scan(fixed_dir) == []
    # Impact analysis named the dataset version and model version that held the value.
    held = deletion.evidence["impact"]  # other tests' models share the demo's PI values
    ours = [m["model_version"] for m in held["models"] if m["model_name"] == MODEL]
    assert ours == [trained["model_version"]]
    assert trained["dataset"].md5 in [d["md5"] for d in held["datasets"]]
    # The probe asked the new version the reported prompt and its perturbations, and its
    # MLflow run holds the answers (PI-masked) with the verdicts.
    assert probe["prompts_asked"] >= 3 and probe["answers_violating"] == 0
    probe_run = mlflow_client().get_run(probe["probe_run_id"])
    assert probe_run.data.tags["trainguard.kind"] == "probe"
    assert probe_run.data.tags["trainguard.violation"] == harmful_id
    assert harmful.evidence["closed_in_time"]["on_time"] is True
    assert 0 <= harmful.evidence["closed_in_time"]["share_of_time_used"] < 1
    harmful_fix = registry.get(harmful_id).evidence[f"{MODEL}:model"]["model_version"]
    new_model = mlflow.sklearn.load_model(f"models:/{MODEL}/{harmful_fix}")
    assert new_model.predict([prompt]) != [text]
    assert registry.audit() == []
    # What was removed stays removed: a later gate on the pre-fix revision fails, naming
    # the violations and their clauses, and training never starts on it (Art. 13, 15).
    again = stack.run_gate(
        "clean", repo=small_repo.repo, policy=str(small_repo.policy), model_name=MODEL
    )
    refused = {f["check"]: f for f in again.xcom("gate", "gate_failed")["failed"]}
    assert harmful_id in refused["reported.harmful_output"]["message"]
    assert "Art. 15" in refused["reported.harmful_output"]["clauses"]
    assert pi_id in refused["reported.pi_deletion"]["message"]
    assert "Art. 13" in refused["reported.pi_deletion"]["clauses"]
    assert again.xcom("train") is None
    assert pi_value not in json.dumps(refused)
    lineage = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "lineage",
            MODEL,
            harmful_fix,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert [v["id"] for v in json.loads(lineage.stdout)["violations_fixed"]] == [harmful_id]
    everything = json.dumps([registry.get(i).to_dict() for i in (harmful_id, pi_id)])
    everything += json.dumps(registry.events(), default=str)
    assert pi_value not in everything  # the registry holds the HMAC, never the value
    overdue = subprocess.run(
        [str(Path(sys.executable).parent / "trainguard"), "violations", "list", "--overdue"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert aged.id in overdue.stdout and "OVERDUE" in overdue.stdout


def mlflow_client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def test_a_remediation_killed_midway_resumes_without_a_duplicate_version(
    pg_registry: Registry, trained: dict[str, Any], small_repo: DemoRepo
) -> None:
    registry = pg_registry
    text, _ = first_texts(trained["dir"])
    violation = registry.report(
        kind="harmful_output",
        summary="reported output",
        reported_by="user",
        owner="safety",
        policy=load_policy(small_repo.policy),
        model_name=MODEL,
        subject=intake_subject("harmful_output", prompt=text[:40], output=text),
    )
    from trainguard.violations.filtering import triage_and_filter

    triage_and_filter(registry, violation.id, actor="lead")
    script = (
        "from pathlib import Path; from trainguard.local.dagrun import run_dag; "
        f"run_dag('violation_remediation', {{'violation_id': '{violation.id}'}}, "
        f"log_file=Path('{WORKDIR / 'killed-task-logs.txt'}'))"
    )
    output = (WORKDIR / "killed-remediation.out").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any(e["action"] == "step:dataset" for e in registry.events(violation.id)):
                break
            time.sleep(0.2)
        assert process.poll() is None, (
            "the remediation ended before it could be killed: "
            + (WORKDIR / "killed-remediation.out").read_text()[-3000:]
        )
        os.killpg(process.pid, signal.SIGKILL)  # the task process and anything it started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    midway = registry.get(violation.id)
    assert midway.status == "remediating"
    assert f"{MODEL}:dataset" in midway.evidence and f"{MODEL}:model" not in midway.evidence

    resumed = run("violation_remediation", {"violation_id": violation.id})
    assert resumed.state == "success", resumed.summary()
    closed = registry.get(violation.id)
    assert closed.status == "closed"
    tags = run_tool(["git", "tag", "--list", f"fix-{violation.id}-*"], small_repo.repo, "tags")
    assert len(tags.split()) == 1  # one fixed dataset version, not two
    assert closed.evidence[f"{MODEL}:dataset"] == midway.evidence[f"{MODEL}:dataset"]
    steps = [e["action"] for e in registry.events(violation.id)]
    assert steps.count("step:dataset") == 1 and steps.count("step:model") == 1
    assert registry.audit() == []
