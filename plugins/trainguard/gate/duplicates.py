"""Near-duplicates across every shard, as the large-corpus deduplication pipelines do it.

1. ``spill_band_keys``: one pass over the scan files' MinHash signatures writes each
   record's 32 LSH band keys to disk, split into partitions by the key's high bits;
2. ``partition_pairs``: each partition (one at a time, or one mapped task each) groups
   its equal keys and pairs every bucket member with the bucket's earliest record;
3. ``confirm_duplicates``: the candidates' signature estimates, then the exact Jaccard
   similarity of their texts, joined into clusters named by their earliest record.

The pairs, their order and the clusters are those of ``minhash.near_duplicates`` with
every signature in memory (tests/unit/test_reduce.py compares them). Memory: one
partition, and 8-byte arrays plus ids for the records that have a candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import Duplicate
from trainguard.gate.scan_files import iter_scan_batches, read_texts

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from trainguard.gate.scan import ScanResources

# Band keys (17 bytes each, 32 per record) held by one partition: about 70 MB, and twice
# that while it is sorted.
PARTITION_ENTRIES = 4_000_000


def spill_band_keys(
    scan_dir: Path, names: list[str], offsets: list[int], folder: Path, partitions: int
) -> list[Path]:
    """Write every record's LSH band keys to ``partitions`` files by the key's high bits.

    One pass over the signatures; each file holds (key, band, global row) entries.
    """
    import numpy as np

    from trainguard.scanners.minhash import BANDS, NUM_PERM, band_keys

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"bands-{p:05d}.bin" for p in range(partitions)]
    handles = [path.open("wb") for path in paths]
    try:
        for index, row, record_batch in iter_scan_batches(scan_dir, names, ["signature"]):
            column = record_batch.column("signature")
            sigs = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, NUM_PERM)
            keys = band_keys(np.ascontiguousarray(sigs, dtype=np.uint32))
            entries = np.empty(keys.size, dtype=_band_entry())
            entries["key"] = keys.reshape(-1)
            entries["band"] = np.tile(np.arange(BANDS, dtype=np.uint8), len(sigs))
            entries["row"] = np.repeat(np.arange(len(sigs)) + offsets[index] + row, BANDS)
            owner = (entries["key"] >> np.uint64(40)) % np.uint64(partitions)
            for p in range(partitions):
                handles[p].write(entries[owner == p].tobytes())
    finally:
        for handle in handles:
            handle.close()
    return paths


def _band_entry() -> Any:
    """(band key, band, global row): one LSH bucket membership."""
    import numpy as np

    return np.dtype([("key", "<u8"), ("band", "u1"), ("row", "<i8")])


def partition_pairs(path: Path) -> np.ndarray:
    """(head, member) candidate pairs of one partition: records sharing a band key.

    Within a bucket each member is paired with the bucket's earliest record only, as
    ``minhash.candidate_pairs`` does; the signature estimate is checked later, on the
    candidates alone.
    """
    import numpy as np

    entries = np.fromfile(path, dtype=_band_entry())
    if len(entries) < 2:
        return np.empty((0, 2), dtype=np.int64)
    order = np.lexsort((entries["row"], entries["band"], entries["key"]))
    entries = entries[order]
    same = (entries["key"][1:] == entries["key"][:-1]) & (
        entries["band"][1:] == entries["band"][:-1]
    )
    starts = np.flatnonzero(np.r_[True, ~same])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(entries)]))
    heads = entries["row"][starts][group]  # rows are sorted within a bucket: first is min
    members = entries["row"]
    pairs = np.stack([heads, members], axis=1)[heads != members]
    return np.unique(pairs, axis=0) if len(pairs) else np.empty((0, 2), dtype=np.int64)


@dataclass
class _Candidates:
    """What the confirmation reads of the records in candidate pairs, by position in the
    sorted array of their global rows: numpy and lists, not a dict per record."""

    rows: np.ndarray
    signatures: np.ndarray  # (len(rows), 128) uint32
    record_ids: list[str]
    source_ids: list[str]


def _read_candidates(
    scan_dir: Path, names: list[str], offsets: list[int], wanted: np.ndarray
) -> _Candidates:
    """The signature, record id and source of each global row in ``wanted`` (sorted)."""
    import numpy as np

    from trainguard.scanners.minhash import NUM_PERM

    found = _Candidates(
        wanted, np.zeros((len(wanted), NUM_PERM), np.uint32), [""] * len(wanted), [""] * len(wanted)
    )
    for index, row, record_batch in iter_scan_batches(
        scan_dir, names, ["record_id", "source_id", "signature"]
    ):
        rows = np.arange(record_batch.num_rows) + offsets[index] + row
        chosen = np.flatnonzero(np.isin(rows, wanted))
        if not len(chosen):
            continue
        picked = record_batch.take(chosen)
        positions = np.searchsorted(wanted, rows[chosen])
        sigs = picked.column("signature").flatten().to_numpy(zero_copy_only=False)
        found.signatures[positions] = sigs.reshape(-1, NUM_PERM)
        for position, record_id, source_id in zip(
            positions.tolist(),
            picked.column("record_id").to_pylist(),
            picked.column("source_id").to_pylist(),
            strict=True,
        ):
            found.record_ids[position] = record_id
            found.source_ids[position] = source_id
    return found


def confirm_duplicates(
    resources: ScanResources,
    scan_dir: Path,
    names: list[str],
    offsets: list[int],
    pairs: np.ndarray,
) -> list[Duplicate]:
    """Clusters of near-duplicates from the candidate pairs (sorted): the signature
    estimate first, then the exact Jaccard similarity of the texts; each record names
    its cluster's earliest record."""
    import numpy as np

    from trainguard.scanners.minhash import ESTIMATE_MARGIN, jaccard, similarity

    if not len(pairs):
        return []
    threshold = resources.policy.quality.near_duplicate_similarity
    found = _read_candidates(scan_dir, names, offsets, np.unique(pairs))
    positions = np.searchsorted(found.rows, pairs)  # pairs by position, still sorted
    step = 65_536  # pairs compared at a time, so the compared signatures stay small
    estimate = np.concatenate(
        [
            similarity(
                found.signatures[positions[i : i + step, 1]],
                found.signatures[positions[i : i + step, 0]],
            )
            for i in range(0, len(positions), step)
        ]
    )
    close = positions[estimate >= threshold - ESTIMATE_MARGIN]
    del found.signatures
    needed = np.unique(close).tolist()
    text_of = read_texts(resources.dataset, [found.record_ids[i] for i in needed])
    parent = list(range(len(found.rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in close.tolist():
        if jaccard(text_of[found.record_ids[a]], text_of[found.record_ids[b]]) >= threshold:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the earliest record is the representative
    del text_of
    rows = found.rows.tolist()
    return [
        Duplicate(rows[i], found.record_ids[i], found.source_ids[i], found.record_ids[root])
        for i in range(len(rows))
        if (root := find(i)) != i
    ]


def find_duplicates(
    resources: ScanResources, scan_dir: Path, names: list[str], offsets: list[int], total: int
) -> list[Duplicate]:
    """Near-duplicates across every shard: spill, one partition at a time, confirm."""
    import shutil

    import numpy as np

    from trainguard.scanners.minhash import BANDS

    partitions = max(1, math.ceil(total * BANDS / PARTITION_ENTRIES))
    folder = scan_dir / "bands"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        paths = spill_band_keys(scan_dir, names, offsets, folder, partitions)
        found = [partition_pairs(path) for path in paths]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pairs = np.unique(np.concatenate(found), axis=0) if found else np.empty((0, 2), np.int64)
    return confirm_duplicates(resources, scan_dir, names, offsets, pairs)
