"""docker-compose.yml itself: pinned images, health checks and conditions, a volume for
every store, and every environment variable trainguard's code reads is set somewhere."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
# Stores and the folder each must keep on a named volume.
STORES = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "mlflow": "/mlartifacts",
    "airflow-apiserver": "/opt/trainguard/home",
    "airflow-worker": "/opt/airflow/logs",
}
ONE_SHOT = {"airflow-init"}


def _env_file_keys() -> set[str]:
    keys = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keys.add(line.split("=", 1)[0].strip())
    return keys


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: image {image!r} not pinned"
        assert not image.endswith(":latest")
    base = re.search(r"^FROM (\S+)", (ROOT / "stack" / "Dockerfile").read_text(), re.MULTILINE)
    assert base and base[1] == "apache/airflow:3.3.2-python3.11"


def test_the_airflow_services_are_all_there_from_one_image() -> None:
    airflow = {name for name, s in SERVICES.items() if s.get("build")}
    assert {
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-init",
    } <= airflow
    assert len({SERVICES[name]["image"] for name in airflow}) == 1
    assert SERVICES["airflow-worker"]["command"] == ["celery", "worker"]
    mlflow = SERVICES["mlflow"]["command"]
    assert "--serve-artifacts" in mlflow and "MLFLOW_BACKEND_STORE_URI" in mlflow


def test_every_long_running_service_has_a_health_check_and_waits_on_conditions() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
        else:
            check = service.get("healthcheck", {})
            assert check.get("test") and check.get("interval"), f"{name}: no health check"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), (
                f"{name} -> {dependency}: {rule}"
            )
    assert (
        SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"]
        == "service_healthy"
    )


def test_every_store_is_on_a_named_volume() -> None:
    declared = set(COMPOSE["volumes"])
    for name, folder in STORES.items():
        mounts = {m.split(":")[1]: m.split(":")[0] for m in SERVICES[name]["volumes"]}
        assert folder in mounts, f"{name} keeps {folder} on no volume"
        assert mounts[folder] in declared, f"{name}: {mounts[folder]} is not a named volume"


def test_secrets_come_from_the_env_file() -> None:
    keys = _env_file_keys()
    assert {
        "TRAINGUARD_HASH_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "TRAINGUARD_EXPORT_KEY",
        "POSTGRES_PASSWORD",
    } <= keys
    for name, service in SERVICES.items():
        if name != "redis":
            assert service.get("env_file") == [".env"], f"{name} does not read .env"
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text and "FERNET_KEY:" not in text  # no secret in the file


def _read_by_code() -> set[str]:
    """Every environment variable the package reads: the ones ``settings`` declares (the
    only reader of TRAINGUARD_*), and any other name a module reads from ``os.environ``."""
    from trainguard.settings import ENV

    dev_tooling = {"TRAINGUARD_DAGS_FOLDER", "TRAINGUARD_WORKER_NAME"}  # demo and local stack
    names = set(ENV) - dev_tooling
    for path in (ROOT / "plugins" / "trainguard").rglob("*.py"):
        if "local" in path.parts:
            continue
        names |= set(re.findall(r'os\.environ(?:\.get\(|\[)\s*"([A-Z0-9_]+)"', path.read_text()))
    return {n for n in names if not n.startswith("MLFLOW_ENABLE")}


def test_every_environment_variable_the_code_reads_is_set() -> None:
    read = _read_by_code()
    assert {"TRAINGUARD_HASH_KEY", "TRAINGUARD_REGISTRY_URL", "TRAINGUARD_HOME"} <= read
    dockerfile = set(
        re.findall(
            r"^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]+)=",
            (ROOT / "stack" / "Dockerfile").read_text(),
            re.MULTILINE,
        )
    )
    common = set(SERVICES["airflow-apiserver"].get("environment", {}))
    provided = _env_file_keys() | dockerfile | common
    assert "MLFLOW_TRACKING_URI" in provided  # read by MLflow itself, in every task
    missing = sorted(read - provided)
    assert not missing, f"read by the code but set nowhere in the stack: {missing}"


def test_docker_compose_itself_accepts_the_file(tmp_path: Path) -> None:
    """Compose's own parser and schema (no image is pulled or built)."""
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("TRAINGUARD_REQUIRE_TOOLS"):
            pytest.fail("docker-compose is missing: .ci/run installs it")
        pytest.skip(
            "docker-compose is not installed here (apt-get install docker-compose; .ci/run does)"
        )
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "stack", tmp_path / "stack")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        [tool, "config"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resolved = yaml.safe_load(done.stdout)["services"]
    worker = resolved["airflow-worker"]
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["environment"]["TRAINGUARD_REGISTRY_URL"].endswith("@postgres:5432/violations")
    assert set(worker["depends_on"]) == {
        "postgres",
        "redis",
        "mlflow",
        "airflow-init",
        "airflow-apiserver",
    }
