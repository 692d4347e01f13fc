"""The production topology on this machine (`make test-stack`): Airflow's scheduler,
api-server and dag-processor, two Celery workers and an MLflow server, configured from the
compose file's environment file, on the PostgreSQL and Redis that run here.

pretraining_gate is triggered through Airflow's REST API on a dataset of 8 shards; the
mapped scans must spread over both workers, the decision and lineage must reach the MLflow
server, and a worker SIGKILLed in the middle of a scan must not change the decision: its
task is retried on the other worker.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.demo_data import DEMO_HASH_KEY, PRETRAINING, DemoRepo, build_demo_repo
from trainguard.local.stack import LocalStack

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.stack

SHARDS = 8
MODEL = "stack-pretrained"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, DemoRepo]]:
    workdir = tmp_path_factory.mktemp("stack")
    demo = build_demo_repo(workdir / "demo", scale=0.3, pretraining_shards=SHARDS)
    # The demo's consent ledger was written with the demo key; a deployment has its own.
    with LocalStack(
        workdir, workers=2, extra_env={"TRAINGUARD_HASH_KEY": DEMO_HASH_KEY}
    ) as running:
        yield running, demo


def _conf(demo: DemoRepo, rev: str) -> dict[str, Any]:
    return {
        "repo": str(demo.repo),
        "path": PRETRAINING,
        "rev": rev,
        "policy": str(demo.policy),
        "model_name": MODEL,
    }


def _scans(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (ti for ti in tis if ti["task_id"] == "scan_shard"), key=lambda ti: ti["map_index"]
    )


def _gate_runs(stack: LocalStack, rev: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack.mlflow)
    experiment = client.get_experiment_by_name("trainguard")
    assert experiment is not None, "no trainguard experiment on the MLflow server"
    return client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`trainguard.kind` = 'gate' and tags.`trainguard.dataset.rev` = '{rev}'"
        ),
    )


def test_the_mapped_scans_run_on_both_workers_and_the_gate_fails_the_planted_data(
    stack: tuple[LocalStack, DemoRepo],
) -> None:
    running, demo = stack
    run_id = running.trigger("pretraining_gate", _conf(demo, "planted"))
    assert running.wait_for_run("pretraining_gate", run_id) == "failed"
    tis = running.task_instances("pretraining_gate", run_id)
    scans = _scans(tis)
    assert len(scans) == SHARDS and {ti["state"] for ti in scans} == {"success"}
    assert {ti["hostname"] for ti in scans} == {"worker-1", "worker-2"}, [
        (ti["map_index"], ti["hostname"]) for ti in scans
    ]
    states = {ti["task_id"]: ti["state"] for ti in tis if ti["task_id"] != "scan_shard"}
    assert states["gate"] == "failed" and states["train"] == "upstream_failed"
    [gate] = _gate_runs(running, "planted")
    assert gate.data.tags["trainguard.decision"] == "fail"
    assert "Art. 7(3)" in gate.data.tags["trainguard.failed_clauses"]
    assert gate.data.tags["trainguard.airflow.dag_id"] == "pretraining_gate"


def test_a_worker_killed_mid_scan_is_retried_on_the_other_and_the_clean_data_trains(
    stack: tuple[LocalStack, DemoRepo],
) -> None:
    from mlflow import MlflowClient

    running, demo = stack
    run_id = running.trigger("pretraining_gate", _conf(demo, "clean"))
    deadline = time.monotonic() + 600
    while True:  # the first scan seen running decides which worker dies
        busy = [
            ti
            for ti in _scans(running.task_instances("pretraining_gate", run_id))
            if ti["state"] == "running" and ti["hostname"]
        ]
        if busy:
            break
        assert time.monotonic() < deadline, "no scan started running"
        time.sleep(0.5)
    victim = busy[0]
    worker = next(p for p in running.processes if p.name == victim["hostname"])
    running.kill(worker)
    assert running.wait_for_run("pretraining_gate", run_id) == "success"
    tis = running.task_instances("pretraining_gate", run_id)
    retried = next(ti for ti in _scans(tis) if ti["map_index"] == victim["map_index"])
    survivor = {"worker-1", "worker-2"} - {victim["hostname"]}
    assert retried["state"] == "success" and retried["try_number"] >= 2
    assert {retried["hostname"]} == survivor
    assert {ti["task_id"]: ti["state"] for ti in tis}["train"] == "success"
    [gate] = _gate_runs(running, "clean")
    assert gate.data.tags["trainguard.decision"] == "pass"
    client = MlflowClient(tracking_uri=running.mlflow, registry_uri=running.mlflow)
    [version] = client.search_model_versions(f"name = '{MODEL}'")
    assert version.tags["trainguard.gate_run_id"] == gate.info.run_id
    assert version.tags["trainguard.dataset.rev"] == "clean"
    assert version.tags["trainguard.training_run_id"]
    assert Path(running.workdir / "mlartifacts").is_dir()  # artifacts went through the server


def test_a_stack_that_cannot_start_stops_what_it_started(tmp_path: Path) -> None:
    """The MLflow server is up when Airflow's database turns out unreachable: it must go."""
    import os

    from trainguard.exceptions import StackError

    broken = LocalStack(
        tmp_path,
        workers=1,
        extra_env={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://trainguard@127.0.0.1:1/x",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "postgresql+psycopg://trainguard@127.0.0.1:1/x",
        },
    )
    with pytest.raises(StackError, match="airflow db migrate failed"), broken:
        pass
    assert broken.started_pids and not broken.processes
    for pid in broken.started_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
