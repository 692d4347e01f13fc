"""The near-duplicate stages in one process, and as the DAG's mapped groups on N processes.

    python bench/duplicate_stages.py [--records 500000] [--processes 2]

Writes a dataset from the hand-written sentences of tests/fixtures (one sentence and a
numeral per record, so most records nearly duplicate another: the heavy case), scans it
once, then finds its near-duplicates twice on the same scans:

- baseline: ``find_duplicates`` in this process, as ``trainguard scan`` does;
- staged: ``plan_stages`` once, then ``pairs_stage`` and ``windows_stage`` for every group
  spread over ``--processes`` forked processes (what the mapped tasks do on as many
  workers), then the gate's confirmation from their folder.

Prints each stage's wall time, checks that both find the same rows and representatives,
and ends with a RESULT line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TRAINGUARD_HASH_KEY", "bench-duplicate-stages-0123456789abcdef")

_STAGE: tuple | None = None  # (folder, plan, cutoff), inherited by the forked processes


def _run(stage: str, group: int) -> None:
    from trainguard.gate.duplicates import pairs_stage, windows_stage

    assert _STAGE is not None
    folder, plan, cutoff = _STAGE
    if stage == "pairs":
        pairs_stage(folder, plan, group)
    else:
        windows_stage(folder, plan, group, cutoff)


def main() -> None:
    global _STAGE
    import multiprocessing

    from memory import write

    from trainguard.gate.decide import SHARDS_DIR, scan_shards
    from trainguard.gate.duplicates import MAX_GROUPS, find_duplicates, plan_stages
    from trainguard.gate.reduce import merged_scans
    from trainguard.gate.scan import ScanResources
    from trainguard.policy import load_policy
    from trainguard.scanners.minhash import ESTIMATE_MARGIN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-bench-stages-") as folder:
        base = Path(folder)
        dataset = write(base / "d", count=args.records)
        resources = ScanResources.build(dataset, load_policy(None))
        counts = dict(resources.dataset.validate_records().by_source)
        scans = base / "work" / SHARDS_DIR
        scan_shards(resources, scans, counts, workers=args.processes)
        names, offsets, partial = merged_scans(resources, scans)

        started = time.perf_counter()
        with find_duplicates(resources, scans, names, offsets, partial.records) as found:
            baseline = (found.rows.copy(), found.representatives.copy())
        baseline_s = time.perf_counter() - started

        staged = base / "staged"
        staged.mkdir()
        timings = {}
        started = time.perf_counter()
        plan = plan_stages(scans, names, offsets, partial.records, staged, groups=MAX_GROUPS)
        timings["plan"] = time.perf_counter() - started
        cutoff = resources.policy.quality.near_duplicate_similarity - ESTIMATE_MARGIN
        _STAGE = (staged, plan, cutoff)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(args.processes, mp_context=context) as pool:
            for stage in ("pairs", "windows"):
                begun = time.perf_counter()
                list(pool.map(_run, [stage] * plan.groups, range(plan.groups)))
                timings[stage] = time.perf_counter() - begun
        begun = time.perf_counter()
        with find_duplicates(
            resources, scans, names, offsets, partial.records, staged=staged
        ) as found:
            assert found.mapped_groups == plan.groups, "the staged folder was not used"
            same = (found.rows == baseline[0]).all() and (
                found.representatives == baseline[1]
            ).all()
        timings["confirm"] = time.perf_counter() - begun
        staged_s = sum(timings.values())
    print(f"{args.records:,} records, {len(baseline[0]):,} near-duplicates, {plan.groups} groups")
    print(f"{'baseline: one process':<34} {baseline_s:>8.1f} s")
    for name, seconds in timings.items():
        print(f"{'staged: ' + name:<34} {seconds:>8.1f} s")
    print(f"{f'staged total, {args.processes} processes':<34} {staged_s:>8.1f} s")
    print(
        f"RESULT records={args.records} groups={plan.groups} baseline_s={baseline_s:.1f} "
        f"staged_s={staged_s:.1f} confirm_s={timings['confirm']:.1f} "
        f"speedup={baseline_s / staged_s:.2f} same={bool(same)}"
    )


if __name__ == "__main__":
    main()
