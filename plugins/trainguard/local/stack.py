"""The production topology of docker-compose.yml, as processes on loopback.

``LocalStack`` starts, from the same environment file the compose file reads
(``.env``, else the documented ``.env.example``), an MLflow server (PostgreSQL backend,
proxied artifacts), Airflow's api-server, scheduler and dag-processor, and N Celery
workers against the PostgreSQL and Redis of this machine. The compose service names in
that file (``postgres:5432``, ``redis:6379``, ``mlflow:5000``, ``airflow-apiserver:8080``)
are pointed at 127.0.0.1; each stack creates databases of its own (a random prefix) and
claims a free Redis database, so two stacks on one server never touch each other's, and
drops them when it closes. Every process runs in its own process group and is stopped
(TERM, then KILL) when the stack closes, also when a test fails.

It is what ``make test-stack`` and ``bench/scale.py`` run: images cannot be pulled here,
so the same components prove the same topology without containers.

Kept as one module (about 460 lines): starting the processes, claiming the storage they
use and releasing both are one lifecycle, which ``start`` and ``stop`` keep together.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import StackError

if TYPE_CHECKING:
    from collections.abc import Callable

PROJECT = Path(__file__).resolve().parents[3]
WORKER_NAME_ENV = "TRAINGUARD_WORKER_NAME"


_REDIS_CLAIM = "trainguard:local-stack"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the local workers: on one machine they would all be
    ``getfqdn()``; each names itself so the test can tell which worker ran what."""
    from trainguard.settings import env

    return env(WORKER_NAME_ENV) or socket.getfqdn()


