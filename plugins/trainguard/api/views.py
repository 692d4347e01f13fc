"""What reviewers and auditors look at: gate history, models, sources, open violations,
and provenance-export jobs - read from MLflow and the violation registry.

The Governance page and the REST API (``trainguard.api``) are thin shells over this module
(and ``api.export_jobs``, the provenance exports they start);
it never imports Airflow. Every document it returns is PI-free: gate runs carry checks,
clauses and record ids; violation subjects carry masked texts and HMACs, and the n-gram
fingerprints of withdrawn works are reduced to their count.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from trainguard.exceptions import ContractError, LineageError
from trainguard.settings import env, quiet_mlflow_progress
from trainguard.tracking import DEFAULT_EXPERIMENT, EXPERIMENT_ENV, TAG_PREFIX, mlflow_errors

GATE_TAGS = (
    "stage",
    "decision",
    "failed_checks",
    "failed_clauses",
    "waivers",
    "dataset.path",
    "dataset.rev",
    "dataset.commit",
    "dataset.digest",
    "data_docs",
)
DATASET_PATH = r"[\w./-]{1,500}"


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="seconds")


def _experiment_id() -> str | None:
    import mlflow

    quiet_mlflow_progress()  # artifact reads would each draw a bar in the server's log
    name = env(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    with mlflow_errors(f"open experiment '{name}'"):
        experiment = mlflow.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


def _gate_summary(run: Any) -> dict[str, Any]:
    tags = run.data.tags
    tag = {key: tags.get(f"{TAG_PREFIX}{key}") for key in GATE_TAGS}
    # A clause text may itself hold ";" ("Art. 7(1), 7(2); TC260-003 5.1 a"): split and dedupe.
    listed = {
        key: []
        if tag[key] in (None, "none")
        else list(
            dict.fromkeys(
                part.strip() for part in tag[key].split(";" if key == "failed_clauses" else ",")
            )
        )
        for key in ("failed_checks", "failed_clauses", "waivers")
    }
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "started_at": _iso(run.info.start_time),
        "stage": tag["stage"],
        "decision": tag["decision"],
        "dataset": {
            "path": tag["dataset.path"],
            "rev": tag["dataset.rev"],
            "commit": tag["dataset.commit"],
            "md5": tag["dataset.digest"],
        },
        **listed,
        "records": int(run.data.metrics.get("gate.records", 0)) or None,
        "data_docs": bool(tag["data_docs"]),
        "dag_run": {
            key.removeprefix(f"{TAG_PREFIX}airflow."): value
            for key, value in tags.items()
            if key.startswith(f"{TAG_PREFIX}airflow.")
        },
        "violation": tags.get(f"{TAG_PREFIX}violation"),  # a remediation's gate
    }


def gate_history(
    *,
    dataset: str | None = None,
    limit: int = 100,
    decision: str | None = None,
    clause: str | None = None,
) -> list[dict[str, Any]]:
    """The newest gate runs first, optionally of one dataset path, one decision, or with a
    failed finding of one clause (``Art. 7(3)`` matches ``Art. 7(3); TC260-003 5.1 c``),
    with the models each admitted."""
    gates = _gate_runs(dataset=dataset, limit=limit, decision=decision)
    if clause:
        gates = [g for g in gates if clause in str(g.get("failed_clauses") or "")]
    by_gate = models_by_gate()
    for gate in gates:
        gate["models"] = by_gate.get(gate["run_id"], [])
    return gates


def _gate_runs(
    *, dataset: str | None = None, limit: int = 100, decision: str | None = None
) -> list[dict[str, Any]]:
    import mlflow

    query = f"tags.`{TAG_PREFIX}kind` = 'gate'"
    if decision in ("pass", "fail"):  # the route allows only these two
        query += f" and tags.`{TAG_PREFIX}decision` = '{decision}'"
    if dataset:
        if not re.fullmatch(DATASET_PATH, dataset):  # it goes into an MLflow filter string
            raise ContractError(
                "not a dataset path",
                field="dataset",
                expected="letters, digits, '.', '_', '-' and '/'",
            )
        query += f" and tags.`{TAG_PREFIX}dataset.path` = '{dataset}'"
    experiment_id = _experiment_id()
    if experiment_id is None:
        return []
    with mlflow_errors("list the gate runs"):
        runs = mlflow.search_runs(
            [experiment_id],
            filter_string=query,
            order_by=["attributes.start_time DESC"],
            max_results=limit,
            output_format="list",
        )
    return [_gate_summary(run) for run in runs]


def gate_detail(run_id: str) -> dict[str, Any]:
    """One gate run with its findings (every check) and waivers."""
    import mlflow
    from mlflow import MlflowClient

    if not re.fullmatch(r"[0-9a-f]{32}", run_id):
        raise LineageError(f"no gate run {run_id!r}: MLflow run ids are 32 hex digits")
    client = MlflowClient()
    with mlflow_errors(f"read gate run {run_id}"):
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")):
                raise LineageError(f"no gate run {run_id}") from None
            raise
        if run.data.tags.get(f"{TAG_PREFIX}kind") != "gate":
            raise LineageError(f"run {run_id} is not a trainguard gate run")
        report = mlflow.artifacts.load_dict(f"runs:/{run_id}/findings.json")
    findings = [
        {
            key: finding.get(key)
            for key in (
                "check",
                "status",
                "clauses",
                "source_id",
                "entity",
                "message",
                "observed",
                "threshold",
                "record_ids",
                "text",  # what the message was made from: it renders in any language
            )
        }
        | {"waiver_id": (finding.get("waiver") or {}).get("id")}
        for finding in report.get("findings", [])
    ]
    return {
        **_gate_summary(run),
        "findings": findings,
        "waivers": report.get("waivers", []),
        "models": models_by_gate().get(run_id, []),
    }


def models_by_gate() -> dict[str, list[dict[str, str]]]:
    by_gate: dict[str, list[dict[str, str]]] = {}
    for model in model_versions():
        for run_id in model["gate_run_ids"]:
            by_gate.setdefault(run_id, []).append(
                {"name": model["name"], "version": model["version"]}
            )
    return by_gate


def model_versions() -> list[dict[str, Any]]:
    """Every registered model version trainguard trained, newest first."""
    from mlflow import MlflowClient

    with mlflow_errors("list the registered model versions"):
        found = MlflowClient().search_model_versions(max_results=1000)
    models = []
    experiment_id = _experiment_id() if found else None
    for version in found:
        tags = version.tags or {}
        if f"{TAG_PREFIX}training_run_id" not in tags:
            continue
        models.append(
            {
                "name": version.name,
                "version": str(version.version),
                "registered_at": _iso(version.creation_timestamp),
                "dataset": {
                    "path": tags.get(f"{TAG_PREFIX}dataset.path"),
                    "rev": tags.get(f"{TAG_PREFIX}dataset.rev"),
                    "commit": tags.get(f"{TAG_PREFIX}dataset.commit"),
                },
                "training_run_id": tags[f"{TAG_PREFIX}training_run_id"],
                "gate_run_ids": [
                    r for r in tags.get(f"{TAG_PREFIX}gate_run_id", "").split(",") if r
                ],
                "fixes_violations": [
                    v for v in tags.get(f"{TAG_PREFIX}fixes_violations", "").split(",") if v
                ],
                # The release assessment (model_assessment): pass, fail or None (never run).
                "assessment": tags.get(f"{TAG_PREFIX}assessment"),
                "assessment_run_id": tags.get(f"{TAG_PREFIX}assessment_run"),
                "experiment_id": experiment_id,
                "aliases": sorted(getattr(version, "aliases", None) or []),
            }
        )
    return sorted(models, key=lambda m: (m["name"], -int(m["version"])))


def require_model_version(name: str, version: str) -> dict[str, Any]:
    for model in model_versions():
        if model["name"] == name and model["version"] == str(version):
            return model
    raise LineageError(f"no trainguard model '{name}' version {version}")


def sources() -> list[dict[str, Any]]:
    """Each dataset's sources, as its newest gate run saw them: licence, evidence, checks."""
    import mlflow

    newest: dict[str, dict[str, Any]] = {}
    for gate in _gate_runs(limit=200):
        newest.setdefault(gate["dataset"]["path"] or "", gate)
    rows = []
    for path, gate in sorted(newest.items()):
        with mlflow_errors(f"read the composition of gate run {gate['run_id']}"):
            composition = mlflow.artifacts.load_dict(f"runs:/{gate['run_id']}/composition.json")
            report = mlflow.artifacts.load_dict(f"runs:/{gate['run_id']}/findings.json")
        failed: dict[str, set[str]] = {}
        for finding in report.get("findings", []):
            if finding.get("status") == "fail" and finding.get("source_id"):
                failed.setdefault(finding["source_id"], set()).add(finding["check"])
        for source in composition.get("sources", []):
            rows.append(
                {
                    "dataset": path,
                    "rev": gate["dataset"]["rev"],
                    "gate_run_id": gate["run_id"],
                    "id": source["id"],
                    "kind": source["kind"],
                    "license": source["license"],
                    "origin": source["origin"],
                    "records": source.get("records", 0),
                    "missing_evidence": source.get("missing_evidence", []),
                    "failed_checks": sorted(failed.get(source["id"], ())),
                }
            )
    return rows


def violation_view(violation: Any, now: dt.datetime, at_risk_fraction: float) -> dict[str, Any]:
    """A violation for people and clients: no fingerprints, time left in hours."""
    record = violation.to_dict(now, at_risk_fraction)
    subject = dict(record["subject"])
    if "work_grams" in subject:
        subject["work_grams"] = len(subject["work_grams"])
    record["subject"] = subject
    return record
