"""`trainguard dags install`: the package's DAG files into an existing DAGs folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.cli.dags import bundled, install
from trainguard.exceptions import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def test_install_copies_the_gates_and_never_clobbers_a_teams_edit(tmp_path: Path) -> None:
    names = {p.name for p in bundled()}
    assert {"pretraining_gate.py", "finetune_gate.py", "model_assessment.py"} <= names
    install(tmp_path, examples=False, overwrite=False)
    copied = {p.name for p in tmp_path.iterdir()}
    assert copied == {n for n in names if not n.startswith("example_")}
    edited = tmp_path / "pretraining_gate.py"
    edited.write_text(edited.read_text() + "# the team's schedule\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kept; pass --overwrite.*pretraining_gate\.py"):
        install(tmp_path, examples=True, overwrite=False)
    assert edited.read_text().endswith("# the team's schedule\n")  # untouched
    install(tmp_path, examples=True, overwrite=True)
    assert {p.name for p in tmp_path.iterdir()} == names
    assert "# the team's schedule" not in edited.read_text()
    with pytest.raises(ConfigError, match="no such folder"):
        install(tmp_path / "missing", examples=False, overwrite=False)
