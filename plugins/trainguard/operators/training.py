"""Training tasks: the gate DAGs' responder training, and the training contract's task
(``AdmittedTrainingOperator``) that a team's own training DAG uses."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from trainguard.operators.context import (
    GATE_TASK_ID,
    MLFLOW_RUN_XCOM,
    VERSION_TASK_ID,
    airflow_tags,
    pull_version,
)
from trainguard.operators.links import MLflowRunLink


def _published(operator: BaseOperator, context: Any, registered: dict[str, str]) -> dict[str, str]:
    """The training run id for the MLflow link, a log line; returns what was registered."""
    context["ti"].xcom_push(key=MLFLOW_RUN_XCOM, value=registered["run_id"])
    operator.log.info(
        "registered %s version %s (run %s)",
        registered["model_name"],
        registered["model_version"],
        registered["run_id"],
    )
    return registered


class TrainModelOperator(BaseOperator):
    """Trains the demo responder and registers it as ``model_name``, tagged with its gate run."""

    template_fields = ("model_name", "stage", "base_model")
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#3d9be8"

    def __init__(
        self,
        *,
        model_name: str,
        stage: str,
        base_model: str = "",  # fine-tuning: models:/NAME/VERSION of the base model
        version_task_id: str = VERSION_TASK_ID,
        gate_task_id: str = GATE_TASK_ID,
        experiment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.stage = stage
        self.base_model = base_model
        self.version_task_id = version_task_id
        self.gate_task_id = gate_task_id
        self.experiment = experiment
        self._lineage_version: Any = None
        self._lineage_registered: dict[str, str] | None = None

    def execute(self, context: Any) -> dict[str, str]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.pipeline import train_admitted_version

        ti = context["ti"]
        gate = ti.xcom_pull(task_ids=self.gate_task_id) or {}
        if gate.get("decision") != "pass":
            raise AirflowFailException(
                f"training refused: no passing decision from task '{self.gate_task_id}'"
            )
        version = pull_version(context, self.version_task_id)
        self._lineage_version = version
        registered = train_admitted_version(
            version,
            gate_run_id=gate["gate_run_id"],
            model_name=self.model_name,
            stage=self.stage,
            context_tags=airflow_tags(context),
            experiment=self.experiment,
            base_model_uri=(self.base_model or "").strip(),
        )
        self._lineage_registered = registered
        return _published(self, context, registered)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        import mlflow

        from trainguard.operators.openlineage import training_lineage

        return training_lineage(
            self._lineage_version, self._lineage_registered, mlflow.get_tracking_uri()
        )


class AdmittedTrainingOperator(BaseOperator):
    """The training task of a team's DAG under the training contract (docs/training.md).

    Reads the ``TrainingRequest`` from the DAG run's conf (trainguard's optimization
    training puts it there), re-checks that a passing gate admitted exactly that dataset
    revision and DVC md5, calls ``train(request, dataset_dir)`` - the team's code, which
    returns a ``trainguard.training.TrainedModel`` - and registers the result with the
    lineage tags and the request id, in one call. A request no gate admitted is refused
    before the team's code runs; a retry returns the version already registered.

    ``train`` is a callable or its import path (``"package.module:function"``).
    """

    template_fields = ("experiment",)
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#3d9be8"

    def __init__(self, *, train: Any, experiment: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train = train
        self.experiment = experiment

    def _trainer(self) -> Any:
        if callable(self.train):
            return self.train
        import importlib

        module, _, name = str(self.train).partition(":")
        return getattr(importlib.import_module(module), name)

    def execute(self, context: Any) -> dict[str, str]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.exceptions import ContractError, TrainingRefused
        from trainguard.training import TrainingRequest, train_admitted

        try:
            request = TrainingRequest.from_conf(context["dag_run"].conf)
            self.log.info(
                "training request %s: %s on %s@%s (md5 %s), gate run %s, fixing %s",
                request.request_id,
                request.model_name,
                request.dataset["path"],
                request.dataset["rev"],
                request.dataset["md5"],
                request.gate_run_id,
                ", ".join(request.violation_ids) or "nothing",
            )
            registered = train_admitted(
                request,
                self._trainer(),
                context_tags=airflow_tags(context),
                experiment=self.experiment,
            )
        except (ContractError, TrainingRefused) as exc:  # a retry cannot change these
            raise AirflowFailException(str(exc)) from None
        return _published(self, context, registered)
