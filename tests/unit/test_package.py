"""Package shape: the public API, and a core that never imports Airflow."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

import trainguard

pytestmark = pytest.mark.unit

AIRFLOW_LAYER = {"operators", "plugin", "dagrun", "demo", "api"}


def test_all_matches_public_names() -> None:
    """__all__ lists exactly the public names the package exposes, sorted."""
    public = {
        name for name, value in vars(trainguard).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"PackageNotFoundError", "version"}  # helpers of the __version__ lookup
    assert sorted(trainguard.__all__) == trainguard.__all__
    assert set(trainguard.__all__) == public | {"__version__"}


def _modules() -> list[Path]:
    return [p for p in Path(trainguard.__file__).parent.iterdir() if p.suffix == ".py"
            or (p / "__init__.py").exists()]


def test_core_modules_do_not_import_airflow() -> None:
    """Importing every core module leaves Airflow unimported (fast, orchestrator-free core)."""
    core = sorted(
        f"trainguard.{(p.stem if p.suffix else p.name)}" for p in _modules()
        if (p.stem if p.suffix else p.name) not in AIRFLOW_LAYER | {"__init__"}
    )
    code = (f"import sys\nfor m in {core!r}: __import__(m)\n"
            "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
            "print(bad)\nsys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"core imported Airflow: {done.stdout} {done.stderr[-500:]}"
    assert len(core) >= 10
