"""Art. 7(4): veracity, accuracy and diversity of the training data (TC260-003 5.1 b).

- per source (``quality_sources``): the shares of empty, garbled, truncated and
  wrong-language records (flags from ``scanners.quality``), and near-duplicates;
- for the corpus (``quality_corpus``): the near-duplicate rate, the largest source's
  share, sources per declared language, the domestic share and lexical diversity.
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import Measures, Message, Offenders
from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from trainguard.checks.base import Partial, ScanBatch, Tally

CHECKS = {
    "quality.garbled": "Art. 7(4) veracity, accuracy",
    "quality.empty": "Art. 7(4) veracity, accuracy",
    "quality.truncated": "Art. 7(4) veracity, accuracy",
    "quality.language": "Art. 7(4) accuracy",
    "quality.duplicates": "Art. 7(4)",
    "quality.diversity": "Art. 7(4) diversity; TC260-003 5.1 b",
    "quality.origin_mix": "TC260-003 5.1 b",
}
# The scan's per-record flag -> the check that reports it.
FLAG_CHECKS = {
    "empty": "quality.empty",
    "garbled": "quality.garbled",
    "truncated": "quality.truncated",
    "language_mismatch": "quality.language",
}
DIVERSITY_SAMPLE = 2_000  # records whose character bigrams measure lexical diversity


def tally(batch: ScanBatch, partial: Partial) -> None:
    """Flagged records per source and flag, languages per source, the diversity sample."""
    import numpy as np

    record_ids, source_ids = batch["record_id"], batch["source_id"]
    for flag, check in FLAG_CHECKS.items():
        flagged: dict[str, list[str]] = {}
        for record_id, source_id, is_flagged in zip(
            record_ids, source_ids, batch[f"q_{flag}"], strict=True
        ):
            if is_flagged:
                flagged.setdefault(source_id, []).append(record_id)
        for source_id, ids in flagged.items():
            partial.offend(f"{check}:{source_id}", ids)
    for (source_id, language), count in Counter(
        zip(source_ids, batch["language"], strict=True)
    ).items():
        partial.count(f"language:{language}", count)
        partial.label(f"languages:{source_id}", [language])
        partial.label(f"language_sources:{language}", [source_id])
    rows = np.arange(batch.first_row, batch.first_row + len(batch))
    partial.sample("diversity", DIVERSITY_SAMPLE).offer(
        batch.keys, batch.shard, rows, record_ids.__getitem__
    )


def measure(tally: Tally) -> Measures:
    """Per-source flag rates and near-duplicates; the corpus's diversity."""
    out = Measures(messages=MESSAGES)
    for source_id in sorted(tally.dataset.sources):
        records = tally.count(f"records:{source_id}")
        duplicates = tally.duplicates.get(source_id, Offenders())
        out.offenders[f"quality.duplicates:{source_id}"] = duplicates
        columns: dict[str, Any] = {"near_duplicates": len(duplicates)}
        for flag, check in FLAG_CHECKS.items():
            flagged = tally.offenders(f"{check}:{source_id}")
            out.offenders[f"{check}:{source_id}"] = flagged
            columns[f"{flag}_rate"] = len(flagged) / records if records else 0.0
        columns["languages"] = ", ".join(sorted(tally.labels(f"languages:{source_id}")))
        out.sources[source_id] = columns
    out.corpus = diversity(tally)
    out.metrics["scan.near_duplicates"] = float(_near_duplicates(tally))
    for key, count in sorted(tally.partial.counts.items()):  # detected, by script
        if key.startswith("language:"):
            out.metrics[f"records.language.{key.removeprefix('language:')}"] = float(count)
    return out


def _near_duplicates(tally: Tally) -> int:
    return sum(len(found) for found in tally.duplicates.values())


def diversity(tally: Tally) -> dict[str, Any]:
    """Diversity of the corpus (Art. 7(4); TC260-003 5.1 b): sources, mix, vocabulary."""
    dataset = tally.dataset
    total = tally.records or 1
    per_source = {s: tally.count(f"records:{s}") for s in dataset.sources}
    domestic = sum(
        count
        for source, count in per_source.items()
        if dataset.sources[source].origin.value == "domestic"
    )
    # Lexical diversity: distinct character bigrams per bigram on a random sample.
    texts = tally.texts(tally.sample("diversity"), squeezed=False)
    # Counted without listing them: one long record would make a list of millions.
    distinct: set[str] = set()
    count = 0
    for text in texts.values():
        distinct.update(map(operator.add, text, text[1:]))
        count += max(len(text) - 1, 0)
    return {
        "near_duplicate_rate": _near_duplicates(tally) / total,
        "largest_source_share": max(per_source.values(), default=0) / total,
        "min_sources_per_language": min(
            (
                len(tally.labels(f"language_sources:{language}"))
                for language in dataset.manifest.languages
            ),
            default=0,
        ),
        "domestic_share": domestic / total,
        "lexical_diversity": len(distinct) / count if count else 0.0,
    }


MESSAGES: dict[str, Message] = {
    "quality.duplicates": lambda row, _: Text(
        "{count:,} record(s) nearly duplicate an earlier record", {"count": row["near_duplicates"]}
    ),
    "quality.garbled": lambda row, t: Text(
        "{rate:.2%} of records are garbled or mis-encoded, {beyond}",
        {"rate": row["garbled_rate"], "beyond": beyond(t, percent=True)},
    ),
    "quality.empty": lambda row, t: Text(
        "{rate:.2%} of records are empty", {"rate": row["empty_rate"]}
    ),
    "quality.truncated": lambda row, t: Text(
        "{rate:.2%} of records look truncated, {beyond}",
        {"rate": row["truncated_rate"], "beyond": beyond(t, percent=True)},
    ),
    "quality.language": lambda row, t: Text(
        "{rate:.2%} of records are in an undeclared language (found: {languages}), {beyond}",
        {
            "rate": row["language_mismatch_rate"],
            "languages": row["languages"],
            "beyond": beyond(t, percent=True),
        },
    ),
}
