"""The training contract: how trainguard runs a team's own training (Art. 7, Art. 15).

A registered model declares how it is trained, in the registered-model tag
``trainguard.training``:

- ``dag:<dag_id>``: an Airflow DAG that trainguard triggers and waits for, passing a
  ``TrainingRequest`` as the DAG run's conf;
- ``entry_point:<name>``: a Python function in the ``trainguard.trainers`` entry-point group,
  called in the remediation task with the same request.

Either way the team's code receives the request and the admitted dataset directory and
returns a ``TrainedModel``; trainguard re-checks the gate decision for exactly that
revision and DVC md5 before the team's code runs (a request no passing gate admitted is
refused), and registers the result with the lineage tags in one call, tagged with the
request id. A retry finds the version already registered for the request and registers
nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError, TrainingRefused
from trainguard.tracking import BASE_MODEL_TAG, TAG_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from trainguard.versioning import DatasetVersion

TRAINING_TAG = f"{TAG_PREFIX}training"
REQUEST_TAG = f"{TAG_PREFIX}training_request"
ENTRY_POINT_GROUP = "trainguard.trainers"
ADMISSION_CLAUSE = "Art. 7"


@dataclass(frozen=True)
class Trainer:
    """How a model is trained: ``dag`` (an Airflow DAG id) or ``entry_point`` (a name)."""

    kind: str
    target: str

    @classmethod
    def parse(cls, value: str, *, model_name: str) -> Trainer:
        kind, sep, target = value.partition(":")
        if not sep or kind not in ("dag", "entry_point") or not target.strip():
            raise ContractError(
                f"registered model '{model_name}' has {TRAINING_TAG}='{value}'",
                field=TRAINING_TAG,
                expected="dag:<dag_id> or entry_point:<name>",
            )
        return cls(kind, target.strip())

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target}


def declare_training(
    model_name: str, *, dag_id: str | None = None, entry_point: str | None = None
) -> Trainer:
    """Declare how ``model_name`` is trained (creates the registered model if missing)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from trainguard.tracking import mlflow_errors

    if bool(dag_id) == bool(entry_point):
        raise ContractError("declare exactly one of a DAG id or an entry point", field="trainer")
    trainer = Trainer("dag", dag_id) if dag_id else Trainer("entry_point", str(entry_point))
    client = MlflowClient()
    with mlflow_errors(f"declare the training of '{model_name}'"):
        try:
            client.create_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        client.set_registered_model_tag(model_name, TRAINING_TAG, str(trainer))
    return trainer


def declared_trainer(model_name: str) -> Trainer:
    """The declared trainer of ``model_name``; a named error when it declares none."""
    from mlflow import MlflowClient

    from trainguard.tracking import mlflow_errors

    with mlflow_errors(f"read the training declaration of '{model_name}'"):
        tags = MlflowClient().get_registered_model(model_name).tags or {}
    value = tags.get(TRAINING_TAG)
    if not value:
        raise ContractError(
            f"registered model '{model_name}' declares no training: set its tag "
            f"{TRAINING_TAG} to dag:DAG_ID or entry_point:NAME "
            f"(trainguard training declare {model_name} --dag-id ...)",
            field=TRAINING_TAG,
        )
    return Trainer.parse(value, model_name=model_name)


