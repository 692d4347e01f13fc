"""The training task: train on an admitted version and register the model in MLflow."""

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


class TrainModelOperator(BaseOperator):
    """Trains the demo responder and registers it as ``model_name``, tagged with its gate run."""

    template_fields = ("model_name", "stage")
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#3d9be8"

    def __init__(
        self,
        *,
        model_name: str,
        stage: str,
        version_task_id: str = VERSION_TASK_ID,
        gate_task_id: str = GATE_TASK_ID,
        experiment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.stage = stage
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
        )
        self._lineage_registered = registered
        ti.xcom_push(key=MLFLOW_RUN_XCOM, value=registered["run_id"])
        self.log.info(
            "registered %s version %s (run %s)",
            registered["model_name"],
            registered["model_version"],
            registered["run_id"],
        )
        return registered

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        import mlflow

        from trainguard.operators.openlineage import training_lineage

        return training_lineage(
            self._lineage_version, self._lineage_registered, mlflow.get_tracking_uri()
        )
