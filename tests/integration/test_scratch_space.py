"""Issue 18, item 6: a scratch clone holds a dataset's full data, personal information
included. It lives under TRAINGUARD_HOME (owner-only), never in the shared temporary
folder, and what a killed attempt left is removed by the next one."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trainguard.local.demo_data import PRETRAINING

if TYPE_CHECKING:
    from trainguard.local.demo_data import DemoRepo

pytestmark = pytest.mark.integration

KILLED = """
import os, signal, sys
from pathlib import Path
from trainguard.versioning import rewrite_revision

def rewrite(dataset):
    (dataset / "dataset.yaml").write_text((dataset / "dataset.yaml").read_text() + "# x\\n")
    os.kill(os.getpid(), signal.SIGKILL)  # the worker is lost mid-rewrite

rewrite_revision(sys.argv[1], sys.argv[2], "clean", tag="fix-killed", rewrite=rewrite)
"""


def _temp_rewrites() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("trainguard-rewrite-*")}


def test_a_rewrite_killed_midway_is_cleaned_by_the_next_attempt(
    small_repo: DemoRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainguard.versioning import rewrite_revision

    home = tmp_path / "home"
    monkeypatch.setenv("TRAINGUARD_HOME", str(home))
    before = _temp_rewrites()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, str(small_repo.repo), PRETRAINING],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    scratch = home / "scratch"
    [left] = list(scratch.iterdir())
    assert (left / "repo" / PRETRAINING / "records").is_dir()  # the full data, PI included
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
    assert _temp_rewrites() == before  # nothing in the shared temporary folder

    def rewrite(dataset: Path) -> str:
        (dataset / "dataset.yaml").write_text((dataset / "dataset.yaml").read_text() + "# x\n")
        return "a fixed revision"

    fixed = rewrite_revision(
        small_repo.repo, PRETRAINING, "clean", tag="fix-killed", rewrite=rewrite
    )
    assert fixed.rev == "fix-killed"
    assert list(scratch.iterdir()) == []


def test_a_fetch_killed_midway_leaves_nothing_for_long(
    small_repo: DemoRepo, tmp_path: Path
) -> None:
    """A staging folder whose process is gone is removed by the next fetch on the machine;
    one whose process lives (a second Celery slot fetching) is left alone."""
    from trainguard.versioning import fetch_version, resolve_version

    workspace = tmp_path / "datasets"
    workspace.mkdir()
    host = socket.gethostname()
    dead = workspace / f".fetch-{host}-{2**22 + 17}-abc"  # above any pid_max default
    live = workspace / f".fetch-{host}-{os.getpid()}-def"
    for folder in (dead, live):
        (folder / PRETRAINING).mkdir(parents=True)
    version = resolve_version(small_repo.repo, PRETRAINING, "clean")
    fetched = fetch_version(version, workspace)
    assert (fetched / "records").is_dir()
    assert not dead.exists()
    assert live.exists()
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
