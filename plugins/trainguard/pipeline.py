"""The gate and training steps on a DVC dataset version, as plain functions.

The Airflow operators are thin wrappers over these; they never import Airflow, so the
same steps run from a test, a notebook or another orchestrator.

Fail closed: ``gate_version`` either returns a passing report, raises ``GateFailed``
(a decision) or raises ``GateError`` (no decision could be reached: unreadable data,
missing DVC remote, MLflow down...). ``train_admitted_version`` re-reads the gate's
decision from MLflow and refuses to train unless it passed for this exact version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainguard.exceptions import (
    GateError,
    GateFailed,
    TrackingError,
    TrainguardError,
)
from trainguard.findings import Decision, GateReport
from trainguard.versioning import DatasetVersion

HOME_ENV = "TRAINGUARD_HOME"
GATE_DUTIES = "Art. 7 (lawful, traceable, licensed sources)"


def workspace() -> Path:
    """Where fetched dataset versions are cached: ``$TRAINGUARD_HOME/datasets``."""
    home = os.environ.get(HOME_ENV) or str(Path.home() / ".trainguard")
    return Path(home) / "datasets"


@dataclass(frozen=True)
class GateOutcome:
    report: GateReport
    run_id: str

    def summary(self) -> dict[str, Any]:
        """JSON-safe, PI-free summary (for XCom and logs)."""
        return {
            "decision": self.report.decision.value,
            "gate_run_id": self.run_id,
            "dataset": self.report.to_dict()["dataset"],
            "failed": [
                {"check": f.check, "clauses": list(f.clauses), "source_id": f.source_id,
                 "message": f.message}
                for f in self.report.failed
            ],
        }


def gate_version(
    version: DatasetVersion,
    *,
    stage: str,
    policy_path: str | None = None,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
) -> GateOutcome:
    """Fetch, check and record one dataset version; raise unless it passes."""
    from trainguard.gate import evaluate
    from trainguard.policy import load_policy
    from trainguard.tracking import log_gate_run
    from trainguard.versioning import fetch_version

    try:
        policy = load_policy(policy_path or None)
        local = fetch_version(version, workspace())
        report = evaluate(local, policy, digest=version.md5)
        run_id = log_gate_run(
            report, version, policy, stage=stage, context_tags=context_tags,
            experiment=experiment,
        )
    except TrainguardError as exc:
        raise GateError(_blocked(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - fail closed on anything unexpected
        raise GateError(_blocked(exc, unexpected=True)) from exc
    outcome = GateOutcome(report, run_id)
    if report.decision is Decision.FAIL:
        raise GateFailed(report.failed, gate_run_id=run_id)
    return outcome


def _blocked(exc: BaseException, *, unexpected: bool = False) -> str:
    kind = f"unexpected {type(exc).__name__}: " if unexpected else ""
    return (f"gate could not decide, training blocked (fail closed; {GATE_DUTIES} "
            f"unverified): {kind}{exc}")


def train_admitted_version(
    version: DatasetVersion,
    *,
    gate_run_id: str,
    model_name: str,
    stage: str,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
) -> dict[str, str]:
    """Train on a version the gate admitted, and register the model with its lineage."""
    from trainguard.tracking import latest_gate_run, log_trained_model
    from trainguard.training import train_responder
    from trainguard.versioning import fetch_version

    latest = latest_gate_run(version, experiment)
    if latest["run_id"] != gate_run_id or latest["decision"] != Decision.PASS.value:
        raise TrackingError(
            f"training refused: the latest gate run for {version.path}@{version.commit[:12]} "
            f"is {latest['run_id']} with decision '{latest['decision']}', not a pass by "
            f"{gate_run_id}"
        )
    result = train_responder(fetch_version(version, workspace()))
    return log_trained_model(
        result.model, version, gate_run_id=gate_run_id, model_name=model_name, stage=stage,
        params=result.params, metrics=result.metrics, context_tags=context_tags,
        experiment=experiment,
    )
