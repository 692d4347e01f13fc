"""What the gate and training record in MLflow, and how a reviewer finds it again.

Lineage as MLflow shows it: the model version carries tags naming its gate run and the
dataset digest; the training run and the gate run both log the dataset as an input whose
digest is the DVC md5 and whose source is a ``dvc`` source (repo, path, commit).
Every MLflow failure is raised as ``TrackingError`` naming the tracking URI: the callers
treat it as "cannot record the decision", which blocks training.

Kept as one module (about 550 lines): everything trainguard writes to and reads from
MLflow, so one file says what a reviewer finds there.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import TrackingError
from trainguard.findings import describe_classifier
from trainguard.settings import env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trainguard.findings import GateReport
    from trainguard.policy import Policy
    from trainguard.versioning import DatasetVersion

EXPERIMENT_ENV = "TRAINGUARD_EXPERIMENT"
ARTIFACT_ROOT_ENV = "TRAINGUARD_ARTIFACT_ROOT"
DEFAULT_EXPERIMENT = "trainguard"
TAG_PREFIX = "trainguard."
# The model version a fine-tuned (or fixed) version continues: models:/NAME/VERSION.
BASE_MODEL_TAG = f"{TAG_PREFIX}base_model"


def _dvc_source_class() -> type:
    from mlflow.data.dataset_source import DatasetSource

    class DVCDatasetSource(DatasetSource):
        """A dataset directory tracked by DVC: git repository, path and commit."""

        def __init__(self, repo: str, path: str, commit: str, rev: str = "", remote: str = ""):
            self.repo, self.path, self.commit, self.rev, self.remote = (
                repo,
                path,
                commit,
                rev,
                remote,
            )

        @staticmethod
        def _get_source_type() -> str:
            return "dvc"

        def load(self, dst_path: str | None = None) -> str:
            """Fetch the version from its DVC remote; returns the local dataset directory."""
            import tempfile

            from trainguard.versioning import fetch_version, resolve_version

            version = resolve_version(self.repo, self.path, self.commit)
            return str(fetch_version(version, dst_path or tempfile.mkdtemp(prefix="dvc-")))

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return isinstance(raw_source, str) and raw_source.startswith("dvc://")

        @classmethod
        def _resolve(cls, raw_source: Any) -> DVCDatasetSource:
            # dvc://<repo>#<path>@<commit>
            body = raw_source.removeprefix("dvc://")
            repo, _, rest = body.partition("#")
            path, _, commit = rest.rpartition("@")
            return cls(repo=repo, path=path, commit=commit)

        def to_dict(self) -> dict[str, Any]:
            return {
                "repo": self.repo,
                "path": self.path,
                "commit": self.commit,
                "rev": self.rev,
                "remote": self.remote,
            }

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> DVCDatasetSource:
            return cls(**source_dict)

    return DVCDatasetSource


_DVC_SOURCE: type | None = None


def dvc_dataset_source() -> type:
    """The ``dvc`` dataset-source class (built lazily so importing this module stays cheap)."""
    global _DVC_SOURCE
    if _DVC_SOURCE is None:
        _DVC_SOURCE = _dvc_source_class()
    return _DVC_SOURCE


def __getattr__(name: str) -> Any:
    # MLflow's entry point "mlflow.dataset_source" loads trainguard.tracking:DVCDatasetSource.
    if name == "DVCDatasetSource":
        return dvc_dataset_source()
    raise AttributeError(name)


@contextlib.contextmanager
def mlflow_errors(action: str) -> Iterator[None]:
    """Turn any MLflow or connection failure into a ``TrackingError`` that names the store."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        import mlflow

        uri = mlflow.get_tracking_uri()
        cause = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise TrackingError(f"MLflow at {uri} could not {action}: {cause}") from exc


