"""From `pip install` of the built wheel to a finished gate, in a new venv, cold and warm.

Prints, side by side on the same wheel in the same run: `pip install --no-cache-dir`
(cold: every package downloaded from the index), `uv pip install` with an empty cache
(cold) and with the machine's cache (warm), each pinned to uv.lock (`uv export`); then,
in the pip venv, `trainguard scan` of a small dataset and one `pretraining_gate` DAG run
(tests/fixtures/gate_in_venv.py: demo data at scale 0.1, scan, GX gate, MLflow, training).

    python bench/install.py [--keep]      # about 8 minutes on this 2-core machine
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
UV = shutil.which("uv") or str(PROJECT / ".tools" / "bin" / "uv")


def timed(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    started = time.monotonic()
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the venvs (printed)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trainguard-install-bench-"))
    # The machine's environment (index URLs, certificates, proxies), without any store.
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TRAINGUARD_", "MLFLOW_", "AIRFLOW_"))
        },
        "UV_PYTHON_DOWNLOADS": "never",
        "DVC_NO_ANALYTICS": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    wheel_dir = scratch / "wheel"
    timed(UV, "build", "--wheel", "--out-dir", str(wheel_dir), "--quiet", cwd=PROJECT)
    [wheel] = sorted(wheel_dir.glob("trainguard-*.whl"))
    exported = subprocess.run(
        [UV, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-dev"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=True,
    ).stdout
    constraints = scratch / "constraints.txt"
    constraints.write_text(exported, encoding="utf-8")

    seconds: dict[str, float] = {}
    pip_venv = scratch / "pip-venv"
    seconds["venv"] = timed(sys.executable, "-m", "venv", str(pip_venv), env=env)
    seconds["pip cold"] = timed(
        str(pip_venv / "bin" / "pip"), "install", "--no-cache-dir", "--quiet",
        str(wheel), "-c", str(constraints), env=env,
    )  # fmt: skip
    for label, cache in (("uv cold", scratch / "empty-uv-cache"), ("uv warm", None)):
        venv = scratch / label.replace(" ", "-")
        timed(UV, "venv", "--quiet", "--python", sys.executable, str(venv), env=env)
        uv_env = {**env, **({"UV_CACHE_DIR": str(cache)} if cache else {})}  # else the machine's
        seconds[label] = timed(
            UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
            str(wheel), "-c", str(constraints), env=uv_env,
        )  # fmt: skip

    sys.path.insert(0, str(PROJECT / "tests"))
    from dataset_factory import write_dataset

    dataset = write_dataset(scratch / "corpus")
    elsewhere = scratch / "elsewhere"
    elsewhere.mkdir()
    trainguard = str(pip_venv / "bin" / "trainguard")
    started = time.monotonic()
    scan = subprocess.run(
        [trainguard, "scan", str(dataset), "--format", "json", "--quiet"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={**env, "TRAINGUARD_HASH_KEY": "bench-key"},
        check=False,
    )
    seconds["scan"] = time.monotonic() - started
    if scan.returncode not in (0, 1):
        sys.exit(f"scan failed: {scan.stderr[-2000:]}")
    dags = scratch / "dags"
    dags.mkdir()
    seconds["dags install"] = timed(trainguard, "dags", "install", str(dags), env=env)
    started = time.monotonic()
    gate = subprocess.run(
        [
            str(pip_venv / "bin" / "python"),
            str(PROJECT / "tests" / "fixtures" / "gate_in_venv.py"),
            str(scratch / "gate-home"),
            str(dags),
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        check=False,
    )
    seconds["gate"] = time.monotonic() - started
    outcome = json.loads(gate.stdout.strip().splitlines()[-1]) if gate.returncode == 0 else {}
    if outcome.get("state") != "success":
        sys.exit(f"gate did not finish: {gate.stdout[-1500:]}\n{gate.stderr[-2500:]}")

    pinned = [line for line in exported.splitlines() if line and not line.startswith((" ", "#"))]
    print(f"wheel {wheel.name}, {len(pinned)} pinned requirements")
    print(f"{'install':<38}{'seconds':>8}")
    for label in ("pip cold", "uv cold", "uv warm"):
        print(f"  {label + ' (new venv, pinned to uv.lock)':<36}{seconds[label]:>8.0f}")
    print(f"{'then, in the pip venv':<38}")
    print(f"  {'trainguard scan (30 records)':<36}{seconds['scan']:>8.0f}")
    print(f"  {'pretraining_gate (demo data 0.1)':<36}{seconds['gate']:>8.0f}")
    total = seconds["venv"] + seconds["pip cold"] + seconds["dags install"] + seconds["gate"]
    print(
        f"RESULT pip_cold_s={seconds['pip cold']:.0f} uv_cold_s={seconds['uv cold']:.0f} "
        f"uv_warm_s={seconds['uv warm']:.0f} scan_s={seconds['scan']:.0f} "
        f"gate_s={seconds['gate']:.0f} pip_install_to_finished_gate_s={total:.0f}"
    )
    if args.keep:
        print(f"kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
