"""Near-duplicates across every shard, as the large-corpus deduplication pipelines do it.

1. ``spill_band_keys``: one pass over the scan files' MinHash signatures writes each
   record's 32 LSH band keys to disk, split into partitions by the key's high bits;
2. ``partition_pairs``: each partition (one at a time, or one mapped task each) groups
   its equal keys and pairs every bucket member with the bucket's earliest record;
3. ``confirm_duplicates``: the candidates' signature estimates, then the exact Jaccard
   similarity of their texts, joined into clusters named by their earliest record.

The pairs and the clusters are those of ``minhash.near_duplicates`` with every signature
in memory (tests/unit/test_reduce.py compares them). Memory: one partition; 8 bytes per
candidate pair; the ids and texts of the records in close pairs; and the memory map of
every record's signature (512 bytes a record, page cache).
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
SIGNATURES = "signatures.u32"  # every record's signature, in global row order
# Candidate pairs estimated at a time. Their signatures are read through a memory map of
# the spilled file: its pages are the kernel's page cache, which it reclaims under memory
# pressure (they count in the resident set while mapped: up to 512 bytes per record).
ESTIMATE_PAIRS = 65_536


def spill_band_keys(
    scan_dir: Path, names: list[str], offsets: list[int], folder: Path, partitions: int
) -> list[Path]:
    """Write every record's LSH band keys to ``partitions`` files by the key's high bits.

    One pass over the signatures; each file holds (key, band, global row) entries. The
    signatures themselves are copied beside them in row order (``SIGNATURES``), for the
    estimates of the candidates.
    """
    import numpy as np

    from trainguard.scanners.minhash import BANDS, NUM_PERM, band_keys

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"bands-{p:05d}.bin" for p in range(partitions)]
    handles = [path.open("wb") for path in paths]
    signatures = (folder / SIGNATURES).open("wb")
    try:
        for index, row, record_batch in iter_scan_batches(scan_dir, names, ["signature"]):
            column = record_batch.column("signature")
            sigs = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, NUM_PERM)
            sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
            signatures.write(sigs.tobytes())
            keys = band_keys(sigs)
            entries = np.empty(keys.size, dtype=_band_entry())
            entries["key"] = keys.reshape(-1)
            entries["band"] = np.tile(np.arange(BANDS, dtype=np.uint8), len(sigs))
            entries["row"] = np.repeat(np.arange(len(sigs)) + offsets[index] + row, BANDS)
            owner = (entries["key"] >> np.uint64(40)) % np.uint64(partitions)
            for p in range(partitions):
                handles[p].write(entries[owner == p].tobytes())
    finally:
        signatures.close()
        for handle in handles:
            handle.close()
    return paths


def _band_entry() -> Any:
    """(band key, band, global row): one LSH bucket membership."""
    import numpy as np

    return np.dtype([("key", "<u8"), ("band", "u1"), ("row", "<i8")])


def partition_pairs(path: Path) -> np.ndarray:
    """The candidate pairs of one partition, as sorted unique ``head << 32 | member`` codes:
    records sharing a band key.

    Within a bucket each member is paired with the bucket's earliest record only, as
    ``minhash.candidate_pairs`` does; the signature estimate is checked later, on the
    candidates alone.
    """
    import numpy as np

    entries = np.fromfile(path, dtype=_band_entry())
    if len(entries) < 2:
        return np.empty(0, dtype=np.uint64)
    entries = entries[np.lexsort((entries["band"], entries["key"]))]
    same = (entries["key"][1:] == entries["key"][:-1]) & (
        entries["band"][1:] == entries["band"][:-1]
    )
    starts = np.flatnonzero(np.r_[True, ~same])
    sizes = np.diff(np.r_[starts, len(entries)])
    rows = entries["row"].astype(np.uint64)
    del entries
    heads = np.repeat(np.minimum.reduceat(rows, starts), sizes)  # each bucket's earliest
    codes = (heads << np.uint64(32)) | rows
    return sorted_unique(codes[heads != rows])


def sorted_unique(codes: np.ndarray) -> np.ndarray:
    """``np.unique`` of pair codes by a plain sort (numpy's hashing path is 10x slower)."""
    import numpy as np

    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes


@dataclass
class _Candidates:
    """The record id and source of each record in a confirmed-close pair, by position in
    the sorted array of their global rows: lists, not a dict per record."""

    rows: np.ndarray
    record_ids: list[str]
    source_ids: list[str]


def _read_candidates(
    scan_dir: Path, names: list[str], offsets: list[int], wanted: np.ndarray
) -> _Candidates:
    """The record id and source of each global row in ``wanted`` (sorted)."""
    import numpy as np

    found = _Candidates(wanted, [""] * len(wanted), [""] * len(wanted))
    for index, row, record_batch in iter_scan_batches(scan_dir, names, ["record_id", "source_id"]):
        rows = np.arange(record_batch.num_rows) + offsets[index] + row
        chosen = np.flatnonzero(np.isin(rows, wanted))
        if not len(chosen):
            continue
        picked = record_batch.take(chosen)
        for position, record_id, source_id in zip(
            np.searchsorted(wanted, rows[chosen]).tolist(),
            picked.column("record_id").to_pylist(),
            picked.column("source_id").to_pylist(),
            strict=True,
        ):
            found.record_ids[position] = record_id
            found.source_ids[position] = source_id
    return found


def close_pairs(codes: np.ndarray, signatures: Path, total: int, cutoff: float) -> np.ndarray:
    """The candidate pair codes whose signature estimate reaches ``cutoff``."""
    import numpy as np

    from trainguard.scanners.minhash import NUM_PERM, similarity

    if not len(codes):
        return codes
    mapped = np.memmap(signatures, dtype=np.uint32, mode="r", shape=(total, NUM_PERM))
    kept = []
    for start in range(0, len(codes), ESTIMATE_PAIRS):
        chunk = codes[start : start + ESTIMATE_PAIRS]
        heads = (chunk >> np.uint64(32)).astype(np.int64)
        members = (chunk & np.uint64(0xFFFFFFFF)).astype(np.int64)
        kept.append(chunk[similarity(mapped[members], mapped[heads]) >= cutoff])
    del mapped
    return np.concatenate(kept)


def confirm_duplicates(
    resources: ScanResources,
    scan_dir: Path,
    names: list[str],
    offsets: list[int],
    codes: np.ndarray,
) -> list[Duplicate]:
    """Clusters of near-duplicates from the close pair codes (``close_pairs``), confirmed
    by the exact Jaccard similarity of the texts; each record names its cluster's
    earliest record.

    A cluster is a connected component of confirmed pairs and its representative is its
    smallest row, whatever order the pairs are joined in; so a pair whose two records are
    already joined needs no Jaccard, which spares most of a large cluster's pairs.
    """
    import numpy as np

    from trainguard.scanners.minhash import jaccard

    if not len(codes):
        return []
    threshold = resources.policy.quality.near_duplicate_similarity
    pairs = np.stack([codes >> np.uint64(32), codes & np.uint64(0xFFFFFFFF)], axis=1)
    wanted = np.unique(pairs).astype(np.int64)
    found = _read_candidates(scan_dir, names, offsets, wanted)
    close = np.searchsorted(wanted, pairs.astype(np.int64))  # pairs by position
    del pairs
    needed = np.unique(close).tolist()
    text_of = read_texts(resources.dataset, [found.record_ids[i] for i in needed])
    parent = list(range(len(found.rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(close), ESTIMATE_PAIRS):  # slices: a list per pair is heavy
        for a, b in close[start : start + ESTIMATE_PAIRS].tolist():
            ra, rb = find(a), find(b)
            if ra == rb:
                continue  # already one cluster: this pair cannot change it
            if jaccard(text_of[found.record_ids[a]], text_of[found.record_ids[b]]) >= threshold:
                parent[max(ra, rb)] = min(ra, rb)  # the earliest is the representative
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
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np

    from trainguard.scanners.minhash import BANDS, ESTIMATE_MARGIN
    from trainguard.versioning import remove_dead_stagings, staging_prefix

    if total >= 2**32:  # a pair is coded in 64 bits, 32 per row
        from trainguard.exceptions import GateError

        raise GateError(
            f"{total:,} records in one dataset version: near-duplicate detection handles up "
            "to 4,294,967,295; split the dataset into versions by source"
        )
    partitions = max(1, math.ceil(total * BANDS / PARTITION_ENTRIES))
    # Its own folder: two gate runs of one version may reduce the same scans at once; one
    # that a killed reduce left (band keys and signatures, no text) goes now.
    remove_dead_stagings(scan_dir, "bands")
    folder = Path(tempfile.mkdtemp(prefix=staging_prefix("bands", os.getpid()), dir=scan_dir))
    try:
        paths = spill_band_keys(scan_dir, names, offsets, folder, partitions)
        codes = np.empty(0, np.uint64)
        for path in paths:  # a pair found in several bands is kept once
            codes = sorted_unique(np.concatenate([codes, partition_pairs(path)]))
            path.unlink()
        cutoff = resources.policy.quality.near_duplicate_similarity - ESTIMATE_MARGIN
        codes = close_pairs(codes, folder / SIGNATURES, total, cutoff)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return confirm_duplicates(resources, scan_dir, names, offsets, codes)
