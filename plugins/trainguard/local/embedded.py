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
    """trainguard's DAG files: ``TRAINGUARD_DAGS_FOLDER``, else the package's own (a link
    to the checkout's dags/, real files in an installed wheel)."""
    from trainguard.settings import bundled_dags, env

    configured = env(DAGS_FOLDER_ENV)
    folder = Path(configured) if configured else bundled_dags()
    if not (folder / "pretraining_gate.py").is_file():
        raise TrainguardError(
            f"cannot find trainguard's DAG files in {folder}; set {DAGS_FOLDER_ENV} to a "
            "folder `trainguard dags install` wrote"
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
        # A triggered DAG run is waited for by deferral: dag.test() then runs it in line
        # (trainguard.local.dagrun), with no second process on the SQLite database.
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
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


# The demo's Airflow users (simple auth manager) and what trainguard lets each role do
# (trainguard.api.auth): one per duty, so the Governance page can be tried as each.
UI_USERS = {
    "reviewer": ("op", "files and transitions violations"),
    "auditor": ("viewer", "reads everything, starts and downloads exports"),
    "engineer": ("user", "files violations"),
    "admin": ("admin", "everything"),
}


def _secret_file(path: Path, make: object) -> str:
    """A secret kept beside the demo's data, made once (owner-only permissions)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make(), encoding="utf-8")  # type: ignore[operator]
    return path.read_text(encoding="utf-8").strip()


def ui_env(workdir: str | Path) -> dict[str, str]:
    """``embedded_env`` plus what the API server of ``trainguard ui`` needs: the demo's
    users and their passwords file, a stable JWT secret, and the demo's keys."""
    import json
    import secrets

    from trainguard.local.demo_data import DEMO_HASH_KEY

    env = embedded_env(workdir)
    airflow_home = Path(env["AIRFLOW_HOME"])
    passwords = airflow_home / "simple_auth_manager_passwords.json"
    _secret_file(
        passwords, lambda: json.dumps({user: secrets.token_urlsafe(9) for user in UI_USERS}) + "\n"
    )
    signing_key = Path(env["TRAINGUARD_HOME"]) / "keys" / "export-signing.pem"
    if not signing_key.exists():
        from trainguard.export.bundle import generate_keypair

        generate_keypair(signing_key)
    return {
        **env,
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, (role, _) in UI_USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret_file(
            airflow_home / "jwt_secret", lambda: secrets.token_urlsafe(32)
        ),
        "TRAINGUARD_HASH_KEY": DEMO_HASH_KEY,
        "TRAINGUARD_EXPORT_SIGNING_KEY": str(signing_key),
    }


def ui_passwords(env: dict[str, str]) -> dict[str, str]:
    import json

    return json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