@dataclass(frozen=True)
class TrainingRequest:
    """One optimization-training run: what the team's training receives (the DAG conf)."""

    model_name: str
    stage: str
    dataset: dict[str, Any]  # a DatasetVersion: repo, path, rev, commit, md5, ...
    gate_run_id: str
    violation_ids: list[str] = field(default_factory=list)
    base_model_uri: str = ""

    @property
    def request_id(self) -> str:
        """Stable for the same model, dataset version, gate run and violations (retries)."""
        key = json.dumps(
            [
                self.model_name,
                self.dataset["md5"],
                self.dataset["commit"],
                self.gate_run_id,
                sorted(self.violation_ids),
            ],
        )
        return "tr-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def version(self) -> DatasetVersion:
        from trainguard.versioning import DatasetVersion

        return DatasetVersion.from_dict(self.dataset)

    def to_conf(self) -> dict[str, Any]:
        return {"trainguard_request": {**asdict(self), "request_id": self.request_id}}

    @classmethod
    def from_conf(cls, conf: dict[str, Any] | None) -> TrainingRequest:
        """The request in a DAG run's conf; a named error for anything missing."""
        body = (conf or {}).get("trainguard_request")
        if not isinstance(body, dict):
            raise ContractError(
                "the DAG run's conf holds no training request: trainguard's optimization "
                "training (or TrainingRequest.to_conf) triggers this DAG",
                field="trainguard_request",
            )
        dataset = body.get("dataset")
        wanted = ("repo", "path", "rev", "commit", "md5", "size", "nfiles", "remote")
        if not isinstance(dataset, dict) or any(k not in dataset for k in wanted):
            raise ContractError(
                "not a dataset version",
                field="trainguard_request.dataset",
                expected=", ".join(wanted),
            )
        for name in ("model_name", "stage", "gate_run_id"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise ContractError("missing", field=f"trainguard_request.{name}")
        request = cls(
            model_name=body["model_name"],
            stage=body["stage"],
            dataset={k: dataset[k] for k in wanted},
            gate_run_id=body["gate_run_id"],
            violation_ids=[str(v) for v in body.get("violation_ids") or []],
            base_model_uri=str(body.get("base_model_uri") or ""),
        )
        if body.get("request_id") not in (None, request.request_id):
            raise ContractError(
                "does not match the request's content", field="trainguard_request.request_id"
            )
        return request


@dataclass
class TrainedModel:
    """What a team's training returns: a scikit-learn estimator or an
    ``mlflow.pyfunc.PythonModel``, with the parameters and metrics to log."""

    model: Any
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def admit(request: TrainingRequest, experiment: str | None = None) -> Path:
    """The dataset directory of the request, once its admission is re-checked."""
    from trainguard.versioning import fetch_version, workspace

    check_admission(request, experiment)
    return fetch_version(request.version, workspace())


def check_admission(request: TrainingRequest, experiment: str | None = None) -> None:
    """Re-check the gate decision for exactly the request's commit and DVC md5: the
    request's gate run decided "pass" on it, and the newest gate run on it did too (a
    later failing gate, e.g. after a violation was reported, withdraws the admission)."""
    from mlflow import MlflowClient

    from trainguard.tracking import gate_decision, latest_gate_run, mlflow_errors

    version = request.version
    where = f"{version.path}@{version.commit[:12]} (DVC md5 {version.md5})"
    with mlflow_errors(f"read gate run {request.gate_run_id}"):
        try:
            run = MlflowClient().get_run(request.gate_run_id)
        except Exception:  # noqa: BLE001 - an unknown run id is a refusal, not a crash
            run = None
    tags = run.data.tags if run is not None else {}
    admitted = (
        run is not None
        and tags.get(f"{TAG_PREFIX}kind") == "gate"
        and tags.get(f"{TAG_PREFIX}dataset.digest") == version.md5
        and tags.get(f"{TAG_PREFIX}dataset.commit") == version.commit
        and gate_decision(run) == "pass"  # a pass cut off before its run ended is none
    )
    if not admitted:
        raise TrainingRefused(
            f"training of {request.model_name} refused ({ADMISSION_CLAUSE}): "
            f"{request.gate_run_id} is not a passing gate run of {where}"
        )
    latest = latest_gate_run(version, experiment)
    if latest["decision"] != "pass":
        raise TrainingRefused(
            f"training of {request.model_name} refused ({ADMISSION_CLAUSE}): the newest gate "
            f"run of {where} is {latest['run_id']} with decision '{latest['decision']}'"
        )


def registered_for(request: TrainingRequest) -> dict[str, str] | None:
    """The model version already registered for this request (a retry), if any, with
    what its attempt left unfinished done (``complete_registration``)."""
    from mlflow import MlflowClient

    from trainguard.tracking import complete_registration, mlflow_errors

    with mlflow_errors("look for the model version of a training request"):
        found = MlflowClient().search_model_versions(
            f"name = '{request.model_name}' and tags.`{REQUEST_TAG}` = '{request.request_id}'"
        )
        if not found:
            return None
        version = min(found, key=lambda v: int(v.version))
        run_id = version.run_id or version.tags.get(f"{TAG_PREFIX}training_run_id", "")
        kept = complete_registration(version.name, run_id) if run_id else str(version.version)
    return {
        "model_name": version.name,
        "model_version": kept,
        "run_id": run_id,
        "model_uri": f"models:/{version.name}/{kept}",
    }


def resume_interrupted(
    request: TrainingRequest, experiment: str | None = None
) -> dict[str, str] | None:
    """Finish or close what interrupted attempts of this request left in MLflow.

    A run left RUNNING by a killed worker is ended FAILED and tagged, so no reader takes
    it for a training in progress (Airflow runs one try of a task at a time, so a RUNNING
    run of the same request here is a dead one). Then the version already registered is
    returned (``registered_for``); failing that, a training run that finished with its
    model logged but was cut off before the registration is registered now, once its
    admission is re-checked, rather than trained again.
    """
    from mlflow import MlflowClient

    from trainguard.tracking import (
        LOGGED_MODEL_TAG,
        ensure_experiment,
        mlflow_errors,
        register_model_version,
    )

    with mlflow_errors("look for interrupted attempts of a training request"):
        client = MlflowClient()
        runs = client.search_runs(
            [ensure_experiment(experiment)],  # where log_trained_model records its runs
            filter_string=f"tags.`{REQUEST_TAG}` = '{request.request_id}'",
            order_by=["attributes.start_time ASC"],
        )
        finished = None
        for run in runs:
            if run.info.status == "RUNNING":
                client.set_tag(
                    run.info.run_id, INTERRUPTED_TAG, "ended by the next attempt of its request"
                )
                client.set_terminated(run.info.run_id, status="FAILED")
            elif run.info.status == "FINISHED" and run.data.tags.get(LOGGED_MODEL_TAG):
                finished = finished or run
    registered = registered_for(request)
    if registered is not None or finished is None:
        return registered
    check_admission(request, experiment)  # still admitted: a later gate may have withdrawn it
    extra = request_version_tags(request)
    return register_model_version(
        request.model_name,
        request.version,
        run_id=finished.info.run_id,
        model_id=finished.data.tags[LOGGED_MODEL_TAG],
        gate_run_id=request.gate_run_id,
        stage=request.stage,
        version_tags=extra,
    )


INTERRUPTED_TAG = f"{TAG_PREFIX}interrupted"


def require_base_model(uri: str) -> None:
    """Fine-tuning names its base model; one that is not registered refuses the training,
    since its data could not be traced (Art. 7, 17)."""
    import re

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from trainguard.tracking import mlflow_errors

    match = re.fullmatch(r"models:/([^/]+)/([0-9]+)", uri)
    if not match:
        raise ContractError(
            f"base model {uri!r} is not a registered model version",
            field="base_model",
            expected="models:/NAME/VERSION",
        )
    registered = True
    with mlflow_errors(f"look up the base model {uri}"):
        try:
            MlflowClient().get_model_version(match.group(1), match.group(2))
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc.error_code):
                raise
            registered = False
    if not registered:  # raised outside mlflow_errors, which would call it an MLflow failure
        raise TrainingRefused(
            f"training refused: base model {uri} is not registered, so the data it was "
            "trained on cannot be traced (Art. 7, Art. 17)"
        )


