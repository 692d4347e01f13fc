"""The gate task: decide whether a dataset version may be trained on."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from trainguard.operators.context import (
    MLFLOW_RUN_XCOM,
    VERSION_TASK_ID,
    airflow_tags,
    as_list,
    publishing_gate_errors,
    pull_version,
)
from trainguard.operators.links import MLflowRunLink


class DataGateOperator(BaseOperator):
    """Runs the gate on the version from ``version_task_id``; fails the task unless it passes.

    A "fail" decision raises ``AirflowFailException`` (no retry: the data will not change);
    an error that prevents a decision fails the task too, so downstream training never runs.
    """

    template_fields = ("stage", "policy", "lexicons")
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#e8a33d"

    def __init__(
        self,
        *,
        stage: str,
        policy: str | None = None,
        lexicons: list[str] | str | None = None,
        version_task_id: str = VERSION_TASK_ID,
        experiment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.policy = policy
        self.lexicons = lexicons
        self.version_task_id = version_task_id
        self.experiment = experiment
        # What OpenLineage reports once the task ends (see get_openlineage_facets_*).
        self._lineage_version: Any = None
        self._lineage_facts: dict[str, Any] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.exceptions import GateFailed
        from trainguard.pipeline import gate_version, governance_facts

        ti = context["ti"]
        version = pull_version(context, self.version_task_id)
        self._lineage_version = version
        try:
            outcome = publishing_gate_errors(
                context,
                lambda: gate_version(
                    version,
                    stage=self.stage,
                    policy_path=self.policy or None,
                    lexicons=as_list(self.lexicons),
                    context_tags=airflow_tags(context),
                    experiment=self.experiment,
                    dag_run_id=context["run_id"],
                ),
            )
        except GateFailed as failed:
            self._lineage_facts = governance_facts(failed.report, version, failed.gate_run_id)
            ti.xcom_push(key=MLFLOW_RUN_XCOM, value=failed.gate_run_id)
            ti.xcom_push(key="gate_failed", value=failed.to_dict())
            raise AirflowFailException(str(failed)) from None
        self._lineage_facts = governance_facts(outcome.report, version, outcome.run_id)
        ti.xcom_push(key=MLFLOW_RUN_XCOM, value=outcome.run_id)
        self.log.info(
            "gate passed: %d records, MLflow run %s", outcome.report.records, outcome.run_id
        )
        return outcome.summary()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from trainguard.operators.openlineage import gate_lineage

        return gate_lineage(self._lineage_version, self._lineage_facts)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        # A "fail" decision is the most important event to report: same facets.
        return self.get_openlineage_facets_on_complete(task_instance)
