"""The fan-in's memory: merging the shard partials of 10^6 and of 10^7 records.

Each shard of 200,000 records leaves a partial (``gate/reduce.py``): per-source counts,
the first offenders with their number, bottom-k samples by the keyed hash and a key
histogram. This benchmark generates the partials such shards would leave (three sources,
the default policy's sample sizes: 4,000 per source, 4,000 for the manual check, 2,000 for
diversity; keys drawn uniformly, as the keyed hash gives them), writes them as the scan
tasks do, then reads and merges them in shard order in a child process, and prints that child's
peak resident set and time: 5 shards (10^6 records) beside 50 shards (10^7 records), and
beside the baseline of a child that holds only each record's id and sampling key, the
least a reduce keeping one row per record would hold.

    python bench/reduce.py

Prints one ``RESULT`` line. The near-duplicate stage and the automated-sample passes read
the scan files themselves; their memory is measured by ``bench/memory.py``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

SHARD_RECORDS = 200_000
SOURCES = ("wiki", "books", "crawl")
CHECKS = ("pi.consent", "ip.optout", "ip.copyright", "quality.garbled", "quality.truncated")


def shard_partial(index: int, rng: random.Random) -> dict:
    """The partial a 200,000-record shard's scan would leave (``Partial.to_json``)."""
    from trainguard.checks.base import HISTOGRAM_BINS, Offenders, Partial, Sample

    partial = Partial(shard_records={index: SHARD_RECORDS})
    per_source = SHARD_RECORDS // len(SOURCES)

    def sample(size: int, records: int, payload: object) -> Sample:
        # The shard's `size` smallest of `records` uniform keys: an order statistic apart.
        keys = sorted(rng.random() * size * 2 / records for _ in range(size))
        rows = rng.sample(range(SHARD_RECORDS), size)
        return Sample(size, [(k, index, r, payload(r)) for k, r in zip(keys, rows, strict=True)])

    for source in SOURCES:
        partial.count(f"records:{source}", per_source)
        partial.count(f"pi:{source}:phone:False", rng.randrange(1_000))
        partial.label(f"languages:{source}", ["en", "zh"])
        for check in CHECKS:
            partial.offenders[f"{check}:{source}"] = Offenders(
                [f"s{index}-r{i}" for i in range(100)], rng.randrange(100, 5_000)
            )
        partial.samples[f"harmful:{source}"] = sample(
            4_000, per_source, lambda r: [f"s{index}-r{r}", False, rng.random()]
        )
    partial.samples["manual"] = sample(4_000, SHARD_RECORDS, lambda r: f"s{index}-r{r}")
    partial.samples["diversity"] = sample(2_000, SHARD_RECORDS, lambda r: f"s{index}-r{r}")
    per_bin = SHARD_RECORDS // HISTOGRAM_BINS
    partial.histogram = [per_bin] * HISTOGRAM_BINS
    return partial.to_json()


MERGE = """
import json, sys, time
from pathlib import Path
from trainguard.checks.base import Partial
from trainguard.gate.reduce import merge_partials
started = time.perf_counter()
paths = sorted(Path(sys.argv[1]).glob("partial-*.json"))
merged = merge_partials(Partial.from_json(json.loads(p.read_text())) for p in paths)
assert merged.records == len(paths) * 200_000
print(time.perf_counter() - started)
"""


# The baseline: the least a reduce that holds one row per record keeps (the single-process
# reduce this replaced held about 1.9 KB per record): each record's id and sampling key.
PER_RECORD = """
import sys, time
import numpy as np
import pyarrow as pa
started = time.perf_counter()
n = int(sys.argv[2])
ids = pa.array([f"s{i // 200_000}-r{i % 200_000}" for i in range(n)], pa.string())
keys = np.random.default_rng(1).random(n)
print(time.perf_counter() - started)
"""


def merge_in_child(folder: Path, *, baseline: int = 0) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of reading and merging every partial in ``folder``; with
    ``baseline``, of holding that many records' ids and keys instead."""
    code = PER_RECORD if baseline else MERGE
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), str(baseline)], stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("the merge failed")
    return usage.ru_maxrss / 1024, float(child.stdout.read())


def main() -> None:
    rng = random.Random(19)
    print(
        f"{'records':>12} {'shards':>7} {'partials MB':>12} {'peak RSS MB':>12} {'seconds':>8}"
        f" {'per-record MB':>14}"
    )
    figures = {}
    with tempfile.TemporaryDirectory(prefix="tg-bench-reduce-") as folder:
        base = Path(folder)
        for shards in (5, 50):
            target = base / f"s{shards}"
            target.mkdir()
            for index in range(shards):
                path = target / f"partial-scan-part-{index:05d}.json"
                path.write_text(json.dumps(shard_partial(index, rng)), encoding="utf-8")
            size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
            peak, seconds = merge_in_child(target)
            records = shards * SHARD_RECORDS
            floor, _ = merge_in_child(target, baseline=records)
            print(
                f"{records:>12,} {shards:>7} {size:>12.1f} {peak:>12.0f} {seconds:>8.2f}"
                f" {floor:>14.0f}"
            )
            figures[f"e{len(str(records)) - 1}"] = (round(peak), round(seconds, 2), round(floor))
    print(
        "RESULT "
        + " ".join(
            f"peak_mb_{k}_records={peak} merge_s_{k}_records={seconds} per_record_mb_{k}={floor}"
            for k, (peak, seconds, floor) in figures.items()
        )
    )


if __name__ == "__main__":
    main()
