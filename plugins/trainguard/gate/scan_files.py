"""The per-record scan files the shard pass writes and every later stage reads.

One Parquet file per record shard, ``scan-<shard>.parquet``, in ``scan_files`` order:
the order that global rows, sample ties and "the earlier record" of a near-duplicate
follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    import pyarrow as pa

    from trainguard.contract import Dataset
    from trainguard.gate.scan import ScanResources

SHARD_PREFIX = "scan-"


def scan_files(dataset: Dataset) -> list[str]:
    """The shards' scan file names, in the order every stage reads them."""
    return sorted(f"{SHARD_PREFIX}{shard.name}.parquet" for shard in dataset.shards)


def iter_scan_batches(
    scan_dir: Path, names: list[str], columns: list[str]
) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """(shard index, first row, Arrow batch) over every scan file, in order."""
    import pyarrow.parquet as pq

    from trainguard.settings import batch_rows

    size = batch_rows()
    for index, name in enumerate(names):
        row = 0
        # pre_buffer off: on it prefetches every row group of the columns read, a file's worth
        source = pq.ParquetFile(scan_dir / name, pre_buffer=False)
        for record_batch in source.iter_batches(batch_size=size, columns=columns):
            yield index, row, record_batch
            row += record_batch.num_rows


def joined_text(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """A record's text columns joined by newlines: what the scan judges as its text."""
    import pyarrow.compute as pc

    if len(columns) == 1:
        return batch.column(columns[0])
    return pc.binary_join_element_wise(*[batch.column(c) for c in columns], "\n")


def _batches_holding(dataset: Dataset, record_ids: list[str]) -> Iterator[pa.RecordBatch]:
    """The rows of ``record_ids`` (id and text columns), read back from the shards."""
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pa.array(record_ids, pa.string())
    for _, _, batch in dataset.iter_batches(["record_id", *dataset.text_columns]):
        mask = pc.is_in(batch.column("record_id"), value_set=value_set)
        if pc.any(mask).as_py():
            yield batch.filter(mask)


def read_texts(dataset: Dataset, record_ids: list[str], *, squeezed: bool = True) -> dict[str, str]:
    """The (squeezed) texts of a few records, by record id, read back from the shards."""
    from trainguard.scanners.squeeze import squeeze

    found: dict[str, str] = {}
    if not record_ids:
        return found
    for chosen in _batches_holding(dataset, record_ids):
        joined = joined_text(chosen, dataset.text_columns)
        values = squeeze(joined) if squeezed else joined
        found.update(zip(chosen.column("record_id").to_pylist(), values.to_pylist(), strict=True))
    return found


def judged_texts(batch: pa.RecordBatch, texts: list[str], refusals: set[int]) -> list[str]:
    """What the classifier scores per row: the joined text, a refusal pair's response only."""
    if not refusals:
        return texts
    judged = list(texts)
    responses = batch.column("response").to_pylist()
    for row in refusals:
        judged[row] = responses[row]
    return judged


def score_records(resources: ScanResources, record_ids: list[str]) -> dict[str, float]:
    """Classifier scores of a few records read back from the shards, each judged as the
    shard pass judges it (a refusal pair by its response); empty without a classifier."""
    classifier = resources.classifier
    if classifier is None or not record_ids:
        return {}
    dataset = resources.dataset
    ids: list[str] = []
    texts: list[str] = []
    for chosen in _batches_holding(dataset, record_ids):
        joined = joined_text(chosen, dataset.text_columns).to_pylist()
        texts += judged_texts(chosen, joined, resources.refusal_rows(chosen))
        ids += chosen.column("record_id").to_pylist()
    scores = classifier.probabilities(texts)
    return {rid: float(score) for rid, score in zip(ids, scores, strict=True)}


def pi_type(*, with_hmac: bool = True) -> Any:
    """Arrow type of a record's PI spans; the annotations file leaves the HMAC out."""
    import pyarrow as pa

    fields = [
        ("field", pa.string()),
        ("kind", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("covered", pa.bool_()),
    ]
    return pa.list_(pa.struct(fields + ([("hmac", pa.string())] if with_hmac else [])))
