"""Near-duplicates across every shard, as the large-corpus deduplication pipelines do it.

1. ``spill_band_keys``: one pass over the scan files' MinHash signatures writes each
   record's 32 LSH band keys to disk, split into partitions by the key's high bits;
2. each partition (one at a time): ``partition_pairs`` groups its equal keys and pairs
   every bucket member with the bucket's earliest record; ``spill_by_member`` files the
   pairs by the member's window of rows;
   each window (one at a time): ``close_pairs`` reads the window's signatures in one
   sequential read and keeps the pairs whose signature estimate is close;
3. ``_spill_texts``: the squeezed texts of the records in close pairs, copied to disk;
4. ``_clusters``: every close pair confirmed by the exact Jaccard similarity of the two
   texts (read back one at a time) and joined into clusters named by their earliest record;
5. ``_name``: one pass over the scan files gives each source's count and first record ids,
   and spills the ids of the clusters' earliest records for the annotations file.

The clusters are those of ``minhash.near_duplicates`` with every signature and text in
memory (tests/unit/test_reduce.py compares them). Memory is bounded by the batch size
(``TRAINGUARD_BATCH_ROWS``): a partition of ``32 x batch`` band keys, a window of
``batch`` signatures, a chunk of ``batch / 8`` pairs, a batch of the scan files. Per
record it keeps the 4-byte parent of the union-find and a 1-byte mark, plus 16 bytes
per record in a close pair and 24 per near-duplicate: at most about 45 MB per million
records, against 600 MB before.

The stages up to the confirmation may run as mapped Airflow tasks (``plan_stages`` once,
then ``pairs_stage`` and ``windows_stage`` for each of up to 32 groups), sharing a folder.

Kept as one module (about 600 lines): its stages pass one another files whose layout
only they know (band entries, pair codes by member window, spilled strings by position).
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import Offenders
from trainguard.gate.scan_files import SHARD_PREFIX, iter_scan_batches, joined_text
from trainguard.settings import batch_rows

if TYPE_CHECKING:
    from array import array
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np

    from trainguard.gate.scan import ScanResources

SIGNATURES = "signatures.u32"  # every record's signature, in global row order


def partition_entries() -> int:
    """Band keys (17 bytes each, 32 per record) one partition holds: a batch's worth
    (36 MB at the default batch, about three times that while sorted and paired)."""
    from trainguard.scanners.minhash import BANDS

    return BANDS * batch_rows()


def estimate_pairs() -> int:
    """Pairs handled at a time when estimating (a chunk's distinct heads are read together)
    and when confirming: 8,192 at the default batch."""
    return max(1, batch_rows() // 8)


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


def _split(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(heads, members) of pair codes, as int64 rows."""
    import numpy as np

    heads = (codes >> np.uint64(32)).astype(np.int64)
    members = (codes & np.uint64(0xFFFFFFFF)).astype(np.int64)
    return heads, members


def spill_by_member(codes: np.ndarray, folder: Path, window: int, suffix: str) -> None:
    """Append pair codes to ``window-<w><suffix>`` by their member's row window (``window``
    rows each), so each window's signatures are read once, in order."""
    import numpy as np

    if not len(codes):
        return
    owner = (codes & np.uint64(0xFFFFFFFF)) // np.uint64(window)
    order = np.argsort(owner, kind="stable")
    owner, codes = owner[order], codes[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(codes)], strict=True):
        with (folder / f"window-{int(owner[lo]):06d}{suffix}").open("ab") as handle:
            handle.write(codes[lo:hi].tobytes())


