"""The manual spot check of TC260-003 9.2: the sample to review, and its verdicts file.

The sample is the N records (policy ``corpus.manual_sample_size``, all when fewer) with the
smallest sampling keys, so it is random yet the same for every version holding the same
records. Reviewers see the text with personal information replaced by ``[kind]``; they
fill in ``reviewer_id``, ``verdict`` (pass or fail) and ``reviewed_at``, and the file is
committed as ``review/manual_verdicts.csv`` in the dataset.
"""

from __future__ import annotations

import csv
from pathlib import Path

from trainguard.contract import Dataset
from trainguard.scan import REVIEW_FILE, sample_key

REVIEW_COLUMNS = ["record_id", "source_id", "text", "reviewer_id", "verdict", "reviewed_at"]


def write_review_sample(dataset: Dataset, size: int, out: Path) -> int:
    """Write the review sample (PI masked) to ``out`` as CSV; returns its size."""
    import heapq

    from trainguard.masking import mask_text
    from trainguard.scanners.pi import find_pi

    name = dataset.manifest.name
    chosen: list[tuple[float, str, str, str]] = []
    for _, _, batch in dataset.iter_batches(["record_id", "source_id", *dataset.text_columns]):
        columns = [batch.column(c).to_pylist() for c in dataset.text_columns]
        for index, (record_id, source_id) in enumerate(zip(
                batch.column("record_id").to_pylist(), batch.column("source_id").to_pylist(),
                strict=True)):
            key = sample_key(name, record_id)
            if len(chosen) < size or -chosen[0][0] > key:
                text = "\n".join(str(column[index]) for column in columns)
                item = (-key, record_id, source_id, text)
                if len(chosen) < size:
                    heapq.heappush(chosen, item)
                else:
                    heapq.heapreplace(chosen, item)
    rows = sorted(chosen, key=lambda item: -item[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REVIEW_COLUMNS)
        for _, record_id, source_id, text in rows:
            masked = mask_text(text, [(m.start, m.end, m.kind.value) for m in find_pi(text)])
            writer.writerow([record_id, source_id, masked, "", "", ""])
    return len(rows)


def review_file(dataset: Dataset) -> Path:
    return dataset.root / REVIEW_FILE
