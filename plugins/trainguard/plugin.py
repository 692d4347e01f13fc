"""The Airflow plugin entry point (``airflow.plugins`` in pyproject.toml)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from trainguard.operators.links import MLflowRunLink

URL_PREFIX = "/trainguard"


def _governance_app() -> object:
    from trainguard.api.app import app

    return app


class TrainguardPlugin(AirflowPlugin):
    """Operator links to MLflow runs; the Governance page and REST API in the API server."""

    name = "trainguard"
    operator_extra_links = [MLflowRunLink()]
    fastapi_apps = [
        {"app": _governance_app(), "url_prefix": URL_PREFIX, "name": "trainguard governance"}
    ]
    # Framed by the Airflow UI at /plugin/governance, under "Browse" in the navigation.
    external_views = [
        {
            "name": "Governance",
            "href": f"{URL_PREFIX}/ui/",
            "url_route": "governance",
            "destination": "nav",
            "category": "browse",
        }
    ]
