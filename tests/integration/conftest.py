"""Integration fixtures: a real Airflow (SQLite), MLflow store and git+DVC repository.

Everything lives under one temporary folder. The environment is applied when this file
is imported, before any test module can import Airflow (Airflow reads its configuration
at import time).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.demo_data import DEMO_HASH_KEY, PRETRAINING, DemoRepo, build_demo_repo
from trainguard.local.embedded import apply_embedded_env

if TYPE_CHECKING:
    from collections.abc import Iterator

WORKDIR = Path(tempfile.mkdtemp(prefix="trainguard-it-"))
apply_embedded_env(WORKDIR)
os.environ["TRAINGUARD_HASH_KEY"] = DEMO_HASH_KEY
os.environ["TRAINGUARD_EXPORT_KEY"] = "integration-test-export-key"
# Every DAG run of the session reports to OpenLineage through the provider's file
# transport, so the events can be checked (and searched for leaks) like any other output.
OPENLINEAGE_EVENTS = WORKDIR / "openlineage" / "events.jsonl"
OPENLINEAGE_EVENTS.parent.mkdir()
os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
    {"type": "file", "log_file_path": str(OPENLINEAGE_EVENTS), "append": True}
)
os.environ["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "trainguard-it"
MODEL_NAME = "it-pretrained"
# Trained, under waivers, on canary PI (test_provenance): its weights hold that data.
WAIVED_MODEL = "it-waived"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)


@dataclass(frozen=True)
class Stack:
    workdir: Path
    demo: DemoRepo

    def run_gate(self, rev: str, repo: Path | None = None, **conf: Any) -> Any:
        return self.run_gate_dag("pretraining_gate", rev, PRETRAINING, MODEL_NAME, repo, **conf)

    def run_gate_dag(
        self, dag_id: str, rev: str, path: str, model: str, repo: Path | None = None, **conf: Any
    ) -> Any:
        from trainguard.local.dagrun import run_dag

        return run_dag(
            dag_id,
            {
                "repo": str(repo or self.demo.repo),
                "path": path,
                "rev": rev,
                "model_name": model,
                "policy": str(self.demo.policy),
                **conf,
            },
            log_file=self.workdir / "task-logs.txt",
        )


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The full-size demo repository (20,000+ pretraining records) in a fresh stack."""
    return Stack(WORKDIR, build_demo_repo(WORKDIR / "demo", scale=1.0))


@pytest.fixture(scope="session")
def planted_run(stack: Stack) -> Any:
    return stack.run_gate("planted")


@pytest.fixture(scope="session")
def clean_run(stack: Stack) -> Any:
    return stack.run_gate("clean")


@pytest.fixture
def small_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """A small demo repository of the test's own, free to be broken."""
    return build_demo_repo(tmp_path / "small", scale=0.02)


CANARIES = {  # valid-looking PI values that must never leave the data
    "resident_id": "11010519491231002X",
    "mobile_phone": "13987654321",
    "email": "canary.leaktest@example.org",
    "bank_card": "6222021234567890128",
    "passport": "E87654321",
}


def plant_canaries(repo: Path, tag: str, source_id: str = "news-crawl") -> None:
    """Commit the clean revision plus one shard of canary PI records as DVC revision ``tag``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.versioning import run_tool

    run_tool(["git", "checkout", "--quiet", "clean"], repo, "checkout")
    run_tool(["dvc", "checkout", "--quiet"], repo, "dvc checkout")
    texts = [f"测试记录，联系方式{value}，请勿外传。" for value in CANARIES.values()]
    pq.write_table(
        pa.table(
            {
                "record_id": [f"canary-{i}" for i in range(len(texts))],
                "source_id": [source_id] * len(texts),
                "text": texts,
                "language": ["zh"] * len(texts),
            }
        ),
        repo / PRETRAINING / "records" / "part-canary.parquet",
    )
    run_tool(["dvc", "add", "--quiet", PRETRAINING], repo, "dvc add")
    run_tool(["git", "commit", "--quiet", "-am", f"canaries ({tag})"], repo, "commit")
    run_tool(["git", "tag", tag], repo, "tag")
    run_tool(["dvc", "push", "--quiet"], repo, "dvc push")


def assert_no_canary(outputs: dict[str, str]) -> None:
    for label, text in outputs.items():
        for kind, value in CANARIES.items():
            assert value not in text and value.lower() not in text, f"{kind} leaked in {label}"


# The PostgreSQL server of this machine (and of CI): each test gets a database of its own.
SERVER = os.environ.get("TRAINGUARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture
def pg_url() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"trainguard_it_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def clean_env() -> dict[str, str]:
    """This environment without the test session's Airflow, MLflow and trainguard settings:
    what a newcomer's shell has before `make demo`."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "MLFLOW", "TRAINGUARD", "OPENLINEAGE"))
    }


@dataclass(frozen=True)
class DemoFolder:
    path: Path
    stdout: str
    stderr: str
    returncode: int


@pytest.fixture(scope="session")
def demo_folder() -> DemoFolder:
    """`trainguard demo --scale 0.1` run once, as a newcomer runs it (a clean environment)."""
    import subprocess
    import sys

    folder = WORKDIR / "newcomer-demo"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "trainguard"),
            "demo",
            "--workdir",
            str(folder),
            "--scale",
            "0.1",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
        timeout=900,
    )
    return DemoFolder(folder, done.stdout, done.stderr, done.returncode)


@dataclass
class GovernanceServer:
    """`trainguard ui` on the demo's folder: Airflow's real API server with the plugin."""

    base: str
    folder: Path
    env: dict[str, str]
    log: Path

    def token(self, user: str) -> str:
        import urllib.request

        from trainguard.local.embedded import ui_passwords

        body = json.dumps({"username": user, "password": ui_passwords(self.env)[user]})
        request = urllib.request.Request(
            f"{self.base}/auth/token",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]


@contextlib.contextmanager
def serving(
    name: str, argv: list[str], *, health: str, log: Path, env: dict[str, str], timeout: float = 180
) -> Iterator[None]:
    """A server process, until ``health`` answers; stopped with its process group after.
    An exit or a timeout while starting raises with the tail of its log."""
    import signal
    import subprocess
    import time
    import urllib.request

    with log.open("w") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(health, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not up: {log.read_text()[-3000:]}") from None
                time.sleep(1)
        yield
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def mlflow_server(store_uri: str, *, log: Path, env: dict[str, str]) -> Iterator[str]:
    """A stock ``mlflow server`` on ``store_uri`` (one worker), until the block ends;
    yields its base URL."""
    import sys

    from trainguard.local.stack import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri"]
    argv += [store_uri, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with serving("mlflow server", argv, health=f"{base}/health", log=log, env=env, timeout=120):
        yield base


@pytest.fixture(scope="session")
def governance_server(demo_folder: DemoFolder) -> Iterator[GovernanceServer]:
    """Started the way the README says (`trainguard ui`); stopped with its process group."""
    import sys

    from trainguard.local.embedded import ui_env
    from trainguard.local.stack import free_port

    assert demo_folder.returncode == 0, demo_folder.stdout[-2000:] + demo_folder.stderr[-2000:]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = WORKDIR / "api-server.log"
    argv = [str(Path(sys.executable).parent / "trainguard"), "ui", "--workdir"]
    argv += [str(demo_folder.path), "--port", str(port)]
    with serving(
        "trainguard ui", argv, health=f"{base}/api/v2/monitor/health", log=log, env=clean_env()
    ):
        yield GovernanceServer(
            base, demo_folder.path, {**clean_env(), **ui_env(demo_folder.path)}, log
        )
