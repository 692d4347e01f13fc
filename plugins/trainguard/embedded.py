"""Embedded defaults: Airflow and MLflow on SQLite, artifacts and DVC in local folders.

``embedded_env(workdir)`` is the whole configuration of ``trainguard demo`` and of the
integration tests; it must be applied before Airflow is imported, because Airflow reads
its configuration at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainguard.exceptions import TrainguardError

DAGS_FOLDER_ENV = "TRAINGUARD_DAGS_FOLDER"


def dags_folder() -> Path:
    """The project's dags/ (``TRAINGUARD_DAGS_FOLDER``, else beside plugins/ in a checkout)."""
    configured = os.environ.get(DAGS_FOLDER_ENV)
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "dags"
    if not (folder / "pretraining_gate.py").is_file():
        raise TrainguardError(
            f"cannot find trainguard's DAG files in {folder}; set {DAGS_FOLDER_ENV} to the "
            "dags/ folder of a trainguard checkout"
        )
    return folder


def embedded_env(workdir: str | Path) -> dict[str, str]:
    """Environment for a self-contained trainguard under ``workdir``."""
    workdir = Path(workdir).resolve()
    airflow_home = workdir / "airflow"
    (airflow_home / "plugins").mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        # trainguard's plugin arrives through its entry point; an empty plugins folder keeps
        # Airflow from importing the package's files a second time by path.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(airflow_home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "TRAINGUARD_ARTIFACT_ROOT": str(workdir / "mlartifacts"),
        "TRAINGUARD_HOME": str(workdir),
        "TRAINGUARD_MLFLOW_UI_URL": "http://127.0.0.1:5000",
        "DVC_NO_ANALYTICS": "1",
        # DVC keeps a per-repository index in a machine-wide cache folder by default.
        "DVC_SITE_CACHE_DIR": str(workdir / "dvc-site-cache"),
    }


def apply_embedded_env(workdir: str | Path) -> dict[str, str]:
    env = embedded_env(workdir)
    os.environ.update(env)
    return env
