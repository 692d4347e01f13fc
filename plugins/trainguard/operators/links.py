"""A task button that opens the MLflow run a trainguard task recorded."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

from trainguard.operators.context import MLFLOW_RUN_XCOM
from trainguard.settings import env

MLFLOW_UI_ENV = "TRAINGUARD_MLFLOW_UI_URL"


class MLflowRunLink(BaseOperatorLink):
    """Opens the task's MLflow run (base URL from ``TRAINGUARD_MLFLOW_UI_URL``)."""

    name = "MLflow run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        run_id = XCom.get_value(ti_key=ti_key, key=MLFLOW_RUN_XCOM)
        if not run_id:
            return ""
        base = env(MLFLOW_UI_ENV).rstrip("/")
        return f"{base}/#/runs/{run_id}"
