"""Scale-out of the mapped gate on Airflow's Celery executor: 1 worker against 2.

    python bench/scale.py [--scale 0.5] [--shards 8] [--runs 1]

Starts the local stack of ``trainguard.stack`` (the docker-compose topology as
processes: PostgreSQL and Redis of this machine, MLflow server, scheduler, api-server,
dag-processor) with one Celery worker (concurrency 1), triggers pretraining_gate through
the REST API on the same demo corpus split into ``--shards`` shards, then adds a second
worker and does the same. Each configuration first runs once to warm its workers'
dataset caches; the measured runs follow. The "planted" revision is used: the gate scans
everything and decides, and no training time muddles the figure.

The gate's wall time is from the start of resolve_dataset_version to the end of gate.
From T1 and T2 Amdahl's law gives the serial fraction f = 2*T2/T1 - 1 and projects
T(N) = T1 * (f + (1 - f) / N). On this 2-core machine two workers also share two cores
with the scheduler, so the projection is a floor for machines with a core per worker.
The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
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

    return {
        "wall_s": (end - start).total_seconds(),
        "serial_tasks_s": sum(seconds(ti) for name in SERIAL_TASKS for ti in by_task[name]),
        "scan_task_s": statistics.mean(seconds(ti) for ti in scans),
        "scans": len(scans),
        "workers_used": len({ti["hostname"] for ti in scans}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1, help="measured runs per configuration")
    args = parser.parse_args()

    from trainguard.local.demo_data import DEMO_HASH_KEY, PRETRAINING, build_demo_repo
    from trainguard.local.stack import LocalStack

    workdir = Path(tempfile.mkdtemp(prefix="trainguard-scale-"))
    demo = build_demo_repo(workdir / "demo", scale=args.scale, pretraining_shards=args.shards)
    import pyarrow.parquet as pq

    records = sum(
        pq.ParquetFile(path).metadata.num_rows
        for path in (demo.repo / PRETRAINING / "records").glob("*.parquet")
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
        workdir / "stack", workers=1, extra_env={"TRAINGUARD_HASH_KEY": DEMO_HASH_KEY}
    ) as stack:
        for workers in (1, 2):
            if workers == 2:
                stack.start_worker(2)
            _measure(stack, conf)  # warm-up: every worker fetches the dataset version once
            runs = [_measure(stack, conf) for _ in range(args.runs)]
            results[workers] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"{workers} worker(s): gate wall {results[workers]['wall_s']:.1f} s "
                f"({results[workers]['scans']:.0f} scans on "
                f"{results[workers]['workers_used']:.0f} worker(s), "
                f"{results[workers]['scan_task_s']:.1f} s per scan task, serial tasks "
                f"{results[workers]['serial_tasks_s']:.1f} s)",
                flush=True,
            )
    one, two = results[1]["wall_s"], results[2]["wall_s"]
    speedup = one / two
    serial = min(1.0, max(0.0, 2 * two / one - 1))
    print(f"\ncorpus: {records:,} records in {args.shards} shards (scale {args.scale})")
    print(f"{'workers':>8} {'gate wall (s)':>14} {'speedup':>8}")
    print(f"{1:>8} {one:>14.1f} {1.0:>8.2f}   measured (baseline)")
    print(f"{2:>8} {two:>14.1f} {speedup:>8.2f}   measured")
    projected = {}
    for n in (4, 8, 16, 32):
        projected[n] = one * (serial + (1 - serial) / n)
        print(
            f"{n:>8} {projected[n]:>14.1f} {one / projected[n]:>8.2f}   projected "
            f"(Amdahl, serial fraction {serial:.2f})"
        )
    print(
        f"RESULT scale_1_worker_s={one:.1f} scale_2_workers_s={two:.1f} "
        f"speedup={speedup:.2f} serial_fraction={serial:.2f} "
        f"projected_8_workers_s={projected[8]:.1f} shards={args.shards}"
    )


if __name__ == "__main__":
    main()
