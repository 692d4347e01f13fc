"""Integration fixtures: a real Airflow (SQLite), MLflow store and git+DVC repository.

Everything lives under one temporary folder. The environment is applied when this file
is imported, before any test module can import Airflow (Airflow reads its configuration
at import time).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trainguard.demo_data import DEMO_HASH_KEY, PRETRAINING, DemoRepo, build_demo_repo
from trainguard.embedded import apply_embedded_env

WORKDIR = Path(tempfile.mkdtemp(prefix="trainguard-it-"))
apply_embedded_env(WORKDIR)
os.environ["TRAINGUARD_HASH_KEY"] = DEMO_HASH_KEY
MODEL_NAME = "it-pretrained"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)


@dataclass(frozen=True)
class Stack:
    workdir: Path
    demo: DemoRepo

    def run_gate(self, rev: str, repo: Path | None = None, **conf: Any) -> Any:
        return self.run_gate_dag("pretraining_gate", rev, PRETRAINING, MODEL_NAME, repo, **conf)

    def run_gate_dag(self, dag_id: str, rev: str, path: str, model: str,
                     repo: Path | None = None, **conf: Any) -> Any:
        from trainguard.dagrun import run_dag

        return run_dag(
            dag_id,
            {"repo": str(repo or self.demo.repo), "path": path, "rev": rev,
             "model_name": model, "policy": str(self.demo.policy), **conf},
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


@pytest.fixture()
def small_repo(tmp_path: Path) -> Iterator[DemoRepo]:
    """A small demo repository of the test's own, free to be broken."""
    yield build_demo_repo(tmp_path / "small", scale=0.02)
