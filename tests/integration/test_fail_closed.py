"""Fail closed: any error inside the gate blocks training and names the cause."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.demo_data import PRETRAINING, DemoRepo
from trainguard.versioning import run_tool

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.integration


def assert_blocked(result: Any, *causes: str, task: str = "gate") -> str:
    assert "failed" in result.states_of(task)
    assert result.states_of("train") == ["upstream_failed"]
    error = result.xcom(task, "gate_error")
    assert error and "training blocked (fail closed" in error and "Art. 7" in error
    for cause in causes:
        assert cause in error
    return error


def test_missing_dvc_remote_blocks_training(stack: Stack, small_repo: DemoRepo) -> None:
    """With the DVC remote gone the gate cannot fetch the data, and says so."""
    shutil.rmtree(small_repo.remote)
    result = stack.run_gate("clean", repo=small_repo.repo, policy=str(small_repo.policy))
    assert_blocked(
        result,
        f"cannot fetch {PRETRAINING} from DVC remote {small_repo.remote}",
        task="list_shards",
    )
    # ... and why, in DVC's words (a quiet pull used to end the message at "failed: ").
    assert_blocked(result, "ERROR: failed to pull data from the cloud", task="list_shards")


def test_unreachable_mlflow_blocks_training(
    stack: Stack, small_repo: DemoRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the gate cannot record its decision in MLflow, training does not start."""
    # Port 9 (discard) has no listener here: connections are refused at once.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    result = stack.run_gate("clean", repo=small_repo.repo, policy=str(small_repo.policy))
    assert_blocked(result, "MLflow at http://127.0.0.1:9 could not")


def test_unreadable_shard_blocks_training(stack: Stack, small_repo: DemoRepo) -> None:
    """A corrupt Parquet shard committed as a new DVC revision is named, and blocks training."""
    repo = small_repo.repo
    run_tool(["git", "checkout", "--quiet", "clean"], repo, "checkout")
    run_tool(["dvc", "checkout", "--quiet"], repo, "dvc checkout")
    shard = repo / PRETRAINING / "records" / "part-00001.parquet"
    shard.unlink()  # DVC may link files from its cache: never write through the link
    shard.write_bytes(b"PAR1 not really parquet")
    run_tool(["dvc", "add", "--quiet", PRETRAINING], repo, "dvc add")
    run_tool(["git", "commit", "--quiet", "-am", "corrupt a shard"], repo, "commit")
    run_tool(["git", "tag", "corrupt"], repo, "tag")
    run_tool(["dvc", "push", "--quiet"], repo, "dvc push")
    result = stack.run_gate("corrupt", repo=repo, policy=str(small_repo.policy))
    assert_blocked(result, "part-00001.parquet: unreadable Parquet shard", task="list_shards")


def test_unknown_revision_fails_before_the_gate(stack: Stack) -> None:
    """A revision that does not exist stops the run at resolution, naming it."""
    result = stack.run_gate("no-such-tag")
    assert result.states_of("resolve_dataset_version") == ["failed"]
    assert result.states_of("gate") == ["upstream_failed"]
    assert result.states_of("train") == ["upstream_failed"]