def close_pairs(
    codes: np.ndarray, signatures: Path, first: int, window: int, cutoff: float
) -> np.ndarray:
    """The pair codes of one member window (rows ``first`` to ``first + window``) whose
    signature estimate reaches ``cutoff``.

    The window's member signatures are one sequential read; each chunk's distinct heads
    (a bucket's earliest record: few, since the codes are sorted by head) are read one by
    one. Nothing is memory-mapped: a mapped page counts in the resident set, and on a
    file system with large folios one scattered read maps megabytes.
    """
    import numpy as np

    from trainguard.scanners.minhash import NUM_PERM, similarity

    if not len(codes):
        return codes
    row_bytes = NUM_PERM * 4
    block = np.fromfile(
        signatures, dtype=np.uint32, count=window * NUM_PERM, offset=first * row_bytes
    ).reshape(-1, NUM_PERM)
    kept = []
    step = estimate_pairs()
    fd = os.open(signatures, os.O_RDONLY)
    try:
        for start in range(0, len(codes), step):
            chunk = codes[start : start + step]
            heads, members = _split(chunk)
            distinct, where = np.unique(heads, return_inverse=True)
            data = b"".join(os.pread(fd, row_bytes, row * row_bytes) for row in distinct.tolist())
            head_sigs = np.frombuffer(data, dtype=np.uint32).reshape(-1, NUM_PERM)
            close = similarity(block[members - first], head_sigs[where]) >= cutoff
            kept.append(chunk[close])
    finally:
        os.close(fd)
    return np.concatenate(kept)


class _Spill:
    """Strings written to a file in order and read back by position, one ``pread`` each:
    nothing but an offset per string stays in memory."""

    def __init__(self, path: Path) -> None:
        from array import array

        self.path = path
        self._writer: Any = path.open("wb")
        self._ends = array("q")  # where each string ends: 8 bytes, not a Python int, each
        self._size = 0
        self._fd = -1

    def write(self, values: list[str]) -> None:
        for value in values:
            data = value.encode("utf-8", "surrogatepass")
            self._writer.write(data)
            self._size += len(data)
            self._ends.append(self._size)

    def seal(self) -> None:
        """No more writes: the file is opened for reads."""
        self._writer.close()
        self._fd = os.open(self.path, os.O_RDONLY)

    def read(self, positions: list[int]) -> list[str]:
        ends = self._ends
        out = []
        for position in positions:
            start = ends[position - 1] if position else 0
            data = os.pread(self._fd, ends[position] - start, start)
            out.append(data.decode("utf-8", "surrogatepass"))
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._writer.closed:
            self._writer.close()


@dataclass
class NearDuplicates:
    """The near-duplicate records, by global row, and their clusters' earliest records.

    ``by_source``: each source's count and first record ids, in row order. The earliest
    records' ids live in a spill file (``duplicate_of`` reads them) until ``close``.
    """

    rows: np.ndarray  # sorted global rows of the records that nearly duplicate an earlier one
    representatives: np.ndarray  # each one's cluster's earliest row
    by_source: dict[str, Offenders] = field(default_factory=dict)
    heads: np.ndarray | None = None  # the distinct representatives, sorted
    head_ids: _Spill | None = None  # their record ids, by position in ``heads``
    mapped_groups: int = 0  # groups of mapped tasks that ran the stages (0: run here)

    def __len__(self) -> int:
        return len(self.rows)

    def duplicate_of(self, rows: np.ndarray) -> list[str | None]:
        """For each global row (ascending), its cluster's earliest record id, or None."""
        import numpy as np

        out: list[str | None] = [None] * len(rows)
        if not len(self.rows) or self.head_ids is None or self.heads is None:
            return out
        where = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        hit = np.flatnonzero(self.rows[where] == rows)
        if len(hit):
            positions = np.searchsorted(self.heads, self.representatives[where[hit]])
            for i, record_id in zip(
                hit.tolist(), self.head_ids.read(positions.tolist()), strict=True
            ):
                out[i] = record_id
        return out

    def close(self) -> None:
        if self.head_ids is not None:
            self.head_ids.close()

    def __enter__(self) -> NearDuplicates:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PLAN = "plan.json"
# Mapped tasks per stage (``pairs_stage``, ``windows_stage``) at most: each takes every
# ``groups``-th partition or window, well inside Airflow's max_map_length (1,024).
MAX_GROUPS = 32


