"""Lineage of a registered model version, read back from what the gate and training logged.

model version → training run → dataset version(s) (DVC repo, path, commit, md5) → gate
run(s) → sources (kind, licence, evidence) → findings, waivers, annotation metadata →
violations the version fixed. Everything comes from MLflow (tags, inputs, artifacts), so
the same walk works in the stock MLflow UI; this module only gathers it in one document.

The document is deterministic for a given model version: times are the runs' own, lists
are sorted, nothing depends on the clock or on where it is read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from trainguard.exceptions import LineageError
from trainguard.export.base_models import base_chain, base_chain_lines
from trainguard.i18n import clause_title, finding_message
from trainguard.settings import quiet_mlflow_progress
from trainguard.tracking import TAG_PREFIX, gate_decision, mlflow_errors, run_link

FIXES_TAG = f"{TAG_PREFIX}fixes_violations"  # comma-separated violation ids (remediation)
VIOLATIONS_ARTIFACT = "violations.json"  # evidence the remediation attaches to its run


def iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _optional_dict(client: Any, run_id: str, path: str) -> Any:
    """An artifact JSON of the run, or None when the run did not log it."""
    import mlflow

    folder, _, _name = path.rpartition("/")
    listed = {a.path for a in client.list_artifacts(run_id, folder or None)}
    if path not in listed:
        return None
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")


def _texts(client: Any, run_id: str, folder: str) -> dict[str, str]:
    import mlflow

    return {
        artifact.path.rsplit("/", 1)[-1]: mlflow.artifacts.load_text(
            f"runs:/{run_id}/{artifact.path}"
        )
        for artifact in sorted(client.list_artifacts(run_id, folder), key=lambda a: a.path)
        if not artifact.is_dir
    }


def _own_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in sorted(tags.items())
        if key.startswith((TAG_PREFIX, "airflow."))
    }


def _inputs(run: Any) -> list[dict[str, Any]]:
    found = []
    for dataset_input in run.inputs.dataset_inputs if run.inputs else []:
        dataset = dataset_input.dataset
        found.append(
            {
                "name": dataset.name,
                "digest": dataset.digest,
                "source_type": dataset.source_type,
                "source": json.loads(dataset.source) if dataset.source else None,
                "context": {t.key: t.value for t in dataset_input.tags}.get("mlflow.data.context"),
            }
        )
    return sorted(found, key=lambda d: (d["name"], d["digest"]))


def _run_summary(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "link": run_link(run.info.experiment_id, run.info.run_id),
        "status": run.info.status,
        "started_at": iso(run.info.start_time),
        "ended_at": iso(run.info.end_time),
        "user": run.info.user_id,
        "tags": _own_tags(run.data.tags),
        "params": dict(sorted(run.data.params.items())),
        "metrics": dict(sorted(run.data.metrics.items())),
        "inputs": _inputs(run),
    }


def _gate_run(client: Any, run_id: str) -> dict[str, Any]:
    run = client.get_run(run_id)
    if run.data.tags.get(f"{TAG_PREFIX}kind") != "gate":
        raise LineageError(f"run {run_id} is not a trainguard gate run")
    summary = _run_summary(run)
    findings = _optional_dict(client, run_id, "findings.json")
    if findings is None:
        raise LineageError(f"gate run {run_id} has no findings.json: its lineage is incomplete")
    annotation = _optional_dict(client, run_id, "annotation/annotation.json")
    summary.update(
        {
            # None for a run cut off before it ended: it decided nothing
            "decision": gate_decision(run),
            "stage": run.data.tags.get(f"{TAG_PREFIX}stage"),
            "policy_digest": run.data.tags.get(f"{TAG_PREFIX}policy.digest"),
            # Runs from before profiles existed were gated under the development rules.
            "policy_profile": findings.get("policy", {}).get("profile", "development"),
            "deviations": findings.get("policy", {}).get("deviations", []),
            "refused_waivers": findings.get("refused_waivers", []),
            "failed_clauses": run.data.tags.get(f"{TAG_PREFIX}failed_clauses"),
            "findings": findings["findings"],
            "waivers": findings.get("waivers", []),
            "composition": _optional_dict(client, run_id, "composition.json") or {},
            "policy": _optional_dict(client, run_id, "policy.json") or {},
            "tables": _optional_dict(client, run_id, "gate_tables.json") or {},
            "data_docs": (
                f"runs:/{run_id}/data_docs/index.html"
                if run.data.tags.get(f"{TAG_PREFIX}data_docs")
                else None
            ),
            "annotation": annotation,
            "annotation_rules": _texts(client, run_id, "annotation/rules") if annotation else {},
        }
    )
    return summary


def model_lineage(model_name: str, version: str | int) -> dict[str, Any]:
    """The lineage document of one registered model version (raises ``LineageError``)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    # The artifact downloads below would each draw a progress bar on stderr.
    quiet_mlflow_progress()
    client = MlflowClient()
    with mlflow_errors(f"read model {model_name} version {version}"):
        try:
            model_version = client.get_model_version(model_name, str(version))
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
                raise LineageError(
                    f"no registered model '{model_name}' version {version} in MLflow at "
                    f"{mlflow.get_tracking_uri()}"
                ) from None
            raise
        tags = model_version.tags
        training_run_id = tags.get(f"{TAG_PREFIX}training_run_id")
        gate_run_ids = [r for r in tags.get(f"{TAG_PREFIX}gate_run_id", "").split(",") if r]
        if not training_run_id or not gate_run_ids:
            raise LineageError(
                f"model '{model_name}' version {version} carries no trainguard lineage tags "
                f"({TAG_PREFIX}training_run_id, {TAG_PREFIX}gate_run_id): it was not "
                "registered by a trainguard training task"
            )
        training = _run_summary(client.get_run(training_run_id))
        gates = [_gate_run(client, run_id) for run_id in gate_run_ids]
        fixes = [v for v in tags.get(FIXES_TAG, "").split(",") if v]
        violations = (_optional_dict(client, training_run_id, VIOLATIONS_ARTIFACT) or {}).get(
            "violations", []
        )
    datasets = []
    for dataset_input in training["inputs"]:
        source = dict(dataset_input["source"] or {})
        if tags.get(f"{TAG_PREFIX}dataset.digest") == dataset_input["digest"]:
            # MLflow keeps one dataset per name and digest: when two revisions hold the same
            # content, the input names the first. The version's own tags name this one.
            source.update(
                {
                    key: tags[f"{TAG_PREFIX}dataset.{key}"]
                    for key in ("repo", "path", "commit", "rev")
                    if f"{TAG_PREFIX}dataset.{key}" in tags
                }
            )
        gate = next(
            (g for g in gates if any(i["digest"] == dataset_input["digest"] for i in g["inputs"])),
            None,
        )
        composition = gate["composition"] if gate else {}
        datasets.append(
            {
                "name": dataset_input["name"],
                "md5": dataset_input["digest"],
                "source_type": dataset_input["source_type"],
                "repo": source.get("repo"),
                "path": source.get("path"),
                "commit": source.get("commit"),
                "rev": source.get("rev"),
                "remote": source.get("remote"),
                "gate_run_id": gate["run_id"] if gate else None,
                "manifest": composition.get("dataset", {}),
                "scale": composition.get("scale", {}),
                "sources": composition.get("sources", []),
            }
        )
    return {
        "format": "trainguard.lineage/1",
        "model": {
            "name": model_name,
            "version": str(model_version.version),
            "uri": f"models:/{model_name}/{model_version.version}",
            "link": f"#/models/{model_name}/versions/{model_version.version}",
            "registered_at": iso(model_version.creation_timestamp),
            "source": model_version.source,
            "model_id": (
                getattr(model_version, "model_id", None) or tags.get(f"{TAG_PREFIX}logged_model_id")
            ),
            "description": model_version.description,
            "tags": _own_tags(tags),
        },
        "training_run": training,
        "gate_runs": gates,
        "datasets": datasets,
        "waivers": sorted(
            {w["id"]: w for g in gates for w in g["waivers"]}.values(), key=lambda w: w["id"]
        ),
        "annotation": next((g["annotation"] for g in gates if g["annotation"]), None),
        "violations_fixed": violations or [{"id": v} for v in fixes],
        "assessment": _assessment(model_name, str(model_version.version)),
        "earlier_failed_gates": _earlier_failed_gates(client, datasets, gates),
        "base_chain": base_chain(client, tags),  # fine-tuned: the base models' data
    }


