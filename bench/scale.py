"""Scale-out of the mapped gate on Airflow's Celery executor, beside one process.

    python bench/scale.py [--scale 45] [--shards 16] [--workers 1,4] [--runs 1]

At the default scale the corpus is the demo's, about 1,000,000 records ("planted": the
gate scans everything and decides, and no training time muddles the figure), split into
``--shards`` Parquet shards. Baseline: ``trainguard scan`` of the same revision in one
process (``--workers 1``: every shard, the fan-in and the suites), its wall time and peak
resident set (``wait4``). Then the local stack of ``trainguard.local.stack`` (the
docker-compose topology as processes: PostgreSQL and Redis of this machine, MLflow
server, scheduler, api-server, dag-processor) with each count of Celery workers
(concurrency 1) in ``--workers``: pretraining_gate triggered through the REST API, once
to warm new workers' dataset caches, then the measured runs.

The gate's wall time is from the start of resolve_dataset_version to the end of gate.
The gate task's peak resident set and seconds are its MLflow metrics
``gate.task.peak_rss_mb`` and ``gate.task.seconds``. From the 1- and 2-worker figures
(or the two smallest counts) Amdahl's law gives the serial fraction and projects larger
counts. This machine has 2 cores shared with the scheduler, api-server and MLflow
server, so counts above 2 measure contention, not speedup; the projection is a floor for
machines with a core per worker. The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

SERIAL_TASKS = ("resolve_dataset_version", "list_shards", "gate")


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _measure(stack: Any, conf: dict[str, Any]) -> dict[str, float]:
    run_id = stack.trigger("pretraining_gate", conf)
    stack.wait_for_run("pretraining_gate", run_id)
    tis = stack.task_instances("pretraining_gate", run_id)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for ti in tis:
        if ti["start_date"] and ti["end_date"]:
            by_task.setdefault(ti["task_id"], []).append(ti)
    start = min(_when(ti["start_date"]) for ti in by_task["resolve_dataset_version"])
    end = max(_when(ti["end_date"]) for ti in by_task["gate"])
    scans = by_task["scan_shard"]

    def seconds(ti: dict[str, Any]) -> float:
        return (_when(ti["end_date"]) - _when(ti["start_date"])).total_seconds()

    quoted = urllib.parse.quote(run_id, safe="")
    xcom = stack.call(
        "GET",
        f"/dags/pretraining_gate/dagRuns/{quoted}/taskInstances/gate/xcomEntries/gate_failed",
    )
    gate_run = (json.loads(xcom["value"]) if isinstance(xcom["value"], str) else xcom["value"])[
        "gate_run_id"
    ]
    from mlflow import MlflowClient

    metrics = MlflowClient(tracking_uri=stack.mlflow).get_run(gate_run).data.metrics
    return {
        "gate_task_peak_mb": metrics["gate.task.peak_rss_mb"],
        "gate_task_s": metrics["gate.task.seconds"],
        "wall_s": (end - start).total_seconds(),
        "serial_tasks_s": sum(seconds(ti) for name in SERIAL_TASKS for ti in by_task[name]),
        "scan_task_s": statistics.mean(seconds(ti) for ti in scans),
        "scans": len(scans),
        "workers_used": len({ti["hostname"] for ti in scans}),
    }


def _one_process(demo: Any, records_path: str, hash_key: str) -> dict[str, float]:
    """`trainguard scan` of the planted revision in one process: wall time, peak RSS."""
    from trainguard.versioning import run_tool

    run_tool(["git", "checkout", "--quiet", "planted"], demo.repo, "checkout")
    run_tool(["dvc", "checkout", "--quiet"], demo.repo, "dvc checkout")
    cli = Path(sys.executable).parent / "trainguard"
    env = dict(os.environ, TRAINGUARD_HASH_KEY=hash_key, TRAINGUARD_HOME=str(demo.repo.parent))
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            *(str(cli), "scan", str(demo.repo / records_path), "--policy", str(demo.policy)),
            *("--quiet", "--format", "json", "--workers", "1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"trainguard scan exited {code}: {child.stderr.read().decode()[-2000:]}")
    return {"wall_s": time.perf_counter() - started, "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=45.0, help="45: about 10^6 records")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--workers", default="1,4", help="Celery worker counts, ascending")
    parser.add_argument("--runs", type=int, default=1, help="measured runs per configuration")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.workers.split(",")})

    from trainguard.local.demo_data import DEMO_HASH_KEY, PRETRAINING, build_demo_repo
    from trainguard.local.stack import LocalStack

    workdir = Path(tempfile.mkdtemp(prefix="trainguard-scale-"))
    demo = build_demo_repo(workdir / "demo", scale=args.scale, pretraining_shards=args.shards)
    import pyarrow.parquet as pq

    records = sum(
        pq.ParquetFile(path).metadata.num_rows
        for path in (demo.repo / PRETRAINING / "records").glob("*.parquet")
    )
    print(f"corpus: {records:,} records in {args.shards} shards (scale {args.scale})", flush=True)
    alone = _one_process(demo, PRETRAINING, DEMO_HASH_KEY)
    print(
        f"one process (trainguard scan --workers 1): {alone['wall_s']:.1f} s, "
        f"peak {alone['peak_mb']:.0f} MB",
        flush=True,
    )
    conf = {
        "repo": str(demo.repo),
        "path": PRETRAINING,
        "rev": "planted",
        "policy": str(demo.policy),
        "model_name": "scale-bench",
    }
    results: dict[int, dict[str, float]] = {}
    with LocalStack(
        workdir / "stack", workers=counts[0], extra_env={"TRAINGUARD_HASH_KEY": DEMO_HASH_KEY}
    ) as stack:
        running = counts[0]
        for workers in counts:
            while running < workers:
                running += 1
                stack.start_worker(running)
            _measure(stack, conf)  # warm-up: every worker fetches the dataset version once
            runs = [_measure(stack, conf) for _ in range(args.runs)]
            results[workers] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            found = results[workers]
            print(
                f"{workers} worker(s): gate wall {found['wall_s']:.1f} s ({found['scans']:.0f} "
                f"scans on {found['workers_used']:.0f} worker(s), {found['scan_task_s']:.1f} s "
                f"per scan task, serial tasks {found['serial_tasks_s']:.1f} s; gate task "
                f"{found['gate_task_s']:.1f} s, peak {found['gate_task_peak_mb']:.0f} MB)",
                flush=True,
            )
    _print_table(records, args.shards, alone, results)


def _print_table(
    records: int, shards: int, alone: dict[str, float], results: dict[int, dict[str, float]]
) -> None:
    print(f"\n{records:,} records in {shards} shards")
    print(f"{'':>26} {'gate wall (s)':>14} {'gate task (s)':>14} {'gate task peak MB':>18}")
    print(
        f"{'one process (baseline)':>26} {alone['wall_s']:>14.1f} {alone['wall_s']:>14.1f} "
        f"{alone['peak_mb']:>18.0f}"
    )
    for workers, found in results.items():
        print(
            f"{f'{workers} Celery worker(s)':>26} {found['wall_s']:>14.1f} "
            f"{found['gate_task_s']:>14.1f} {found['gate_task_peak_mb']:>18.0f}"
        )
    one = results.get(1, {}).get("wall_s")
    more = [n for n in results if n > 1]
    serial = None
    if one and more:
        n = more[0]
        serial = min(1.0, max(0.0, (n * results[n]["wall_s"] / one - 1) / (n - 1)))
        for target in (8, 16, 32):
            projected = one * (serial + (1 - serial) / target)
            print(
                f"{f'{target} workers, projected':>26} {projected:>14.1f}   (Amdahl, serial "
                f"fraction {serial:.2f} from 1 and {n} workers)"
            )
    figures = " ".join(
        f"workers_{n}_s={found['wall_s']:.1f} "
        f"workers_{n}_gate_peak_mb={found['gate_task_peak_mb']:.0f}"
        for n, found in results.items()
    )
    print(
        f"RESULT records={records} one_process_s={alone['wall_s']:.1f} "
        f"one_process_peak_mb={alone['peak_mb']:.0f} {figures}"
        + (f" serial_fraction={serial:.2f}" if serial is not None else "")
    )


if __name__ == "__main__":
    main()
