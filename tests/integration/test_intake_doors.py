"""One front door for filing a violation: the CLI, the REST API and the intake DAG store
the same row for the same report, and none of them stores a raw phone number or email.

The API is called in-process through FastAPI's TestClient with Airflow's JWT check stood
in for by a fixed principal (the real check is tested against a running api-server in
test_governance_api.py); the role check (``auth.require``) and everything after it is real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.dagrun import run_dag
from trainguard.violations import Registry

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

PHONE = "13912345678"
EMAIL = "Zhang.Wei@example.com"
REPORTER, OWNER = "cs-wang", "trust-and-safety"
# The raw values, and the forms a careless normaliser would leave in a database.
LEAKS = [PHONE, EMAIL, EMAIL.lower(), "+86" + PHONE, "139 1234 5678"]

REPORTS: dict[str, dict[str, str]] = {
    "harmful_output": {
        "summary": f"user {PHONE} says the answer doxxes {EMAIL}",
        "prompt": f"who owns {PHONE}?",
        "output": f"That number belongs to {EMAIL}, call 139 1234 5678.",
        "model_name": "m",
        "model_version": "3",
    },
    "ip_complaint": {
        "summary": f"rights holder, contact {EMAIL}",
        "work_id": f"book-42 (agent {PHONE})",
    },
    "data_finding": {
        "summary": f"records quote {PHONE}",
        "source_id": "news",
        "finding": f"pi.consent: {EMAIL} has no consent",
    },
}


def _by_cli(kind: str, fields: dict[str, str], url: str) -> str:
    options = {
        "summary": "--summary",
        "prompt": "--prompt",
        "output": "--output",
        "work_id": "--work-id",
        "source_id": "--source",
        "finding": "--finding",
        "model_name": "--model",
        "model_version": "--model-version",
    }
    argv = [
        sys.executable,
        "-m",
        "trainguard.cli",
        "violations",
        "report",
        "--kind",
        kind,
        "--by",
        REPORTER,
        "--owner",
        OWNER,
        "--registry",
        url,
        "--format",
        "json",
    ]
    for name, value in fields.items():
        argv += [options[name], value]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return str(json.loads(done.stdout)["id"])


def _by_api(kind: str, fields: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    from fastapi.testclient import TestClient

    from trainguard.api import routes
    from trainguard.api.app import create_app
    from trainguard.api.auth import Principal, principal

    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", url)
    routes._registry.cache_clear()
    app = create_app()
    app.dependency_overrides[principal] = lambda: Principal(REPORTER, ("admin",))
    body: dict[str, Any] = {"kind": kind, "owner": OWNER, **fields}
    response = TestClient(app).post("/api/v1/violations", json=body)
    routes._registry.cache_clear()
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _by_dag(
    kind: str, fields: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str, log_file: Path
) -> str:
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", url)
    conf = {
        "kind": kind,
        "reported_by": REPORTER,
        "owner": OWNER,
        "triage": False,
        **fields,
    }
    result = run_dag("violation_intake", conf, log_file=log_file)
    assert result.state == "success", result.summary()
    return str(result.xcom("file_violation")["id"])


def _stored(registry: Registry, violation_id: str) -> dict[str, Any]:
    """The row and its 'reported' event, without what differs by design (id, times)."""
    row = registry.get(violation_id).to_dict()
    for varying in ("id", "reported_at", "deadline", "updated_at"):
        row.pop(varying)
    [event] = registry.events(violation_id)
    detail = json.loads(event["detail"])
    detail.pop("deadline")
    return {
        "row": row,
        "event": {
            "action": event["action"],
            "actor": event["actor"],
            "to_status": event["to_status"],
            "detail": detail,
        },
    }


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_three_doors_store_the_same_masked_row(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CLI, API and DAG file identical rows; summary, work id, finding, prompt and output
    are PI-masked, and the raw values appear nowhere in the registry's database."""
    database = tmp_path / "violations.db"
    url = f"sqlite:///{database}"
    fields = REPORTS[kind]
    ids = [
        _by_cli(kind, fields, url),
        _by_api(kind, fields, monkeypatch, url),
        _by_dag(kind, fields, monkeypatch, url, tmp_path / "task-logs.txt"),
    ]
    registry = Registry(url)
    stored = [_stored(registry, violation_id) for violation_id in ids]
    assert stored[0] == stored[1] == stored[2], json.dumps(stored, indent=1)[:3000]
    row = stored[0]["row"]
    assert row["kind"] == kind and row["status"] == "reported" and row["reported_by"] == REPORTER
    assert "[mobile_phone]" in row["summary"] or "[email]" in row["summary"]
    text = json.dumps(stored, ensure_ascii=False)
    assert not [leak for leak in LEAKS if leak in text]
    registry.engine.dispose()
    raw = database.read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("violations.db-*")
    )  # WAL and shm, if any
    assert not [leak for leak in LEAKS if leak.encode() in raw]
