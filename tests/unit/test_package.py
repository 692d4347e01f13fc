"""Package shape: the public API, and a core that never imports Airflow."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

import trainguard

pytestmark = pytest.mark.unit

# The Airflow layer, by folder (LAYOUT.md); everything else is core and never imports Airflow.
AIRFLOW_LAYER = ("trainguard.operators", "trainguard.api", "trainguard.plugin", "trainguard.local")


def test_all_matches_public_names() -> None:
    """__all__ lists exactly the public names the package exposes, sorted."""
    public = {
        name
        for name, value in vars(trainguard).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"PackageNotFoundError", "version"}  # helpers of the __version__ lookup
    assert sorted(trainguard.__all__) == trainguard.__all__
    assert set(trainguard.__all__) == public | {"__version__"}


def _core_modules() -> list[str]:
    root = Path(trainguard.__file__).parent
    names = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts or path.name == "__main__.py":
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(AIRFLOW_LAYER):
            names.append(name)
    return sorted(names)


def test_core_modules_do_not_import_airflow() -> None:
    """Importing every core module leaves Airflow unimported (fast, orchestrator-free core)."""
    core = _core_modules()
    code = (
        f"import sys\nfor m in {core!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "print(bad)\nsys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"core imported Airflow: {done.stdout} {done.stderr[-500:]}"
    assert len(core) >= 40


def test_entry_points_resolve_to_their_objects() -> None:
    """The console script, the provider metadata and the MLflow dataset source load from
    the installed distribution's entry points (the Airflow plugin's is loaded by Airflow
    itself in tests/integration/test_entry_points.py)."""
    from importlib.metadata import entry_points

    wanted = {
        ("console_scripts", "trainguard"),
        ("apache_airflow_provider", "provider_info"),
        ("mlflow.dataset_source", "dvc"),
    }
    found = {
        (point.group, point.name): point
        for group in {g for g, _ in wanted}
        for point in entry_points(group=group)
        if point.value.startswith("trainguard")
    }
    assert set(found) == wanted
    assert callable(found[("console_scripts", "trainguard")].load())
    assert found[("apache_airflow_provider", "provider_info")].load()()["name"] == "trainguard"
    assert found[("mlflow.dataset_source", "dvc")].load().__name__ == "DVCDatasetSource"
