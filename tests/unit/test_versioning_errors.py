"""Why git or DVC failed reaches the gate's error (issue 18.6): a real git+DVC repository
whose remote lost the data, pulled as the gate pulls it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import DatasetVersionError
from trainguard.versioning import resolve_version, run_tool

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _dvc(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


def test_a_pull_from_a_remote_that_lost_the_data_says_what_is_missing(tmp_path: Path) -> None:
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    _dvc("init", "-q", cwd=repo)
    _dvc("remote", "add", "-d", "storage", str(remote), cwd=repo)
    (repo / "data").mkdir()
    (repo / "data" / "part-0.jsonl").write_text('{"id": "r1", "text": "你好"}\n')
    _dvc("add", "-q", "data", cwd=repo)
    _dvc("push", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "data", cwd=repo)
    version = resolve_version(repo, "data", "HEAD")
    shutil.rmtree(remote)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    with pytest.raises(DatasetVersionError) as raised:
        run_tool(["dvc", "pull", "data.dvc"], repo, f"cannot fetch data from {version.remote}")
    message = str(raised.value)
    assert message.startswith(f"cannot fetch data from {version.remote}: dvc pull failed: ")
    assert "ERROR: failed to pull data" in message or "do not exist" in message, message


def test_a_tool_that_fails_silently_still_gives_a_cause(tmp_path: Path) -> None:
    with pytest.raises(DatasetVersionError, match=r"git status failed: .*not a git repository"):
        run_tool(["git", "status"], tmp_path, "status")
    with pytest.raises(
        DatasetVersionError, match=r"^silent: false failed: no output, exit code 1$"
    ):
        run_tool(["false"], tmp_path, "silent")
