"""The fan-in: shard partials merged in shard order, near-duplicates by band partition.

Every stage is bounded by a batch (``TRAINGUARD_BATCH_ROWS``), a sample or the number of
sources; only the near-duplicate stage keeps a few bytes per record:

1. ``shard_partial``: each shard's per-record results, tallied by every duty
   (``checks/<duty>.tally``) a batch at a time as the shard pass writes them, into a
   small ``Partial``; ``scan_shard`` writes it beside the scan file as
   ``partial-<shard>.json``.
2. ``merge_partials``: partials merge in shard order (the merge is associative: a tree of
   tasks or a fold give the same), so the first offending record ids are those of the
   first rows, as a single pass would name them.
3. Near-duplicates across every shard, by band partition and row window
   (``gate.duplicates``; it spills to disk and keeps 5 to 45 bytes per record);
4. Each duty's ``measure`` reads the merged tally; the annotations file is written by one
   more streaming pass, with ``duplicate_of``.

The decisions are those of the single-process reduce this replaced: the same samples
(smallest keyed hash, ties broken by shard and row), the same candidate pairs, the same
clusters.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import (
    HISTOGRAM_BINS,
    Offenders,
    Partial,
    ScanBatch,
    key_bins,
)
from trainguard.gate.scan_files import (
    iter_scan_batches,
    pi_type,
    read_texts,
    scan_files,
    score_records,
)
from trainguard.settings import batch_rows

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    import pyarrow as pa

    from trainguard.gate.duplicates import NearDuplicates
    from trainguard.gate.gx import Table
    from trainguard.gate.scan import ScanResources

PARTIAL_PREFIX = "partial-"
# What the duties' tallies read of a scan file (the signatures are read by the band stage).
TALLY_COLUMNS = [
    "record_id",
    "source_id",
    "sample_key",
    "pi",
    "lexicon_hit",
    "harmful_score",
    "q_empty",
    "q_garbled",
    "q_truncated",
    "q_language_mismatch",
    "language",
    "optout_work",
    "reported",
    "copyright_notice",
]


def _duties() -> list[Any]:
    """The duties whose measures come from the shard scans, in the order of their columns."""
    from trainguard.checks import consent, harmful, ip, quality, reported

    return [consent, harmful, ip, quality, reported]


def _duty_messages(*, corpus: bool = False) -> dict[str, Any]:
    name = "CORPUS_MESSAGES" if corpus else "MESSAGES"
    return {
        check: message for duty in _duties() for check, message in getattr(duty, name, {}).items()
    }


# ----------------------------------------------------------------------------- partials


def tally_batch(batch: ScanBatch, partial: Partial, resources: ScanResources) -> None:
    """Add one batch of a scan file to ``partial``: the counts every duty shares, then
    each duty's own tally."""
    import numpy as np

    from trainguard.checks import consent, harmful, ip, quality, reported

    partial.shard_records[batch.shard] = partial.shard_records.get(batch.shard, 0) + len(batch)
    for source_id, count in zip(*np.unique(batch["source_id"], return_counts=True), strict=True):
        partial.count(f"records:{source_id}", int(count))
    bins = np.bincount(key_bins(batch.keys), minlength=HISTOGRAM_BINS)
    for index, count in enumerate(bins.tolist()):
        partial.histogram[index] += count
    consent.tally(batch, partial)
    harmful.tally(batch, partial, resources.policy)
    ip.tally(batch, partial)
    quality.tally(batch, partial)
    reported.tally(batch, partial)


def _scan_batch(record_batch: pa.RecordBatch, shard: int, first_row: int) -> ScanBatch:
    import numpy as np

    columns = {name: record_batch.column(name).to_pylist() for name in record_batch.schema.names}
    keys = (
        record_batch.column("sample_key").to_numpy(zero_copy_only=False).astype(np.float64)
        if "sample_key" in columns
        else np.zeros(record_batch.num_rows)
    )
    return ScanBatch(shard, first_row, columns, keys)


def shard_partial(resources: ScanResources, tables: Iterable[pa.Table], shard: int) -> Partial:
    """Every duty's tally of one shard's scan tables, as they are written."""
    batches = (batch for table in tables for batch in table.select(TALLY_COLUMNS).to_batches())
    return _tally(resources, batches, shard)


def _tally(
    resources: ScanResources, record_batches: Iterable[pa.RecordBatch], shard: int
) -> Partial:
    partial = Partial(shard_records={shard: 0})
    row = 0
    for record_batch in record_batches:
        tally_batch(_scan_batch(record_batch, shard, row), partial, resources)
        row += record_batch.num_rows
    return partial


def partial_path(scan_dir: Path, scan_file: str) -> Path:
    return scan_dir / f"{PARTIAL_PREFIX}{scan_file.removesuffix('.parquet')}.json"