@dataclass
class Plan:
    """What ``plan_stages`` spilled, and how the stages after it split the work."""

    names: list[str]  # the scan files, in order
    offsets: list[int]  # each scan file's first global row
    total: int
    partitions: int
    window: int  # rows per member window
    groups: int

    @property
    def windows(self) -> int:
        return max(1, math.ceil(self.total / self.window))

    @classmethod
    def read(cls, folder: Path) -> Plan | None:
        """The plan in ``folder``, or None when there is none or it is unreadable."""
        import json

        try:
            return cls(**json.loads((folder / PLAN).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def plan_stages(
    scan_dir: Path, names: list[str], offsets: list[int], total: int, folder: Path, *, groups: int
) -> Plan:
    """Stage 1: spill every record's band keys and signatures into ``folder``; the plan,
    written last, says how many partitions and windows ``groups`` tasks share."""
    import json

    from trainguard.scanners.minhash import BANDS

    if total >= 2**32:  # a pair is coded in 64 bits, 32 per row
        from trainguard.exceptions import GateError

        raise GateError(
            f"{total:,} records in one dataset version: near-duplicate detection handles up "
            "to 4,294,967,295; split the dataset into versions by source"
        )
    partitions = max(1, math.ceil(total * BANDS / partition_entries()))
    window = batch_rows()
    plan = Plan(names, offsets, total, partitions, window, 1)
    plan.groups = max(1, min(groups, MAX_GROUPS, max(partitions, plan.windows)))
    spill_band_keys(scan_dir, names, offsets, folder, partitions)
    temporary = folder / f".{PLAN}.{os.getpid()}"
    temporary.write_text(json.dumps(plan.__dict__), encoding="utf-8")
    os.replace(temporary, folder / PLAN)
    return plan


def stage_files(plan: Plan, stage: str, group: int) -> tuple[list[str], list[str], list[str]]:
    """What one group of a stage reads, writes and uses up in the staged folder (names and
    globs), for a task whose worker does not share the folder (``gate.shared``)."""
    tag = f"g{group:03d}"
    if stage == "pairs":
        bands = [f"bands-{p:05d}.bin" for p in range(group, plan.partitions, plan.groups)]
        return [f"pairs-done-{tag}", *bands], [f"window-*-{tag}.bin", f"pairs-done-{tag}"], bands
    windows = range(group, plan.windows, plan.groups)
    parts = [f"window-{w:06d}-g*.bin" for w in windows]
    closes = [f"close-{w:06d}.bin" for w in windows]
    return [SIGNATURES, *parts, *closes], closes, parts


def pairs_stage(folder: Path, plan: Plan, group: int) -> None:
    """Stage 2, one group: the candidate pairs of every ``groups``-th partition, filed by
    member window as ``window-<w>-g<group>.bin``. A retry of an unfinished group starts
    it over; the band keys go once the group is done."""
    done = folder / f"pairs-done-g{group:03d}"
    if done.exists():
        return
    for old in folder.glob(f"window-*-g{group:03d}.bin*"):
        old.unlink()
    suffix = f"-g{group:03d}.bin.partial"
    bands = [folder / f"bands-{p:05d}.bin" for p in range(group, plan.partitions, plan.groups)]
    for path in bands:
        spill_by_member(partition_pairs(path), folder, plan.window, suffix)
    for written in folder.glob(f"window-*{suffix}"):
        os.replace(written, written.with_name(written.name.removesuffix(".partial")))
    done.touch()
    for path in bands:
        path.unlink(missing_ok=True)


def windows_stage(folder: Path, plan: Plan, group: int, cutoff: float) -> None:
    """Stage 3, one group: every ``groups``-th window's close pairs, ``close-<w>.bin``
    (sorted and unique: a pair shares bands in several partitions)."""
    import numpy as np

    for window in range(group, plan.windows, plan.groups):
        target = folder / f"close-{window:06d}.bin"
        if target.exists():
            continue  # a retry: this window is done
        parts = sorted(folder.glob(f"window-{window:06d}-g*.bin"))
        codes = sorted_unique(
            np.concatenate([np.fromfile(p, dtype=np.uint64) for p in parts])
            if parts
            else np.empty(0, np.uint64)
        )
        close = close_pairs(codes, folder / SIGNATURES, window * plan.window, plan.window, cutoff)
        temporary = folder / f".close-{window:06d}.bin.{os.getpid()}"
        close.tofile(temporary)
        os.replace(temporary, target)
        for part in parts:
            part.unlink()


def prepared(folder: Path, names: list[str], offsets: list[int], total: int) -> Plan | None:
    """The plan in ``folder`` if every stage before the confirmation finished there for
    these scans, else None."""
    plan = Plan.read(folder)
    if plan is None or (plan.names, plan.offsets, plan.total) != (names, offsets, total):
        return None
    done = all((folder / f"close-{w:06d}.bin").is_file() for w in range(plan.windows))
    return plan if done else None


@contextmanager
def find_duplicates(
    resources: ScanResources,
    scan_dir: Path,
    names: list[str],
    offsets: list[int],
    total: int,
    *,
    staged: Path | None = None,
) -> Iterator[NearDuplicates]:
    """Near-duplicates across every shard: spill, one partition at a time, confirm, name.

    ``staged``: a folder where mapped tasks ran the stages up to the confirmation
    (``plan_stages``, ``pairs_stage``, ``windows_stage``); used if they finished for
    these scans, else everything runs here. A context: the folder (band keys, signatures,
    close pairs, the texts of the records in close pairs, then the ids of the clusters'
    earliest records, which ``NearDuplicates.duplicate_of`` reads) lives until it ends.
    A folder of its own is the owner's alone (mode 0700) under ``scan_dir``; one that a
    killed reduce left goes at the next.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from trainguard.scanners.minhash import ESTIMATE_MARGIN
    from trainguard.versioning import remove_dead_stagings, staging_prefix

    plan = prepared(staged, names, offsets, total) if staged is not None else None
    if plan is not None and staged is not None:
        folder = staged
    else:
        # Its own folder: two gate runs of one version may reduce the same scans at once.
        remove_dead_stagings(scan_dir, "bands")
        folder = Path(tempfile.mkdtemp(prefix=staging_prefix("bands", os.getpid()), dir=scan_dir))
    found = None
    try:
        if plan is None:
            plan = plan_stages(scan_dir, names, offsets, total, folder, groups=1)
            pairs_stage(folder, plan, 0)
            cutoff = resources.policy.quality.near_duplicate_similarity - ESTIMATE_MARGIN
            windows_stage(folder, plan, 0, cutoff)
        found = confirm_stage(resources, scan_dir, folder, plan)
        found.mapped_groups = plan.groups if folder == staged else 0
        yield found
    finally:
        if found is not None:
            found.close()
        shutil.rmtree(folder, ignore_errors=True)
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def confirm_stage(
    resources: ScanResources, scan_dir: Path, folder: Path, plan: Plan
) -> NearDuplicates:
    """Stage 4: the close pairs confirmed by exact Jaccard, joined into clusters, named."""
    import numpy as np

    in_pairs = np.zeros(plan.total, dtype=bool)  # 1 byte per record
    close_files = sorted(folder.glob("close-*.bin"))
    for path in close_files:
        heads, members = _split(np.fromfile(path, dtype=np.uint64))
        in_pairs[heads] = True
        in_pairs[members] = True
    rows = np.flatnonzero(in_pairs)
    del in_pairs
    if not len(rows):
        return NearDuplicates(np.empty(0, np.int64), np.empty(0, np.int64))
    names, offsets = plan.names, plan.offsets
    texts = _spill_texts(resources, names, [*offsets, plan.total], rows, folder / "texts.bin")
    try:
        parent = _clusters(close_files, rows, texts, resources, plan.total)
    finally:
        texts.close()
        (folder / "texts.bin").unlink()
    return _name(scan_dir, names, offsets, parent, folder / "heads.bin")


def _spill_texts(
    resources: ScanResources, names: list[str], bounds: list[int], rows: np.ndarray, path: Path
) -> _Spill:
    """The squeezed texts of the global ``rows`` (sorted), read back from the shards in
    scan order (shard ``i`` holds global rows ``bounds[i]`` to ``bounds[i + 1]``), written
    by position in ``rows``."""
    import numpy as np

    from trainguard.exceptions import GateError
    from trainguard.scanners.squeeze import squeeze

    dataset = resources.dataset
    shard_of = {f"{SHARD_PREFIX}{shard.name}.parquet": shard for shard in dataset.shards}
    spill = _Spill(path)
    for index, name in enumerate(names):
        row = bounds[index]
        for _, _, batch in dataset.iter_batches_of(shard_of[name], list(dataset.text_columns)):
            first, row = row, row + batch.num_rows
            lo, hi = np.searchsorted(rows, [first, row])
            if hi > lo:
                chosen = batch.take(rows[lo:hi] - first)
                spill.write(squeeze(joined_text(chosen, dataset.text_columns)).to_pylist())
        if row != bounds[index + 1]:
            raise GateError(
                f"shard {shard_of[name].name} holds {row - bounds[index]:,} records but its "
                f"scan holds {bounds[index + 1] - bounds[index]:,}: it changed after the scan"
            )
    spill.seal()
    return spill


def _clusters(
    close_files: list[Path], rows: np.ndarray, texts: _Spill, resources: ScanResources, total: int
) -> array[int]:
    """The union-find parent of every global row: each close pair whose exact Jaccard
    similarity reaches the threshold joins its two records' clusters.

    A cluster is a connected component of confirmed pairs and its representative is its
    smallest row, whatever order the pairs are joined in; so a pair whose two records are
    already joined needs no Jaccard (which spares most of a large cluster's pairs), and a
    pair found in several partitions changes nothing the second time.
    """
    from array import array

    import numpy as np

    from trainguard.scanners.minhash import set_jaccard, shingle_set

    threshold = resources.policy.quality.near_duplicate_similarity
    parent = array("I", range(total))  # 4 bytes per record

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    step = estimate_pairs()
    for path in close_files:
        codes = np.fromfile(path, dtype=np.uint64)
        path.unlink()
        for start in range(0, len(codes), step):
            heads, members = _split(codes[start : start + step])
            pairs = zip(
                heads.tolist(),
                members.tolist(),
                np.searchsorted(rows, heads).tolist(),
                np.searchsorted(rows, members).tolist(),
                strict=True,
            )
            cached_head, head_shingles = -1, set()
            for a, b, text_a, text_b in pairs:
                ra, rb = find(a), find(b)
                if ra == rb:
                    continue  # already one cluster: this pair cannot change it
                if text_a != cached_head:  # pairs come sorted by head: read it once
                    cached_head, head_shingles = text_a, shingle_set(texts.read([text_a])[0])
                member_shingles = shingle_set(texts.read([text_b])[0])
                if set_jaccard(head_shingles, member_shingles) >= threshold:
                    parent[max(ra, rb)] = min(ra, rb)  # the earliest is the representative
    return parent


def _name(
    scan_dir: Path, names: list[str], offsets: list[int], parent: array[int], path: Path
) -> NearDuplicates:
    """The near-duplicates from the union-find: rows, representatives, each source's count
    and first ids, and the representatives' ids spilled to ``path``."""
    import numpy as np
    import pyarrow.compute as pc

    roots = np.frombuffer(parent, dtype=np.uint32)
    while True:  # pointer jumping: every row's root, a few vectorised steps
        jumped = roots[roots]
        if np.array_equal(jumped, roots):
            break
        roots = jumped
    rows = np.flatnonzero(roots != np.arange(len(roots), dtype=np.uint32))
    found = NearDuplicates(rows, roots[rows].astype(np.int64))
    del roots
    found.heads = np.unique(found.representatives)
    found.head_ids = _Spill(path)
    for index, row, record_batch in iter_scan_batches(scan_dir, names, ["record_id", "source_id"]):
        first = offsets[index] + row
        span = [first, first + record_batch.num_rows]
        dup_lo, dup_hi = np.searchsorted(found.rows, span)
        head_lo, head_hi = np.searchsorted(found.heads, span)
        if dup_hi > dup_lo:
            picked = record_batch.take(found.rows[dup_lo:dup_hi] - first)
            sources = picked.column("source_id")
            # Per source, in order of first appearance: its count and its first ids (a
            # batch can hold millions of near-duplicates; only the first few are kept).
            for source_id in pc.unique(sources).to_pylist():
                ids = pc.filter(picked.column("record_id"), pc.equal(sources, source_id))
                offenders = found.by_source.setdefault(source_id, Offenders())
                offenders.add(ids.slice(0, offenders.room).to_pylist(), len(ids))
        if head_hi > head_lo:
            heads = record_batch.take(found.heads[head_lo:head_hi] - first)
            found.head_ids.write(heads.column("record_id").to_pylist())
    found.head_ids.seal()
    return found
