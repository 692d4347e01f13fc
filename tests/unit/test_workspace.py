"""trainguard.toml: how every verb finds its stores, and reads that never create one."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard import settings
from trainguard.exceptions import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a new shell: no MLflow or trainguard settings, HOME elsewhere."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLFLOW_", "TRAINGUARD_", "AIRFLOW"))
    }
    return {**kept, "HOME": str(home), **extra}


def trainguard(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


def write_toml(folder: Path, **values: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return settings.write_config(folder, values, comment="a test's settings")


def test_the_file_round_trips_owner_only_and_rejects_unknown_names(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        MLFLOW_TRACKING_URI='sqlite:////srv/a "quoted" path/mlflow.db',
        TRAINGUARD_HASH_KEY="k\\ey",
    )
    assert settings.read_config(path) == {
        "MLFLOW_TRACKING_URI": 'sqlite:////srv/a "quoted" path/mlflow.db',
        "TRAINGUARD_HASH_KEY": "k\\ey",
    }
    assert path.stat().st_mode & 0o777 == 0o600  # it may hold keys
    path.write_text('[env]\nTRAINGUARD_HOEM = "/srv"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"trainguard.toml: \[env\] TRAINGUARD_HOEM is not"):
        settings.read_config(path)
    path.write_text("[env]\nTRAINGUARD_HOME = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TRAINGUARD_HOME must be a string"):
        settings.read_config(path)
    path.write_text("[env\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings.read_config(path)


def test_workdir_then_home_then_the_nearest_folder_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    write_toml(project, TRAINGUARD_POLICY="project.yaml")
    nested = project / "src" / "deep"
    nested.mkdir(parents=True)
    elsewhere = write_toml(tmp_path / "elsewhere", TRAINGUARD_POLICY="elsewhere.yaml").parent
    monkeypatch.delenv("TRAINGUARD_HOME", raising=False)
    found = settings.find_workspace(start=nested)
    assert found.config == project / "trainguard.toml" and "found above" in found.found_by
    monkeypatch.setenv("TRAINGUARD_HOME", str(elsewhere))
    assert settings.find_workspace(start=nested).values["TRAINGUARD_POLICY"] == "elsewhere.yaml"
    explicit = settings.find_workspace(project, start=tmp_path)
    assert explicit.values["TRAINGUARD_POLICY"] == "project.yaml"
    assert settings.find_workspace(tmp_path).config is None
    with pytest.raises(ConfigError, match="no such folder"):
        settings.find_workspace(tmp_path / "missing")


def test_a_read_in_an_empty_folder_names_the_store_and_creates_nothing(tmp_path: Path) -> None:
    """`lineage` and `violations list` with no settings: exit 2 naming where they looked;
    no mlflow.db in the current folder, no ~/.trainguard."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = clean_env(home)
    lineage = trainguard("lineage", "my-model", "1", cwd=cwd, env=env)
    assert lineage.returncode == 2, lineage.stderr
    assert "no MLflow tracking store configured" in lineage.stderr
    assert "--workdir" in lineage.stderr and "Traceback" not in lineage.stderr
    listing = trainguard("violations", "list", cwd=cwd, env=env)
    assert listing.returncode == 2, listing.stderr
    assert f"no violation registry at {home / '.trainguard' / 'violations.db'}" in listing.stderr
    assert list(cwd.iterdir()) == [] and list(home.iterdir()) == []


def test_a_toml_that_points_at_a_missing_store_is_named(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    write_toml(workdir, MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'mlflow.db'}")
    done = trainguard(
        "lineage", "m", "1", "--workdir", str(workdir), cwd=tmp_path, env=clean_env(tmp_path)
    )
    assert done.returncode == 2
    assert f"no MLflow store at {workdir / 'mlflow.db'}" in done.stderr
    assert str(workdir / "trainguard.toml") in done.stderr  # where the setting came from
    assert not (workdir / "mlflow.db").exists()


def test_every_verb_finds_the_registry_of_its_workdir(tmp_path: Path) -> None:
    """A violation reported with --workdir is listed from a folder below it (walking up),
    and with the exports `trainguard env` prints."""
    workdir = tmp_path / "team"
    write_toml(workdir, TRAINGUARD_HOME=str(workdir), TRAINGUARD_HASH_KEY="test-key")
    env = clean_env(tmp_path)
    report = trainguard(
        *("violations", "report", "--kind", "harmful_output", "--summary", "rude answer"),
        *("--by", "qa", "--prompt", "p", "--output", "o", "--workdir", str(workdir)),
        cwd=tmp_path,
        env=env,
    )
    assert report.returncode == 0, report.stderr
    nested = workdir / "notebooks"
    nested.mkdir()
    listing = trainguard("violations", "list", "--format", "json", cwd=nested, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "rude answer" in listing.stdout
    exports = trainguard("env", "--workdir", str(workdir), cwd=tmp_path, env=env)
    assert exports.returncode == 0, exports.stderr
    assert f"export TRAINGUARD_HOME={workdir}" in exports.stdout
    shell = subprocess.run(
        ["bash", "-c", f'eval "$(cat)"; {sys.executable} -m trainguard.cli violations list'],
        input=exports.stdout,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert shell.returncode == 0, shell.stderr
    assert "rude answer" in shell.stdout
    none = trainguard("env", cwd=tmp_path, env=env)
    assert none.returncode == 2 and "no trainguard.toml to print" in none.stderr
