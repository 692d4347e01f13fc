"""The built wheel in a new, empty virtual environment: `trainguard scan` and a gate DAG.

Nothing from the checkout is on the path there: the GX suites, the policy, the lexicons
and the DAG files must all come out of the wheel (`trainguard dags install` copies the
DAGs into a DAGs folder of the test's own, as a team would into theirs). Dependencies are
pinned to uv.lock (`uv export`), so the run is the locked stack, installed from the
package index (uv's cache makes a repeat fast).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import clean_env
from dataset_factory import write_dataset

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]

GATE_SCRIPT = PROJECT / "tests" / "fixtures" / "gate_in_venv.py"  # also bench/install.py


def uv() -> str:
    found = shutil.which("uv") or str(PROJECT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to build the wheel (make test installs it into .tools/)")
    return found


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args), capture_output=True, text=True, check=False, timeout=1200, **kwargs
    )
    assert done.returncode == 0, f"{args[:3]}: {done.stdout[-1500:]}\n{done.stderr[-2500:]}"
    return done


def test_the_wheel_alone_scans_and_gates(tmp_path: Path) -> None:
    # Outside WORKDIR: the PI-leak test reads every file there, and a venv is not output.
    out = tmp_path / "wheel"
    run(uv(), "build", "--wheel", "--out-dir", str(out), "--quiet", cwd=PROJECT)
    [wheel] = sorted(out.glob("trainguard-*.whl"))
    constraints = out / "constraints.txt"
    exported = run(
        uv(), "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-dev", cwd=PROJECT
    )
    constraints.write_text(exported.stdout, encoding="utf-8")
    venv = tmp_path / "wheel-venv"
    env = {**clean_env(), "UV_PYTHON_DOWNLOADS": "never", "DVC_NO_ANALYTICS": "1"}
    started = time.monotonic()
    run(uv(), "venv", "--quiet", "--python", sys.executable, str(venv), env=env)
    python = str(venv / "bin" / "python")
    run(
        uv(),
        "pip",
        "install",
        "--quiet",
        "--compile-bytecode",  # as pip does by default: no process recompiles the stack
        "--python",
        python,
        str(wheel),
        "-c",
        str(constraints),
        env=env,
    )
    installed = time.monotonic()

    # Run from an empty folder: nothing of the checkout can be picked up by accident.
    here = tmp_path / "elsewhere"
    here.mkdir()
    where = run(python, "-c", "import trainguard; print(trainguard.__file__)", cwd=here, env=env)
    assert str(venv) in where.stdout and str(PROJECT) not in where.stdout

    dataset = write_dataset(tmp_path / "corpus")
    scan = subprocess.run(
        [str(venv / "bin" / "trainguard"), "scan", str(dataset), "--format", "json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=here,
        env={**env, "TRAINGUARD_HASH_KEY": "wheel-test-key"},
        timeout=600,
    )
    assert scan.returncode in (0, 1), scan.stderr[-2000:]
    report = json.loads(scan.stdout)
    assert report["decision"] in ("pass", "fail") and report["findings"]

    dags = tmp_path / "airflow-dags"
    dags.mkdir()
    run(str(venv / "bin" / "trainguard"), "dags", "install", str(dags), cwd=here, env=env)
    assert (dags / "pretraining_gate.py").is_file()
    assert not (dags / "example_ngram_training.py").exists()  # examples only when asked

    gate = run(python, str(GATE_SCRIPT), str(tmp_path / "home"), str(dags), cwd=here, env=env)
    outcome = json.loads(gate.stdout.strip().splitlines()[-1])
    finished = time.monotonic()
    assert outcome["state"] == "success" and outcome["train"] == ["success"], outcome
    assert outcome["dags"] == str(dags)
    assert outcome["suites"].startswith(str(venv))  # the wheel's GX suites
    timing = (
        f"wheel install {installed - started:.0f} s, scan + demo data + pretraining_gate "
        f"{finished - installed:.0f} s, install to finished gate {finished - started:.0f} s"
    )
    print(timing)
    assert os.path.getsize(wheel) > 0


@pytest.mark.lowest
def test_one_gate_dag_run_on_this_stack(tmp_path: Path) -> None:
    """One real pretraining_gate run (scan, GX gate, MLflow, training) on whatever stack
    runs the tests: `make test-lowest` runs it on the lowest versions pyproject allows."""
    import airflow
    import great_expectations
    import mlflow

    gate = run(
        sys.executable,
        str(GATE_SCRIPT),
        str(tmp_path / "home"),
        str(PROJECT / "dags"),
        env={**clean_env(), "DVC_NO_ANALYTICS": "1"},
    )
    outcome = json.loads(gate.stdout.strip().splitlines()[-1])
    stack = (
        f"Airflow {airflow.__version__}, MLflow {mlflow.__version__}, "
        f"GX {great_expectations.__version__}"
    )
    assert outcome["state"] == "success" and outcome["train"] == ["success"], (stack, outcome)
    print(f"pretraining_gate passed and trained on {stack}")
