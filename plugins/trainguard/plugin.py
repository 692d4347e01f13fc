"""The Airflow plugin entry point (``airflow.plugins`` in pyproject.toml)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from trainguard.operators.links import MLflowRunLink


class TrainguardPlugin(AirflowPlugin):
    """Registers trainguard's operator links, so the UI shows each task's MLflow run."""

    name = "trainguard"
    operator_extra_links = [MLflowRunLink()]