def _earlier_failed_gates(
    client: Any, datasets: list[dict[str, Any]], gates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Failed gate runs of the same datasets (repository and path) before the admitted
    version: what an auditor asks next ("did it ever fail, and on what?")."""
    admitted = {gate["run_id"] for gate in gates}
    experiments = sorted({gate["experiment_id"] for gate in gates})
    found: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        if not dataset.get("path") or not dataset.get("repo"):
            continue
        query = (
            f"tags.`{TAG_PREFIX}kind` = 'gate' and tags.`{TAG_PREFIX}decision` = 'fail' and "
            f"tags.`{TAG_PREFIX}dataset.path` = '{dataset['path']}' and "
            f"tags.`{TAG_PREFIX}dataset.repo` = '{dataset['repo']}'"
        )
        with mlflow_errors("find earlier gate runs of the dataset"):
            runs = client.search_runs(
                experiments,
                filter_string=query,
                order_by=["attributes.start_time DESC"],
                max_results=20,
            )
        for run in runs:
            if run.info.run_id in admitted:
                continue
            tags = run.data.tags
            found[run.info.run_id] = {
                "run_id": run.info.run_id,
                "decided_at": iso(run.info.end_time or run.info.start_time),
                "dataset": f"{tags.get(f'{TAG_PREFIX}dataset.path')}@"
                f"{tags.get(f'{TAG_PREFIX}dataset.rev')}",
                "md5": tags.get(f"{TAG_PREFIX}dataset.digest"),
                "failed_checks": tags.get(f"{TAG_PREFIX}failed_checks", ""),
                "failed_clauses": tags.get(f"{TAG_PREFIX}failed_clauses", ""),
            }
    return sorted(found.values(), key=lambda g: g["decided_at"] or "", reverse=True)


def assessment_document(lineage: dict[str, Any]) -> dict[str, Any]:
    """``assessment.json``: the recorded assessment, without its per-run working notes."""
    found = lineage.get("assessment")
    if not found:
        return {
            "model_uri": lineage.get("model", {}).get("uri"),
            "decision": None,
            "alias": None,
            "note": "not assessed: no model_assessment run is recorded for this version "
            "(Art. 6; TC260-003 9.3); it is not ready for release",
        }
    return {key: value for key, value in found.items() if key not in {"wall_seconds", "seconds"}}


def _assessment(model_name: str, version: str) -> dict[str, Any] | None:
    """The version's release assessment (``assessment.json`` of the run its tag names)."""
    from trainguard.assessment.record import latest_assessment

    return latest_assessment(model_name, version)


def lineage_text(
    lineage: dict[str, Any], tracking_uri: str | None = None, language: str = "en"
) -> str:
    """The lineage as a tree a reviewer reads in a terminal; finding messages and their
    clauses in ``language`` (the tree's own words stay English)."""
    model, training = lineage["model"], lineage["training_run"]
    lines = [
        (
            f"model {model['name']} version {model['version']} ({model['uri']}), "
            f"registered {model['registered_at']}"
        )
    ]
    if tracking_uri and tracking_uri.startswith("http"):
        lines.append(f"  MLflow UI: {tracking_uri.rstrip('/')}/{model['link']}")
    lines.append(
        f"└─ training run {training['run_id']} ({training['run_name']}), "
        f"{training['started_at']} → {training['ended_at']}"
    )
    hyper = ", ".join(f"{k}={v}" for k, v in training["params"].items() if not k.startswith("lib."))
    lines.append(f"   │  algorithm: {hyper}")
    for dataset in lineage["datasets"]:
        lines.append(
            f"   ├─ dataset {dataset['path']}@{dataset['rev']} "
            f"(commit {str(dataset['commit'])[:12]}, DVC md5 {dataset['md5']}, "
            f"{dataset['scale'].get('records', 0):,} records)"
        )
        for source in dataset["sources"]:
            evidence = (
                "evidence complete"
                if not source.get("missing_evidence")
                else "MISSING " + ", ".join(source["missing_evidence"])
            )
            lines.append(
                f"   │  ├─ source {source['id']}: {source['kind']}, licence "
                f"{source['license']}, {source['origin']}, {evidence}, "
                f"{source['records']:,} records"
            )
    for gate in lineage["gate_runs"]:
        statuses: dict[str, int] = {}
        for finding in gate["findings"]:
            statuses[finding["status"]] = statuses.get(finding["status"], 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        lines.append(
            f"   ├─ gate run {gate['run_id']}: {str(gate['decision']).upper()} "
            f"({counts}), policy {str(gate['policy_digest'])[:12]}, "
            f"profile {gate['policy_profile']}"
        )
        for deviation in gate["deviations"]:
            lines.append(
                f"   │  ├─ DEVIATION {deviation['setting']} = {deviation['value']} "
                f"(standard {deviation['standard']}, {deviation['clause']}): "
                f"{deviation['reason']}"
            )
        for finding in gate["findings"]:
            if finding["status"] in ("fail", "waived", "warn"):
                where = f" [source {finding['source_id']}]" if finding["source_id"] else ""
                clauses = clause_title("; ".join(finding["clauses"]), language)
                lines.append(
                    f"   │  ├─ {finding['status'].upper()} {finding['check']}{where}: "
                    f"{finding_message(finding, language)} ({clauses})"
                )
        if gate["data_docs"]:
            lines.append(f"   │  └─ Data Docs: {gate['data_docs']}")
    for waiver in lineage["waivers"]:
        lines.append(
            f"   ├─ waiver {waiver['id']} for {waiver['check']}"
            + (f" [source {waiver['source_id']}]" if waiver.get("source_id") else "")
            + f" by {waiver['approved_by']} until {waiver['expires_at']}: "
            f"{waiver['reason']}"
        )
    annotation = lineage["annotation"]
    if annotation:
        rules = ", ".join(f"{v} (sha256 {h[:12]})" for v, h in sorted(annotation["rules"].items()))
        lines.append(
            f"   ├─ annotation: {annotation['records']:,} records, rules {rules}, "
            f"{annotation['annotators']['labelers']} labelers, "
            f"{annotation['spot_checks']['checked']} spot checks, accuracy "
            f"{annotation['spot_checks']['accuracy']:.3f}"
        )
    lines += [f"   ├─ {line}" for line in base_chain_lines(lineage.get("base_chain", []))]
    lines += _assessment_lines(lineage.get("assessment"), language)
    fixed = ", ".join(str(v.get("id")) for v in lineage["violations_fixed"]) or "none"
    lines.append(f"   └─ violations fixed: {fixed}")
    return "\n".join(lines)


def _assessment_lines(found: dict[str, Any] | None, language: str = "en") -> list[str]:
    if not found:
        return ["   ├─ release assessment: NOT ASSESSED (no model_assessment run; not releasable)"]
    alias = f", alias '{found['alias']}'" if found.get("alias") else ", no release alias"
    lines = [f"   ├─ release assessment {found['run_id']}: {found['decision'].upper()}{alias}"]
    for name, measure in found.get("measures", {}).items():
        lines.append(
            f"   │  ├─ {name}: {measure['rate']:.1%} of {measure['n']:,} "
            f"({measure['confidence']:.0%} bound {measure['low']:.1%}-{measure['high']:.1%})"
        )
    for finding in found.get("findings", []):
        if finding["status"] == "fail":
            clauses = clause_title("; ".join(finding["clauses"]), language)
            lines.append(
                f"   │  ├─ FAIL {finding['check']}: {finding_message(finding, language)} "
                f"({clauses})"
            )
    return lines
