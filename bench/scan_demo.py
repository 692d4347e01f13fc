"""`trainguard scan` of the demo's 22,300-record pre-training set: the whole command, warm.

    python bench/scan_demo.py [--rounds 5]

Builds the demo repository (its operator policy trains a harmful-content classifier), then
times the real CLI, each in a fresh process, in interleaved rounds on the same files:

- the baseline: the classifier fitted in the process (an empty ``$TRAINGUARD_HOME``, as
  every process did before fits were kept) and every shard scanned in the one process
  (``--workers 1``), which is how `trainguard scan` ran before;
- the kept fit, one process (``--workers 1``);
- the kept fit and the shards scanned by forked workers (the default: the cores here).

Wall seconds are medians over the rounds; CPU seconds are the process tree's user +
system time. The three give the same report (checked). The issue's target is under 6 s
warm. The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_scan(dataset: Path, policy: Path, home: Path, workers: int) -> tuple[float, float, dict]:
    """(wall s, CPU s, report) of one `trainguard scan` in a fresh process."""
    from trainguard.local.demo_data import DEMO_HASH_KEY

    env = {**os.environ, "TRAINGUARD_HOME": str(home), "TRAINGUARD_HASH_KEY": DEMO_HASH_KEY}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "trainguard.cli", "scan", str(dataset)]
    options = ["--policy", str(policy), "--format", "json", "--quiet", "--workers", str(workers)]
    done = subprocess.run(
        [*command, *options],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"trainguard scan failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads(done.stdout)
    for finding in report["findings"]:
        finding.pop("data_docs", None)
    return wall, cpu, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from trainguard.local.demo_data import build_demo_repo

    work = Path(tempfile.mkdtemp(prefix="trainguard-bench-scan-demo-"))
    try:
        demo = build_demo_repo(work / "demo")
        dataset = demo.repo / "datasets" / "pretraining"
        cores = len(os.sched_getaffinity(0))
        kept = work / "home-kept"
        run_scan(dataset, demo.policy, kept, 1)  # keeps the fit; warms the page cache
        cases = {
            "baseline: fit in process, 1 process": (None, 1),
            "kept fit, 1 process": (kept, 1),
            f"kept fit, {cores} workers": (kept, cores),
        }
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        reports = []
        for round_number in range(args.rounds):
            for name, (home, workers) in cases.items():
                fresh = work / f"home-empty-{round_number}"
                wall, cpu, report = run_scan(dataset, demo.policy, home or fresh, workers)
                walls[name].append(wall)
                cpus[name].append(cpu)
                reports.append(report)
        same = all(r == reports[0] for r in reports)
        print(f"demo pre-training set: {dataset} ({cores} cores), {args.rounds} rounds")
        for name in cases:
            print(
                f"{name:40} {statistics.median(walls[name]):6.2f} s wall "
                f"{statistics.median(cpus[name]):6.2f} s CPU"
            )
        print(f"reports identical across cases and rounds: {same}")
        base = statistics.median(walls["baseline: fit in process, 1 process"])
        one = statistics.median(walls["kept fit, 1 process"])
        best = statistics.median(walls[f"kept fit, {cores} workers"])
        print(
            f"RESULT scan_demo_s={best:.2f} scan_demo_1_process_s={one:.2f} "
            f"baseline_s={base:.2f} speedup={base / best:.2f} target_s=6 "
            f"met={best < 6} same_reports={same}"
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