def require_tracking_store() -> str:
    """The tracking URI of a command that only reads MLflow (lineage, export, impact).

    MLflow creates an empty store wherever its URI points (by default ``mlflow.db`` in the
    current folder, after half a minute of migrations); a read must instead say which store
    it looked for, and where that setting came from, so nothing is created by asking.
    """
    import os
    from pathlib import Path

    from trainguard.exceptions import ConfigError
    from trainguard.settings import workspace

    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    where = workspace().describe()
    if not uri:
        raise ConfigError(
            f"no MLflow tracking store configured: MLFLOW_TRACKING_URI is unset and there is "
            f"{where}; pass --workdir DIR (the folder `trainguard demo` wrote) or set "
            "MLFLOW_TRACKING_URI"
        )
    if uri.startswith("sqlite:///"):
        local = Path(uri.removeprefix("sqlite:///"))
        if not local.is_file():
            raise ConfigError(f"no MLflow store at {local} (MLFLOW_TRACKING_URI={uri}; {where})")
    elif uri.startswith("file:") or "://" not in uri:
        local = Path(uri.removeprefix("file://").removeprefix("file:"))
        if not local.is_dir():
            raise ConfigError(f"no MLflow store at {local} (MLFLOW_TRACKING_URI={uri}; {where})")
    return uri


