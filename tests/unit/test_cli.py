"""The command line: exit codes 0/1/2, the JSON report of DESIGN.md, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataset_factory import write_dataset

pytestmark = pytest.mark.unit


def trainguard(*args: str) -> subprocess.CompletedProcess[str]:
    # A real process, so exit codes and stderr are what a user sees.
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args], capture_output=True, text=True, check=False
    )


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """A contract breach prints one error line naming the file and exits 2."""
    root = write_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text(
        "name: tiny\nstage: midtraining\nmodality: text\nlanguages: [zh]\n"
    )
    done = trainguard("scan", str(root))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "dataset.yaml, field 'stage'" in lines[0]


def test_missing_dataset_directory_exits_2(tmp_path: Path) -> None:
    """Scanning a folder that does not exist is bad input."""
    done = trainguard("scan", str(tmp_path / "nope"))
    assert done.returncode == 2 and "dataset directory not found" in done.stderr


def test_bad_policy_exits_2(tmp_path: Path) -> None:
    """An out-of-range policy value exits 2 naming the key."""
    policy = tmp_path / "p.yaml"
    policy.write_text("harmful: {sample_size: 0}\n")
    done = trainguard("scan", str(write_dataset(tmp_path / "d")), "--policy", str(policy))
    assert done.returncode == 2 and "'harmful.sample_size'" in done.stderr


def test_scan_reads_the_workspace_policy_as_the_gate_dags_do(tmp_path: Path) -> None:
    """Without --policy, `scan` decides under TRAINGUARD_POLICY (here from the workspace's
    trainguard.toml), as its help says; --policy still wins. Before, it fell back to the
    defaults, so `scan --workdir` of the demo ran without the demo's classifier."""
    root = write_dataset(tmp_path / "d")
    strict = tmp_path / "strict.yaml"
    strict.write_text("profile: filing\ndeviations: []\n")
    (tmp_path / "trainguard.toml").write_text(f'[env]\nTRAINGUARD_POLICY = "{strict}"\n')
    scanned = trainguard("scan", str(root), "--format", "json", "--workdir", str(tmp_path))
    assert scanned.returncode in (0, 1), scanned.stderr
    assert json.loads(scanned.stdout)["policy"]["profile"] == "filing"
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("profile: development\n")
    chosen = trainguard(
        "scan", str(root), "--format", "json", "--workdir", str(tmp_path), "--policy", str(lenient)
    )
    assert json.loads(chosen.stdout)["policy"]["profile"] == "development"
    shown = trainguard("policy", "show", "--format", "json", "--workdir", str(tmp_path))
    assert json.loads(shown.stdout)["profile"] == "filing"


def test_scan_workers_must_be_a_positive_number(tmp_path: Path) -> None:
    """`--workers 0` is bad input: one line, exit 2, before anything is read."""
    done = trainguard("scan", str(write_dataset(tmp_path / "d")), "--workers", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--workers: expected a whole number of at least 1, got '0'" in done.stderr


def test_policy_show_prints_every_setting_with_clause() -> None:
    """`policy show` lists each setting with its clause; JSON carries them too."""
    text = trainguard("policy", "show")
    assert text.returncode == 0
    assert "harmful.max_rate = 0.05" in text.stdout and "TC260-003 5.1 a [C]" in text.stdout
    document = json.loads(trainguard("policy", "show", "--format", "json").stdout)
    assert document["settings"]["corpus.manual_pass_rate"]["clause"] == "TC260-003 9.2"
    assert len(document["digest"]) == 64
    assert document["profile"] == "development" and document["deviations"] == []
    assert "# profile: development" in text.stdout


def test_scan_in_a_dvc_workspace_reports_the_dvc_md5(tmp_path: Path) -> None:
    """Inside a DVC repository `scan` names the version as the gate does (its DVC md5);
    once a file changes, the digest is of the files as scanned, and it says so."""
    dvc = str(Path(sys.executable).parent / "dvc")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(tmp_path / "site")}
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=env)
    root = write_dataset(tmp_path / "corpus")
    subprocess.run([dvc, "add", "-q", "corpus"], cwd=tmp_path, check=True, env=env)
    md5 = yaml.safe_load((tmp_path / "corpus.dvc").read_text())["outs"][0]["md5"]
    tracked = trainguard("scan", str(root), "--format", "json")
    assert tracked.returncode in (0, 1), tracked.stderr
    assert json.loads(tracked.stdout)["dataset"]["digest"] == md5.removesuffix(".dir")
    assert f"md5 {md5.removesuffix('.dir')}" in tracked.stderr
    (root / "sources.yaml").write_text((root / "sources.yaml").read_text() + "\n", encoding="utf-8")
    changed = trainguard("scan", str(root), "--format", "json")
    assert json.loads(changed.stdout)["dataset"]["digest"] != md5.removesuffix(".dir")
    assert "modified since corpus.dvc" in changed.stderr
