"""Art. 7(4): veracity, accuracy and diversity of the training data (TC260-003 5.1 b).

- per source (``quality_sources``): the shares of empty, garbled, truncated and
  wrong-language records (flags from ``scanners.quality``), and near-duplicates;
- for the corpus (``quality_corpus``): the near-duplicate rate, the largest source's
  share, sources per declared language, the domestic share and lexical diversity.
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import Measures, Message
from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from trainguard.checks.base import ScanView

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


def measure(view: ScanView) -> Measures:
    """Per-source flag rates and near-duplicates; the corpus's diversity."""
    out = Measures(messages=MESSAGES)
    for source_id in sorted(view.dataset.sources):
        rows = view.by_source.get(source_id, [])
        duplicates = view.ids([r for r in rows if view.duplicate_of[r] is not None])
        out.offenders[f"quality.duplicates:{source_id}"] = duplicates
        columns: dict[str, Any] = {"near_duplicates": len(duplicates)}
        for flag, check in FLAG_CHECKS.items():
            flagged = view.ids([r for r in rows if view.flags[flag][r]])
            out.offenders[f"{check}:{source_id}"] = flagged
            columns[f"{flag}_rate"] = len(flagged) / len(rows) if rows else 0.0
        columns["languages"] = ", ".join(sorted({view.languages[r] for r in rows}))
        out.sources[source_id] = columns
    out.corpus = diversity(view)
    out.metrics["scan.near_duplicates"] = float(sum(1 for d in view.duplicate_of if d is not None))
    for language, count in sorted(Counter(view.languages).items()):  # detected, by script
        out.metrics[f"records.language.{language}"] = float(count)
    return out


def diversity(view: ScanView) -> dict[str, Any]:
    """Diversity of the corpus (Art. 7(4); TC260-003 5.1 b): sources, mix, vocabulary."""
    dataset = view.dataset
    total = len(view.record_ids) or 1
    per_source = Counter(view.source_ids)
    sources_of: dict[str, set[str]] = defaultdict(set)
    for source, language in zip(view.source_ids, view.languages, strict=True):
        sources_of[language].add(source)
    domestic = sum(
        count
        for source, count in per_source.items()
        if dataset.sources[source].origin.value == "domestic"
    )
    # Lexical diversity: distinct character bigrams per bigram on a random sample.
    sample = view.sample_order[:DIVERSITY_SAMPLE]
    texts = view.texts(view.ids(sample), sample, squeezed=False)
    # Counted without listing them: one long record would make a list of millions.
    distinct: set[str] = set()
    count = 0
    for text in texts.values():
        distinct.update(map(operator.add, text, text[1:]))
        count += max(len(text) - 1, 0)
    return {
        "near_duplicate_rate": sum(d is not None for d in view.duplicate_of) / total,
        "largest_source_share": max(per_source.values(), default=0) / total,
        "min_sources_per_language": min(
            (len(sources_of[language]) for language in dataset.manifest.languages), default=0
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
