"""Helpers shared by the operators: lineage tags and the dataset version from XCom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from trainguard.versioning import DatasetVersion

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")
VERSION_TASK_ID = "resolve_dataset_version"
GATE_TASK_ID = "gate"
MLFLOW_RUN_XCOM = "mlflow_run_id"


def airflow_tags(context: Any) -> dict[str, str]:
    """Tags that lead from an MLflow run back to the Airflow task that wrote it."""
    ti = context["ti"]
    return {
        "trainguard.airflow.dag_id": ti.dag_id,
        "trainguard.airflow.run_id": ti.run_id,
        "trainguard.airflow.task_id": ti.task_id,
        "trainguard.airflow.try_number": str(ti.try_number),
    }


def pull_version(context: Any, task_id: str) -> DatasetVersion:
    from airflow.sdk.exceptions import AirflowFailException

    data = context["ti"].xcom_pull(task_ids=task_id)
    if not data:
        raise AirflowFailException(
            f"no dataset version from task '{task_id}': the gate cannot run (fail closed)"
        )
    return DatasetVersion.from_dict(data)


GATE_ERROR_XCOM = "gate_error"


def publishing_gate_errors(context: Any, step: Callable[[], T]) -> T:
    """Run a gate step; a ``GateError`` is also pushed to XCom so the UI and callers see it.

    The cause is PI-free by construction (files, rows, fields, URIs and ids only).
    """
    from trainguard.exceptions import GateError

    try:
        return step()
    except GateError as error:
        context["ti"].xcom_push(key=GATE_ERROR_XCOM, value=str(error))
        raise


def as_list(value: Any) -> list[str]:
    """A templated list parameter: a list, or a comma-separated string (CLI conf)."""
    if not value:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value]
