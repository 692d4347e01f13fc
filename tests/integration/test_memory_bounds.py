"""Peak memory of the scan and the reduce does not grow with the record count (issue 18).

Each case runs in a child process (a fresh heap): it builds the scan's resources, notes
its resident set, resets the kernel's high-water mark (``/proc/self/clear_refs``), scans
the dataset's shards and reduces them (the stages whose memory could grow with the data;
GX's suites and Data Docs read per-source tables) and reports how far above the start the
high-water mark rose. The datasets are hand-written sentences (tests/fixtures), each used
many times with a different numeral: nearly every record is a near-duplicate of another,
the worst case for the near-duplicate stage. Before the shard pass wrote a batch at a time
and the near-duplicate stage spilled to disk, the larger case rose 297 MB higher.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from dataset_factory import fixture_sentences, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

CHILD = """
import json, os, sys
from pathlib import Path
from trainguard.gate.decide import SHARDS_DIR, decide
from trainguard.gate.reduce import reduce_scans
from trainguard.gate.scan import ScanResources, scan_shard
from trainguard.policy import load_policy

def status(key):
    with open("/proc/self/status") as handle:
        return next(int(l.split()[1]) for l in handle if l.startswith(key + ":")) / 1024

dataset, work = Path(sys.argv[1]), Path(sys.argv[2])
resources = ScanResources.build(dataset, load_policy(None))
counts = dict(resources.dataset.validate_records().by_source)
start = status("VmRSS")
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # the high-water mark restarts from here
for shard in resources.dataset.shards:
    scan_shard(resources, shard, work / SHARDS_DIR, source_records=counts)
result = reduce_scans(resources, work / SHARDS_DIR)
print(json.dumps({"rise_mb": status("VmHWM") - start,
                  "near_duplicates": result.metrics["scan.near_duplicates"]}))
"""


def rise(tmp_path: Path, records: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = fixture_sentences()
    root = write_dataset(
        tmp_path / f"d{records}", records=[{"record_id": "x", "source_id": "wiki", "text": "x"}]
    )
    for old in (root / "records").iterdir():
        old.unlink()
    pq.write_table(  # one shard: the shard pass must not hold it whole either
        pa.table(
            {
                "record_id": [f"t{i:08d}" for i in range(records)],
                "source_id": [("wiki", "books", "crawl")[i % 3] for i in range(records)],
                "text": [f"{lines[(i * 7) % len(lines)]} #{i}" for i in range(records)],
            }
        ),
        root / "records" / "part-000.parquet",
    )
    (root / "review" / "manual_verdicts.csv").write_text(  # the spot check names records
        "record_id,reviewer_id,verdict,reviewed_at\n"
        + "".join(f"t{i:08d},rev1,pass,2026-01-01T00:00:00\n" for i in range(4000)),
        encoding="utf-8",
    )
    env = dict(
        os.environ,
        TRAINGUARD_BATCH_ROWS="2000",
        TRAINGUARD_HASH_KEY="memory-test-key-0123456789abcdef",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(tmp_path / f"w{records}")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK),
    reason="resetting the peak resident set needs a writable /proc/self/clear_refs (Linux)",
)
def test_peak_memory_does_not_grow_with_the_record_count(tmp_path: Path) -> None:
    small, large = rise(tmp_path, 20_000), rise(tmp_path, 200_000)
    assert small["near_duplicates"] > 16_000 and large["near_duplicates"] > 160_000
    # 180,000 more records: under 140 bytes each even counting the allocator's noise (the
    # union-find keeps 4 bytes and a mark 1 byte per record; the rest is batch-bounded).
    assert large["rise_mb"] - small["rise_mb"] < 25, (small, large)