def env_file() -> Path:
    """The compose file's environment: ``.env`` when an operator made one, else the example."""
    own = PROJECT / ".env"
    return own if own.is_file() else PROJECT / ".env.example"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as docker compose reads them (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise StackError(f"{path}, line {number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class LocalStack:
    """Start with ``with LocalStack(workdir, workers=2) as stack:``; see the module doc."""

    workdir: Path
    workers: int = 2
    worker_concurrency: int = 1
    # Unique per stack, so two stacks on one server (two CI jobs, a developer's and a
    # test's) never drop each other's databases; both are removed when the stack stops.
    db_prefix: str = field(default_factory=lambda: f"tgstack_{secrets.token_hex(4)}_")
    redis_db: int | None = None  # default: a free database of 1-15, claimed
    pg_admin_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    progress: Callable[[str], None] = print
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    started_pids: list[int] = field(default_factory=list)  # every process ever started
    env: dict[str, str] = field(default_factory=dict)
    api: str = ""
    mlflow: str = ""
    _databases: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ environment

    def loopback_env(
        self, values: dict[str, str], api_port: int, mlflow_port: int
    ) -> dict[str, str]:
        """The compose environment, with service names pointed at this machine."""
        mapping = {
            "@postgres:5432/": f"@127.0.0.1:5432/{self.db_prefix}",
            "redis:6379/0": f"127.0.0.1:6379/{self._claim_redis_db()}",
            "mlflow:5000": f"127.0.0.1:{mlflow_port}",
            "airflow-apiserver:8080": f"127.0.0.1:{api_port}",
        }
        out = {}
        for key, value in values.items():
            for service, local in mapping.items():
                value = value.replace(service, local)
            out[key] = value
        paths = {
            "AIRFLOW_HOME": self.workdir / "airflow",
            "TRAINGUARD_HOME": self.workdir / "trainguard",
            "AIRFLOW__CORE__DAGS_FOLDER": PROJECT / "dags",
            "TRAINGUARD_DAGS_FOLDER": PROJECT / "dags",
            "TRAINGUARD_EXPECTATIONS_DIR": PROJECT / "expectations",
            "AIRFLOW__CORE__PLUGINS_FOLDER": self.workdir / "airflow" / "plugins",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": self.workdir
            / "airflow"
            / "passwords.json",
        }
        out.update({key: str(value) for key, value in paths.items()})
        out.update(
            {
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(api_port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
                "DVC_NO_ANALYTICS": "1",
                "DVC_SITE_CACHE_DIR": str(self.workdir / "dvc-site-cache"),
            }
        )
        out.update(self.extra_env)
        return out

    def _claim_redis_db(self) -> int:
        """A Redis database no other stack uses: claimed with SET NX, released at stop."""
        import redis

        if self.redis_db is not None:
            return self.redis_db
        for number in range(1, 16):
            client = redis.Redis(host="127.0.0.1", port=6379, db=number)
            if client.dbsize() == 0 and client.set(_REDIS_CLAIM, self.db_prefix, nx=True):
                self.redis_db = number
                return number
        raise StackError("no free Redis database (1-15) on 127.0.0.1:6379 for the stack")

    def _release(self) -> None:
        """Drop this stack's databases and empty its Redis database (best effort: a
        leftover is named, not raised, so the stack's own error stays the one shown)."""
        from sqlalchemy import create_engine, text

        if self._databases:
            try:
                admin = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    for name in self._databases:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
                self._databases = []
            except Exception as exc:  # noqa: BLE001 - reported, see the docstring
                self.progress(f"warning: databases {self._databases} not dropped: {exc}")
        if self.redis_db is not None:
            import redis

            with contextlib.suppress(Exception):
                client = redis.Redis(host="127.0.0.1", port=6379, db=self.redis_db)
                if client.get(_REDIS_CLAIM) in (None, self.db_prefix.encode()):
                    client.flushdb()

    def _prepare_databases(self) -> None:
        """Fresh databases (owned by the compose user) and an empty Redis database."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        names = sorted(
            {
                str(make_url(url.replace("db+", "")).database)
                for key, url in self.env.items()
                if "@127.0.0.1:5432/" in url
                and key.endswith(
                    ("SQL_ALCHEMY_CONN", "RESULT_BACKEND", "BACKEND_STORE_URI", "REGISTRY_URL")
                )
            }
        )
        user = make_url(self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).username
        admin = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :u"), {"u": user}
            ).first()
            if not exists:
                connection.execute(text(f'CREATE ROLE "{user}" LOGIN'))
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{user}"'))
                self._databases.append(name)
        admin.dispose()
        self.progress(f"databases {', '.join(names)} (new, owner {user}; dropped at stop)")

    # ------------------------------------------------------------------ processes

    def _bin(self, name: str) -> str:
        found = shutil.which(name, path=str(Path(sys.executable).parent))
        if not found:
            raise StackError(f"{name} is not installed next to {sys.executable}")
        return found

    def start_process(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> Process:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env, **(env or {})},
                start_new_session=True,
                cwd=self.workdir,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        self.started_pids.append(popen.pid)
        return process

    def start_worker(self, number: int) -> Process:
        name = f"worker-{number}"
        env = {
            WORKER_NAME_ENV: name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "trainguard.local.stack.worker_hostname",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        }
        # TRAINGUARD_HOME is shared, as the compose volume is: the shard scans written
        # there by one worker are reduced by the gate task, which may run on another.
        process = self.start_process(
            name,
            [
                self._bin("airflow"),
                "celery",
                "worker",
                "--concurrency",
                str(self.worker_concurrency),
                "--celery-hostname",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            env,
        )
        self._wait(f"Celery {name}", lambda: "ready." in process.tail(200), 120, process)
        return process

    def kill(self, process: Process) -> None:
        """SIGKILL the process and everything it started: a worker lost with its tasks."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=30)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.alive():
                try:
                    os.killpg(process.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 20
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Whatever the group left behind (task supervisors, gunicorn workers).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
        for process in self.processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.progress(f"warning: {process.name} (pid {process.popen.pid}) did not stop")
        self.processes.clear()
        self._release()

    def _wait(
        self, what: str, ready: Callable[[], Any], timeout: float, process: Process | None = None
    ) -> Any:
        deadline, last = time.monotonic() + timeout, ""
        while True:
            if process is not None and not process.alive():
                raise StackError(
                    f"{process.name} exited ({process.popen.returncode}) "
                    f"before {what} was ready:\n{process.tail()}"
                )
            try:
                result = ready()
                if result:
                    return result
            except (OSError, ValueError, StackError) as exc:  # not up yet: try again
                last = str(exc)[:300]
            if time.monotonic() > deadline:
                tail = process.tail() if process else ""
                raise StackError(f"{what} not ready after {timeout:.0f} s (last: {last})\n{tail}")
            time.sleep(1)

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        api_port, mlflow_port = free_port(), free_port()
        self._claim_redis_db()
        self.env = self.loopback_env(read_env_file(env_file()), api_port, mlflow_port)
        (Path(self.env["AIRFLOW_HOME"]) / "plugins").mkdir(parents=True, exist_ok=True)
        passwords = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(12)}))
        self._prepare_databases()
        self.api, self.mlflow = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{mlflow_port}"
        started = time.monotonic()
        artifacts = self.workdir / "mlartifacts"
        mlflow = self.start_process(
            "mlflow",
            [
                self._bin("mlflow"),
                "server",
                "--backend-store-uri",
                self.env["MLFLOW_BACKEND_STORE_URI"],
                "--artifacts-destination",
                str(artifacts),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
                "--workers",
                "1",
            ],
        )
        migrate = subprocess.run(
            [self._bin("airflow"), "db", "migrate"],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            check=False,
        )
        if migrate.returncode != 0:
            raise StackError(
                f"airflow db migrate failed:\n{migrate.stdout[-1500:]}{migrate.stderr[-1500:]}"
            )
        api = self.start_process(
            "api-server",
            [
                self._bin("airflow"),
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--workers",
                "1",
            ],
        )
        self.start_process("scheduler", [self._bin("airflow"), "scheduler"])
        self.start_process("dag-processor", [self._bin("airflow"), "dag-processor"])
        self._wait("MLflow server", lambda: _get(f"{self.mlflow}/health"), 120, mlflow)
        self._wait(
            "Airflow API server", lambda: _get(f"{self.api}/api/v2/monitor/health"), 180, api
        )
        for number in range(1, self.workers + 1):
            self.start_worker(number)
        self.progress(
            f"stack up in {time.monotonic() - started:.0f} s: API {self.api}, "
            f"MLflow {self.mlflow}, {self.workers} Celery worker(s)"
        )

    # ------------------------------------------------------------------ REST API

    def token(self) -> str:
        password = json.loads(
            Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
        )["admin"]
        return _json("POST", f"{self.api}/auth/token", {"username": "admin", "password": password})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return _json(method, f"{self.api}/api/v2{path}", body, token=self.token())

    def trigger(self, dag_id: str, conf: dict[str, Any], timeout: float = 180) -> str:
        """Unpause (once parsed) and trigger ``dag_id``; returns the run id."""
        self._wait(f"DAG {dag_id} parsed", lambda: self.call("GET", f"/dags/{dag_id}"), timeout)
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        quoted = urllib.parse.quote(run_id, safe="")
        found = self.call("GET", f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100")
        return list(found["task_instances"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        quoted = urllib.parse.quote(run_id, safe="")

        def finished() -> str | None:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{quoted}")["state"]
            return state if state in ("success", "failed") else None

        return str(self._wait(f"DAG run {run_id}", finished, timeout))


def _get(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bool(response.status == 200)


def _json(method: str, url: str, body: Any = None, *, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise StackError(
            f"{method} {url}: HTTP {exc.code}: {exc.read()[:500].decode(errors='replace')}"
        ) from None