def train_admitted(
    request: TrainingRequest,
    train: Callable[[TrainingRequest, Path], TrainedModel],
    *,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
) -> dict[str, str]:
    """Admit the request, run the team's ``train``, register what it returns (once)."""
    from trainguard.tracking import log_trained_model

    existing = resume_interrupted(request, experiment)
    if existing is not None:
        return existing
    if request.base_model_uri:
        require_base_model(request.base_model_uri)
    dataset_dir = admit(request, experiment)
    trained = train(request, dataset_dir)
    if not isinstance(trained, TrainedModel):
        raise TrainingRefused(
            f"the trainer of {request.model_name} returned {type(trained).__name__}, not a "
            "trainguard.training.TrainedModel: nothing registered"
        )
    extra = request_version_tags(request)
    return log_trained_model(
        trained.model,
        request.version,
        gate_run_id=request.gate_run_id,
        model_name=request.model_name,
        stage=request.stage,
        params=trained.params,
        metrics=trained.metrics,
        context_tags={**(context_tags or {}), **extra},
        version_tags=extra,
        experiment=experiment,
    )


def request_version_tags(request: TrainingRequest) -> dict[str, str]:
    """The tags a request adds to its run and version: its id, what it fixes, its base."""
    extra = {REQUEST_TAG: request.request_id}
    if request.violation_ids:
        extra[f"{TAG_PREFIX}fixes_violations"] = ",".join(request.violation_ids)
        extra[f"{TAG_PREFIX}kind"] = "optimization_training"
    if request.base_model_uri:
        # The model this one continues (fine-tuning, or a fix of a reported version): its
        # data's lineage joins this model's export (trainguard.export.lineage.base_chain).
        extra[BASE_MODEL_TAG] = request.base_model_uri
        extra[f"{TAG_PREFIX}fixed_from"] = request.base_model_uri
    return extra


def entry_point_trainer(name: str) -> Callable[[TrainingRequest, Path], TrainedModel]:
    """The function registered as ``name`` in the ``trainguard.trainers`` group."""
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise ContractError(
            f"no trainer '{name}' in the {ENTRY_POINT_GROUP} entry-point group "
            f"(installed: {', '.join(known) or 'none'})",
            field=TRAINING_TAG,
        )
    trainer: Callable[[TrainingRequest, Path], TrainedModel] = found[0].load()
    return trainer