def write_partial(partial: Partial, path: Path) -> None:
    """Write then rename: a task killed mid-write never leaves half a partial."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    temporary.write_text(json.dumps(partial.to_json()), encoding="utf-8")
    os.replace(temporary, path)


def read_partial(resources: ScanResources, scan_dir: Path, index: int, scan_file: str) -> Partial:
    """A shard's partial; tallied again from its scan file when absent or unreadable
    (a scan left by an older version, or a partial lost with a worker)."""
    import pyarrow.parquet as pq

    path = partial_path(scan_dir, scan_file)
    try:
        return Partial.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        source = pq.ParquetFile(scan_dir / scan_file, pre_buffer=False)
        batches = source.iter_batches(batch_size=batch_rows(), columns=TALLY_COLUMNS)
        return _tally(resources, batches, index)


def merge_partials(partials: Iterable[Partial]) -> Partial:
    """Merge partials of consecutive shards, in shard order, as they are read.

    The merge is associative, so a tree of mapped tasks merging neighbours pairwise gives
    the same partial; folding here keeps one partial in memory besides the merged one.
    """
    merged = Partial()
    for partial in partials:
        merged = merged.merge(partial)
    return merged


# ----------------------------------------------------------------------------- the reduce


@dataclass
class ScanResult:
    """What the reduce step measured: the tables the GX suites check."""

    sources: list[dict[str, Any]]  # one row per source
    corpus: dict[str, Any]  # whole-corpus measures
    record_ids: dict[str, Offenders]  # "<check>:<source>" -> offending record ids
    metrics: dict[str, float]
    messages: dict[str, Any] = field(default_factory=dict)  # check -> f(row, threshold)
    corpus_messages: dict[str, Any] = field(default_factory=dict)  # for the corpus row

    def tables(self) -> dict[str, Table]:
        from trainguard.gate.gx import Table

        messages = self.messages or _duty_messages()
        corpus_messages = self.corpus_messages or _duty_messages(corpus=True)
        return {
            "sources": Table(
                "sources",
                self.sources,
                key="source_id",
                entity="source",
                record_ids=self.record_ids,
                messages=messages,
            ),
            "corpus": Table(
                "corpus", [self.corpus], record_ids=self.record_ids, messages=corpus_messages
            ),
        }


def merged_scans(resources: ScanResources, scan_dir: Path) -> tuple[list[str], list[int], Partial]:
    """The scan files in order, each one's first global row, and their merged partial."""
    from trainguard.exceptions import GateError

    names = scan_files(resources.dataset)
    missing = [name for name in names if not (scan_dir / name).is_file()]
    if missing:
        raise GateError(f"shard scans missing for {', '.join(missing)}")
    partial = merge_partials(
        read_partial(resources, scan_dir, i, name) for i, name in enumerate(names)
    )
    offsets = [0]
    for index in range(len(names) - 1):
        offsets.append(offsets[-1] + partial.shard_records.get(index, 0))
    return names, offsets, partial


def reduce_scans(
    resources: ScanResources,
    scan_dir: Path,
    *,
    annotations_out: Path | None = None,
    staged: Path | None = None,
) -> ScanResult:
    """Fan-in: every shard's partial merged, near-duplicates found, each duty measured.

    ``staged``: where mapped tasks ran the near-duplicate stages (``gate.duplicates``).
    """
    from trainguard.gate.duplicates import find_duplicates

    names, offsets, partial = merged_scans(resources, scan_dir)
    with find_duplicates(
        resources, scan_dir, names, offsets, partial.records, staged=staged
    ) as duplicates:
        result = _measure(resources, scan_dir, names, partial, duplicates.by_source)
        result.metrics["scan.near_duplicate_groups_mapped"] = float(duplicates.mapped_groups)
        if annotations_out is not None:
            write_annotations(scan_dir, names, offsets, duplicates, annotations_out)
    return result


def _measure(
    resources: ScanResources,
    scan_dir: Path,
    names: list[str],
    partial: Partial,
    duplicates: dict[str, Offenders],
) -> ScanResult:
    """Each duty's measures of the merged tally."""
    from trainguard.checks.base import Tally

    dataset = resources.dataset

    def batches(columns: list[str]) -> Iterator[ScanBatch]:
        for index, row, record_batch in iter_scan_batches(scan_dir, names, columns):
            yield _scan_batch(record_batch, index, row)

    tally = Tally(
        dataset=dataset,
        policy=resources.policy,
        lexicon=resources.lexicon,
        classifier=lambda: resources.classifier,
        partial=partial,
        duplicates=duplicates,
        batches=batches,
        texts=lambda ids, squeezed=True: read_texts(dataset, ids, squeezed=squeezed),
        scores=lambda ids: score_records(resources, ids),
    )
    rows = {
        source_id: {"source_id": source_id, "records": tally.count(f"records:{source_id}")}
        for source_id in sorted(dataset.sources)
    }
    corpus: dict[str, Any] = {"records": tally.records}
    offenders: dict[str, Offenders] = {}
    messages: dict[str, Any] = {}
    corpus_messages: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    for duty in _duties():
        measured = duty.measure(tally)
        for source_id, columns in measured.sources.items():
            rows[source_id].update(columns)
        corpus.update(measured.corpus)
        offenders.update(measured.offenders)
        messages.update(measured.messages)
        corpus_messages.update(measured.corpus_messages)
        metrics.update(measured.metrics)
    return ScanResult(list(rows.values()), corpus, offenders, metrics, messages, corpus_messages)


ANNOTATION_COLUMNS = [
    "record_id",
    "source_id",
    "pi",
    "risks",
    "harmful_score",
    "copyright_notice",
    "optout_work",
    "reported",
]


def write_annotations(
    scan_dir: Path,
    names: list[str],
    offsets: list[int],
    duplicates: NearDuplicates,
    out: Path,
) -> None:
    """The annotations file of DESIGN.md, one row per record, written a batch at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    writer = None
    try:
        for index, row, record_batch in iter_scan_batches(scan_dir, names, ANNOTATION_COLUMNS):
            rows = np.arange(record_batch.num_rows) + offsets[index] + row
            spans = [
                [{k: s[k] for k in ("field", "kind", "start", "end", "covered")} for s in r]
                for r in record_batch.column("pi").to_pylist()
            ]
            columns = {name: record_batch.column(name) for name in ANNOTATION_COLUMNS}
            columns["pi"] = pa.array(spans, pi_type(with_hmac=False))
            columns["duplicate_of"] = pa.array(duplicates.duplicate_of(rows), pa.string())
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return
    os.replace(temporary, out)