def ensure_experiment(name: str | None = None) -> str:
    """The experiment id, creating it (with the configured artifact root) when missing."""
    import mlflow

    name = name or env(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    with mlflow_errors(f"open experiment '{name}'"):
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        root = env(ARTIFACT_ROOT_ENV)
        location = f"{root.rstrip('/')}/{name}" if root else None
        return mlflow.create_experiment(name, artifact_location=location)


def _dataset_input(version: DatasetVersion, composition: dict[str, Any] | None = None) -> Any:
    """The dataset as MLflow lists it: one name per dataset path, the DVC md5 as digest,
    so a gate run and the training runs it admitted show the same dataset. The gate, which
    read the data, also gives its schema (the contract's columns) and a profile (records,
    sources, licences, languages); MLflow keeps the first record of a name and digest, so
    the training runs' inputs show them too."""
    from mlflow.data.meta_dataset import MetaDataset

    source = dvc_dataset_source()(
        repo=version.repo,
        path=version.path,
        commit=version.commit,
        rev=version.rev,
        remote=version.remote,
    )
    if composition is None:
        # MetaDataset declares profile abstract in its stubs but implements it (MLflow 3).
        return MetaDataset(source=source, name=version.path, digest=version.md5)  # type: ignore[abstract]
    return _profiled_dataset_class()(
        source=source,
        name=version.path,
        digest=version.md5,
        schema=_record_schema(composition),
        profile=dataset_profile(composition),
    )


def dataset_profile(composition: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer wants at a glance: scale, sources, licences, languages, stage."""
    sources = composition.get("sources", [])
    licences: dict[str, int] = {}
    for source in sources:
        licences[source["license"]] = licences.get(source["license"], 0) + source["records"]
    manifest = composition.get("dataset", {})
    return {
        "records": composition.get("scale", {}).get("records", 0),
        "characters": composition.get("scale", {}).get("characters", 0),
        "stage": manifest.get("stage"),
        "languages": manifest.get("languages", []),
        "sources": {s["id"]: s["records"] for s in sources},
        "licences": dict(sorted(licences.items())),
        "origins": sorted({s.get("origin", "") for s in sources} - {""}),
    }


def _record_schema(composition: dict[str, Any]) -> Any:
    """The record columns the data contract requires of this stage, as an MLflow schema."""
    from mlflow.types import ColSpec, Schema

    from trainguard.contract import ANNOTATION_COLUMNS, TEXT_COLUMNS, Stage

    stage = Stage(composition.get("dataset", {}).get("stage", "pretraining"))
    columns = ["record_id", "source_id", *TEXT_COLUMNS[stage]]
    if stage is Stage.FINETUNING:
        columns += list(ANNOTATION_COLUMNS)
    return Schema([ColSpec("string", column) for column in columns])


def _profiled_dataset_class() -> type:
    import json

    from mlflow.data.meta_dataset import MetaDataset

    class ProfiledDataset(MetaDataset):
        """A MetaDataset that also carries a profile (MLflow's own to_dict drops it)."""

        def __init__(self, *, profile: dict[str, Any], **kwargs: Any) -> None:
            self._profile = profile
            super().__init__(**kwargs)

        @property
        def profile(self) -> dict[str, Any]:
            return self._profile

        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(self._profile, sort_keys=True)}

    return ProfiledDataset


def version_tags_of(version: DatasetVersion) -> dict[str, str]:
    return {
        f"{TAG_PREFIX}dataset.digest": version.md5,
        f"{TAG_PREFIX}dataset.commit": version.commit,
        f"{TAG_PREFIX}dataset.rev": version.rev,
        f"{TAG_PREFIX}dataset.path": version.path,
        f"{TAG_PREFIX}dataset.repo": version.repo,
        f"{TAG_PREFIX}dataset.uri": version.uri,
    }


def log_gate_run(
    report: GateReport,
    version: DatasetVersion,
    policy: Policy,
    *,
    stage: str,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
    task_metrics: dict[str, float] | None = None,
) -> str:
    """Record a gate decision; returns the MLflow run id.

    ``task_metrics``: what deciding cost the task (``gate.task.<name>``), kept out of the
    report, which stays the same for the same data."""
    import mlflow

    experiment_id = ensure_experiment(experiment)
    classifier_run = (
        log_classifier_run(report, experiment_id) if report.classifier_model is not None else None
    )
    failed = report.failed
    decision = report.decision.value
    tags = {
        f"{TAG_PREFIX}kind": "gate",
        f"{TAG_PREFIX}stage": stage,
        f"{TAG_PREFIX}failed_checks": ", ".join(sorted({f.check for f in failed})) or "none",
        f"{TAG_PREFIX}failed_clauses": "; ".join(sorted({c for f in failed for c in f.clauses}))
        or "none",
        f"{TAG_PREFIX}policy.digest": policy.digest,
        f"{TAG_PREFIX}policy.profile": policy.profile,
        f"{TAG_PREFIX}policy.deviations": ", ".join(d.setting for d in policy.deviations) or "none",
        f"{TAG_PREFIX}waivers": ", ".join(w.id for w in report.waivers) or "none",
        f"{TAG_PREFIX}harmful_classifier": (
            f"trained {report.harmful_classifier['training_sha256'][:12]}"
            if report.harmful_classifier.get("mode") == "classifier"
            else "lexicon only"
        ),
        **({f"{TAG_PREFIX}classifier_run_id": classifier_run} if classifier_run else {}),
        **version_tags_of(version),
        **(context_tags or {}),
    }
    with (
        mlflow_errors("record the gate run"),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"gate {report.dataset_name}@{version.rev}: {decision.upper()}",
            tags=tags,
        ) as run,
    ):
        mlflow.log_input(_dataset_input(version, report.composition), context="gate")
        mlflow.set_tag("mlflow.note.content", _gate_note(report, version))
        mlflow.log_params(
            {
                "policy_digest": policy.digest,
                "policy_source": policy.source[:500],
                "policy_profile": policy.profile,
                "dataset_commit": version.commit,
                "dataset_rev": version.rev,
                "dataset_path": version.path,
            }
        )
        mlflow.log_metrics({f"gate.{k}": float(v) for k, v in report.metrics.items()})
        mlflow.log_metrics({f"gate.task.{k}": v for k, v in (task_metrics or {}).items()})
        mlflow.log_metric("gate.passed", 1.0 if report.decision.value == "pass" else 0.0)
        mlflow.log_dict(report.to_dict(), "findings.json")
        _log_findings_table(report)
        mlflow.log_dict(policy.to_dict(), "policy.json")
        mlflow.log_dict(report.composition, "composition.json")
        mlflow.log_dict(report.harmful_classifier, "harmful_classifier.json")
        if report.waivers or report.refused_waivers:
            mlflow.log_dict(
                {
                    "waivers": [w.to_dict() for w in report.waivers],
                    "refused": report.refused_waivers,
                },
                "waivers.json",
            )
        if report.tables:  # counts and rates per entity: what the GX suites read
            mlflow.log_dict(report.tables, "gate_tables.json")
        if report.annotation:
            _log_annotation(report.annotation)
        if report.review_sample is not None:  # PI masked: see trainguard.review
            mlflow.log_artifact(str(report.review_sample), "review")
        if report.data_docs is not None:
            mlflow.log_artifacts(str(report.data_docs), "data_docs")
            mlflow.set_tag(f"{TAG_PREFIX}data_docs", "data_docs/index.html")
        # The decision tag last: a run cut off before this line never reads as decided.
        mlflow.set_tag(f"{TAG_PREFIX}decision", decision)
        if decision != "pass":
            # The runs list shows status, not tags: a failed gate must not look "Finished"
            # like a passed one. Its decision tag tells it apart from a crashed run.
            mlflow.end_run(status="FAILED")
        return run.info.run_id


def _log_findings_table(report: GateReport) -> None:
    """Every finding as an MLflow table (failed first), so the run shows it as rows."""
    import mlflow

    from trainguard.findings import status_rank

    findings = sorted(report.findings, key=lambda f: (status_rank(f.status), f.check))
    if not findings:
        return
    columns: dict[str, list[Any]] = {
        "status": [f.status.value for f in findings],
        "check": [f.check for f in findings],
        "clause": ["; ".join(f.clauses) for f in findings],
        "about": [f.source_id or f.entity or "corpus" for f in findings],
        "message": [f.message for f in findings],
        "observed": [_cell(f.observed) for f in findings],
        "threshold": [_cell(f.threshold) for f in findings],
        "records": [f.records for f in findings],
    }
    mlflow.log_table(columns, artifact_file="findings_table.json")


def _cell(value: Any) -> str:
    """One table cell: tables want one type per column, findings carry numbers or lists."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


CLASSIFIER_MODEL_NAME = "trainguard-harmful-classifier"


def log_classifier_run(report: GateReport, experiment_id: str) -> str:
    """The gate's classifier in a run of its own, registered as a model version; one run
    per training digest and threshold (later gates reuse it). Returns the run id.

    The run carries the labelled file's sha256, the held-out precision, recall and
    false-positive rate (overall and per language) as metrics, and the model; the
    registered version is tagged with the same digest, so a reviewer finds every gate
    that used it by ``trainguard.classifier_run_id``."""
    import mlflow
    import mlflow.sklearn

    summary = report.harmful_classifier
    digest = summary["training_sha256"]
    threshold = str(summary["validation"].get("threshold", ""))
    client = mlflow.MlflowClient()
    with mlflow_errors("find the classifier run"):
        existing = client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`{TAG_PREFIX}kind` = 'classifier' AND "
                f"tags.`{TAG_PREFIX}classifier.training_sha256` = '{digest}' AND "
                f"tags.`{TAG_PREFIX}classifier.threshold` = '{threshold}'"
            ),
            max_results=1,
        )
    if existing:
        return str(existing[0].info.run_id)
    validation = summary["validation"]
    metrics = {f"validation.{k}": float(validation[k]) for k in _CLASSIFIER_SCORES}
    for language, scores in validation["by_language"].items():
        metrics.update({f"validation.{k}.{language}": float(scores[k]) for k in _CLASSIFIER_SCORES})
    tags = {
        f"{TAG_PREFIX}kind": "classifier",
        f"{TAG_PREFIX}classifier.training_sha256": digest,
        f"{TAG_PREFIX}classifier.training_file": str(summary["training_file"])[:500],
        f"{TAG_PREFIX}classifier.threshold": threshold,
    }
    with (
        mlflow_errors("record the harmful-content classifier"),
        mlflow.start_run(
            experiment_id=experiment_id, run_name=f"harmful classifier {digest[:12]}", tags=tags
        ) as run,
    ):
        mlflow.set_tag(
            "mlflow.note.content",
            f"Harmful-content classifier trained on `{summary['training_file']}` (sha256 "
            f"`{digest}`), validated on its held-out fifth per language. "
            f"{describe_classifier(summary)}.",
        )
        mlflow.log_metrics(metrics)
        mlflow.log_dict(summary, "harmful_classifier.json")
        mlflow.sklearn.log_model(
            report.classifier_model.pipeline,
            name="harmful_classifier",
            pip_requirements=_pip_requirements(),
            serialization_format="pickle",  # as the trained models: skops walks every module
            registered_model_name=CLASSIFIER_MODEL_NAME,
            metadata={"training_sha256": digest, "validation": validation},
        )
        return str(run.info.run_id)


_CLASSIFIER_SCORES = ("precision", "recall", "false_positive_rate")


def _gate_note(report: GateReport, version: DatasetVersion) -> str:
    """The run description the MLflow UI shows: the decision and why, by clause."""
    lines = [
        (
            f"Gate **{report.decision.value.upper()}** for `{version.path}@{version.rev}` "
            f"(commit `{version.commit[:12]}`, DVC md5 `{version.md5}`, "
            f"{report.records} records)."
        ),
        "",
    ]
    for finding in report.failed:
        lines.append(f"- FAIL {finding.summary()}")
    for finding in report.findings:
        if finding.waiver:
            lines.append(
                f"- WAIVED {finding.summary()} - waiver {finding.waiver['id']} by "
                f"{finding.waiver['approved_by']} until {finding.waiver['expires_at']}"
            )
    lines.append("")
    lines.append(f"Harmful content: {describe_classifier(report.harmful_classifier)}.")
    lines.append("")
    lines.append(
        "Artifacts: `findings.json` (every check), `composition.json` (sources), "
        "`data_docs/index.html` (Great Expectations)."
    )
    return "\n".join(lines)


def _log_annotation(metadata: dict[str, Any]) -> None:
    """Art. 8/17 annotation metadata: rules hashes and texts, annotators, spot checks, kappa."""
    import mlflow

    rules_files = metadata.get("rules_files", {})
    for version, sha256 in metadata["rules"].items():
        mlflow.log_param(f"annotation.rules.{version}.sha256", sha256)
    for path in rules_files.values():
        mlflow.log_artifact(path, "annotation/rules")
    annotators = metadata["annotators"]
    spot = metadata["spot_checks"]
    metrics = {
        "annotation.records": metadata["records"],
        "annotation.labelers": annotators["labelers"],
        "annotation.reviewers": annotators["reviewers"],
        "annotation.untrained_annotators": annotators["untrained"],
        "annotation.spot_checks": spot["checked"],
        "annotation.accuracy": spot["accuracy"],
        "annotation.accuracy_low": spot["accuracy_low"],
        "annotation.accuracy_high": spot["accuracy_high"],
        **{f"annotation.type.{kind}": count for kind, count in metadata["types"].items()},
    }
    if metadata.get("kappa_mean") is not None:
        metrics["annotation.kappa_mean"] = metadata["kappa_mean"]
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
    mlflow.log_dict(
        {k: v for k, v in metadata.items() if k != "rules_files"}, "annotation/annotation.json"
    )


def latest_gate_run(version: DatasetVersion, experiment: str | None = None) -> dict[str, Any]:
    """The newest *complete* gate run of exactly this dataset version (commit and md5).

    A run cut off before it ended (a SIGKILL, MLflow lost after the decision tag) stays
    RUNNING, and one that crashed has no decision: neither is a decision, so both are
    passed over (``gate_decision``).
    """
    import mlflow

    experiment_id = ensure_experiment(experiment)
    query = (
        f"tags.`{TAG_PREFIX}kind` = 'gate' and "
        f"tags.`{TAG_PREFIX}dataset.digest` = '{version.md5}' and "
        f"tags.`{TAG_PREFIX}dataset.commit` = '{version.commit}'"
    )
    with mlflow_errors("find the gate run"):
        runs = mlflow.search_runs(
            [experiment_id],
            filter_string=query,
            order_by=["attributes.start_time DESC"],
            max_results=100,
            output_format="list",
        )
    for run in runs:
        decision = gate_decision(run)
        if decision is not None:
            return {"run_id": run.info.run_id, "decision": decision}
    raise TrackingError(
        f"no complete gate run recorded for {version.path}@{version.commit[:12]} "
        f"(md5 {version.md5})"
        + (f"; {len(runs)} interrupted or crashed gate run(s) ignored" if runs else "")
    )


def gate_decision(run: Any) -> str | None:
    """A gate run's decision, or None when the run is not a complete decision.

    ``log_gate_run`` writes the decision tag last, then ends the run: FINISHED for a pass,
    FAILED for a fail. A pass whose run is not FINISHED was interrupted after the tag.
    """
    decision = run.data.tags.get(f"{TAG_PREFIX}decision")
    status = run.info.status
    if decision == "pass":
        return decision if status == "FINISHED" else None
    if decision:
        return decision if status in ("FINISHED", "FAILED") else None
    return None


def gate_run_settings(gate_run_id: str | None) -> tuple[str | None, list[str]]:
    """The policy file and extra lexicons a gate run used (the policy only while its file
    is still readable): a re-gate or a probe screens with the same ones."""
    import json
    from pathlib import Path

    if not gate_run_id:
        return None, []
    with mlflow_errors(f"read gate run {gate_run_id}"):
        from mlflow import MlflowClient

        run = MlflowClient().get_run(gate_run_id)
    policy = run.data.params.get("policy_source", "")
    lexicons = json.loads(run.data.tags.get(f"{TAG_PREFIX}lexicons", "[]"))
    return (policy if policy and Path(policy).is_file() else None), lexicons


def log_trained_model(
    model: Any,
    version: DatasetVersion,
    *,
    gate_run_id: str,
    model_name: str,
    stage: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    context_tags: dict[str, str] | None = None,
    version_tags: dict[str, str] | None = None,
    experiment: str | None = None,
) -> dict[str, str]:
    """Log the training run, then register the model version with every lineage tag in
    one call: a version never exists without its lineage (a crash before the call
    registers nothing; the run is then marked FAILED by MLflow's context manager).

    The run is tagged with its logged model's id once that model is logged, so an attempt
    cut off between the run and the registration is finished by the next one
    (``register_model_version``) rather than trained again.

    ``model`` is a scikit-learn estimator or an ``mlflow.pyfunc.PythonModel``."""
    import mlflow

    experiment_id = ensure_experiment(experiment)
    lineage = training_lineage_tags(version, gate_run_id=gate_run_id, stage=stage)
    with (
        mlflow_errors("record the training run"),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"train {model_name} on {version.path}@{version.rev}",
            tags={f"{TAG_PREFIX}kind": "training", **lineage, **(context_tags or {})},
        ) as run,
    ):
        mlflow.log_input(_dataset_input(version), context="training")
        mlflow.log_params({**params, **library_versions()})
        mlflow.log_metrics(metrics)
        gate_link = run_link(experiment_id, gate_run_id)
        mlflow.set_tag(
            "mlflow.note.content",
            (
                f"Training of **{model_name}** ({stage}) on `{version.path}@{version.rev}` "
                f"(commit `{version.commit[:12]}`, DVC md5 `{version.md5}`), admitted by "
                f"[gate run {gate_run_id[:12]}]({gate_link})."
            ),
        )
        info = _log_model(model)
        mlflow.set_logged_model_tags(info.model_id, lineage)
        mlflow.set_tag(LOGGED_MODEL_TAG, info.model_id)
    return register_model_version(
        model_name,
        version,
        run_id=run.info.run_id,
        model_id=info.model_id,
        gate_run_id=gate_run_id,
        stage=stage,
        version_tags=version_tags,
    )


LOGGED_MODEL_TAG = f"{TAG_PREFIX}logged_model_id"


def training_lineage_tags(
    version: DatasetVersion, *, gate_run_id: str, stage: str
) -> dict[str, str]:
    return {
        f"{TAG_PREFIX}gate_run_id": gate_run_id,
        f"{TAG_PREFIX}stage": stage,
        **version_tags_of(version),
    }


def register_model_version(
    model_name: str,
    version: DatasetVersion,
    *,
    run_id: str,
    model_id: str,
    gate_run_id: str,
    stage: str,
    version_tags: dict[str, str] | None = None,
) -> dict[str, str]:
    """Register a finished training run's model, its lineage tags in the create call.

    A create whose answer was lost (a dropped connection, or MLflow's own HTTP retry of
    it) may leave more than one version of the run: the lowest is kept, the others are
    deleted, so one training is one governed version.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    lineage = training_lineage_tags(version, gate_run_id=gate_run_id, stage=stage)
    with mlflow_errors("register the model version"):
        client = MlflowClient()
        experiment_id = client.get_run(run_id).info.experiment_id
        try:
            client.create_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        client.create_model_version(
            model_name,
            source=f"models:/{model_id}",
            run_id=run_id,
            model_id=model_id,
            tags={
                **lineage,
                **(version_tags or {}),
                f"{TAG_PREFIX}training_run_id": run_id,
                LOGGED_MODEL_TAG: model_id,
            },
            description=(
                f"Trained on `{version.path}@{version.rev}` (commit `{version.commit[:12]}`, "
                f"DVC md5 `{version.md5}`) by [training run {run_id[:12]}]"
                f"({run_link(experiment_id, run_id)}); admitted by "
                f"[gate run {gate_run_id[:12]}]({run_link(experiment_id, gate_run_id)})."
            ),
        )
        kept = complete_registration(model_name, run_id)
    return {
        "run_id": run_id,
        "model_name": model_name,
        "model_version": kept,
        "model_uri": f"models:/{model_name}/{kept}",
    }


def complete_registration(model_name: str, run_id: str) -> str:
    """The one version of a training run: duplicates removed, description finished.

    Safe to repeat: a resume calls it on what an interrupted attempt registered.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    found = sorted(
        client.search_model_versions(f"name = '{model_name}' and run_id = '{run_id}'"),
        key=lambda v: int(v.version),
    )
    if not found:
        raise TrackingError(f"no version of {model_name} was registered for run {run_id}")
    kept, *extra = found
    for duplicate in extra:
        client.delete_model_version(model_name, str(duplicate.version))
    # The description is for readers, not lineage: completed once the number is known.
    hint = f"Lineage: `trainguard lineage {model_name} {kept.version}`."
    if hint not in (kept.description or ""):
        client.update_model_version(
            model_name, str(kept.version), description=f"{kept.description or ''} {hint}".strip()
        )
    return str(kept.version)


def _log_model(model: Any) -> Any:
    """Log a scikit-learn estimator, or an ``mlflow.pyfunc.PythonModel``, as ``model``."""
    import mlflow.pyfunc
    import mlflow.sklearn

    if isinstance(model, mlflow.pyfunc.PythonModel):
        return mlflow.pyfunc.log_model(
            name="model", python_model=model, pip_requirements=_pip_requirements()
        )
    return mlflow.sklearn.log_model(
        model,
        name="model",
        # Declared rather than inferred: inference re-imports the model in a
        # subprocess and takes tens of seconds.
        pip_requirements=_pip_requirements(),
        serialization_format="pickle",
    )


def run_link(experiment_id: str, run_id: str) -> str:
    """A link to a run inside the MLflow UI (relative, so it works behind any host)."""
    return f"#/experiments/{experiment_id}/runs/{run_id}"


def library_versions() -> dict[str, str]:
    """The foundational libraries a model was trained with (Art. 17 "algorithms")."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"lib.python": platform.python_version()}
    for name in ("trainguard", "scikit-learn", "numpy", "mlflow"):
        try:
            found[f"lib.{name}"] = version(name)
        except PackageNotFoundError:
            found[f"lib.{name}"] = "unknown"
    return found


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"trainguard=={version('trainguard')}"]
