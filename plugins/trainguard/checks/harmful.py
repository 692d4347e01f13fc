"""Harmful content (Art. 4, 7; TC260-003 5.1 a, 8, 9.2): per-source rates and corpus samples.

- ``harmful.rate``: per source, the share of a random sample (the ``harmful.sample_size``
  records with the smallest sampling keys) that the lexicon or the classifier flags, with
  its Wilson bound;
- ``corpus.automated``: the whole-corpus automated sample (TC260-003 9.2);
- ``corpus.manual``: the manual spot check, read from ``review/manual_verdicts.csv``;
- ``keywords.coverage``: the lexicon's size and its coverage of the A.1/A.2 risks (8).

The manual sample is the N records (policy ``corpus.manual_sample_size``, all when fewer) with the
smallest sampling keys, so it is random yet the same for every version holding the same
records. Reviewers see the text with personal information replaced by ``[kind]``; they
fill in ``reviewer_id``, ``verdict`` (pass or fail) and ``reviewed_at``, and the file is
committed as ``review/manual_verdicts.csv`` in the dataset.
"""

from __future__ import annotations

import csv
import math
from typing import TYPE_CHECKING, Any

from trainguard.checks.base import Measures, Message
from trainguard.checks.stats import sample_key, smallest_keys, wilson_interval
from trainguard.contract import Dataset, read_csv
from trainguard.exceptions import ContractError
from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from pathlib import Path

    from trainguard.checks.base import ScanView

CHECKS = {
    "harmful.rate": "Art. 7; TC260-003 5.1 a",
    "corpus.automated": "TC260-003 9.2",
    "corpus.manual": "TC260-003 9.2",
    "keywords.coverage": "TC260-003 8",
}
REVIEW_FILE = "review/manual_verdicts.csv"

REVIEW_COLUMNS = ["record_id", "source_id", "text", "reviewer_id", "verdict", "reviewed_at"]


def write_review_sample(dataset: Dataset, size: int, out: Path) -> int:
    """Write the review sample (PI masked) to ``out`` as CSV; returns its size."""
    import heapq

    from trainguard.personal_info import mask_text
    from trainguard.scanners.pi import find_pi

    name = dataset.manifest.name
    chosen: list[tuple[float, str, str, str]] = []
    for _, _, batch in dataset.iter_batches(["record_id", "source_id", *dataset.text_columns]):
        columns = [batch.column(c).to_pylist() for c in dataset.text_columns]
        for index, (record_id, source_id) in enumerate(
            zip(
                batch.column("record_id").to_pylist(),
                batch.column("source_id").to_pylist(),
                strict=True,
            )
        ):
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


def measure(view: ScanView) -> Measures:
    """Harmful rates per source, the corpus samples, and the lexicon's coverage."""
    policy = view.policy
    threshold = policy.harmful.classifier_threshold
    harmful = [
        hit or (score is not None and score >= threshold)
        for hit, score in zip(view.lexicon_hit, view.harmful_score, strict=True)
    ]
    out = Measures(messages=MESSAGES, corpus_messages=CORPUS_MESSAGES)
    for source_id in sorted(view.dataset.sources):
        rows = view.by_source.get(source_id, [])
        sample = smallest_keys(rows, view.sample_keys, policy.harmful.sample_size)
        flagged = [r for r in sample if harmful[r]]
        low, high = wilson_interval(len(flagged), len(sample), policy.harmful.confidence)
        out.offenders[f"harmful.rate:{source_id}"] = view.ids(flagged)
        out.sources[source_id] = {
            "harmful_sampled": len(sample),
            "harmful_flagged": len(flagged),
            "harmful_rate": len(flagged) / len(sample) if sample else 0.0,
            "harmful_rate_low": low,
            "harmful_rate_high": high,
        }
        out.metrics[f"harmful_rate.{source_id}"] = float(out.sources[source_id]["harmful_rate"])

    total = len(view.record_ids)
    wanted = math.ceil(policy.corpus.automated_sample_fraction * total)
    automated = view.sample_order[:wanted]
    classifier = view.classifier()
    unscored = [r for r in automated if view.harmful_score[r] is None] if classifier else []
    if classifier and unscored:  # rare: a sampled record above the shards' scoring bound
        texts = view.texts(view.ids(unscored), unscored, squeezed=False)
        scores = classifier.probabilities([texts[r] for r in unscored])
        for r, score in zip(unscored, scores, strict=True):
            harmful[r] = harmful[r] or score >= threshold
    passed = sum(1 for r in automated if not harmful[r])
    coverage = view.lexicon.coverage()
    out.corpus = {
        "automated_sampled": len(automated),
        "automated_sample_fraction": len(automated) / total if total else 0.0,
        "automated_pass_rate": passed / len(automated) if automated else 1.0,
        "lexicon_terms": len(view.lexicon.terms),
        "lexicon_min_a1": min(coverage.get(f"A.1.{c}", 0) for c in "abcdefgh"),
        "lexicon_min_a2": min(coverage.get(f"A.2.{c}", 0) for c in "abcdefghi"),
        **manual_review(
            view.dataset,
            set(view.record_ids),
            sample=set(view.ids(view.sample_order[: policy.corpus.manual_sample_size])),
        ),
    }
    out.offenders["corpus.automated"] = view.ids([r for r in automated if harmful[r]])
    out.metrics["scan.automated_pass_rate"] = float(out.corpus["automated_pass_rate"])
    out.metrics["scan.lexicon_terms"] = float(out.corpus["lexicon_terms"])
    return out


def _rate_message(row: dict[str, Any], threshold: str) -> str:
    return Text(
        "harmful rate {rate:.2%} on a random sample of {sampled:,} ({flagged:,} flagged; "
        "95% bound {low:.2%}-{high:.2%}) is {beyond}",
        {
            "rate": row["harmful_rate"],
            "sampled": row["harmful_sampled"],
            "flagged": row["harmful_flagged"],
            "low": row["harmful_rate_low"],
            "high": row["harmful_rate_high"],
            "beyond": beyond(threshold, percent=True),
        },
    )


def _manual_message(row: dict[str, Any], threshold: str) -> str:
    outside = row.get("manual_outside_sample", 0)
    # Two expectations share this check: the pass rate (the policy's fraction, a float)
    # and the number of records reviewed (its sample size, an int); the threshold keeps
    # the parameter's type, so a sample of 1 is still a count and a rate of 1.0 a rate.
    is_rate = "." in threshold.rpartition(" ")[2]
    return Text(
        "{reviewed:,} record(s) of the drawn sample reviewed, pass rate {rate:.1%}, "
        "{beyond}{outside}{missing}",
        {
            "reviewed": row["manual_reviewed"],
            "rate": row["manual_pass_rate"],
            "beyond": beyond(threshold, percent=is_rate),
            "outside": Text(
                "; {count:,} verdict(s) on records outside the sample do not count",
                {"count": outside},
            )
            if outside
            else "",
            "missing": ""
            if row.get("manual_review_file")
            else Text("; review/manual_verdicts.csv is missing"),
        },
    )


MESSAGES: dict[str, Message] = {"harmful.rate": _rate_message}
CORPUS_MESSAGES: dict[str, Message] = {"corpus.manual": _manual_message}


def manual_review(dataset: Dataset, known_ids: set[str], *, sample: set[str]) -> dict[str, Any]:
    """The manual spot check of TC260-003 9.2, read from ``review/manual_verdicts.csv``.

    Only verdicts on records of the drawn sample count (the records with the smallest
    sampling keys, as ``write_review_sample`` writes them), so a reviewer cannot pick easy
    records; every verdict names its reviewer.
    """
    path = dataset.root / REVIEW_FILE
    if not path.exists():
        return {
            "manual_reviewed": 0,
            "manual_pass_rate": 0.0,
            "manual_review_file": False,
            "manual_outside_sample": 0,
        }
    verdicts: dict[str, str] = {}
    outside = 0
    for line, row in read_csv(
        path,
        ["record_id", "reviewer_id", "verdict"],
        expected="header record_id,reviewer_id,verdict,reviewed_at",
    ):
        verdict = row["verdict"].strip()
        if verdict not in ("pass", "fail"):
            raise ContractError(
                f"unknown verdict '{verdict}'",
                file=str(path),
                row=line,
                field="verdict",
                expected="pass or fail",
            )
        if not row["reviewer_id"].strip():
            raise ContractError(
                "a verdict must name its reviewer",
                file=str(path),
                row=line,
                field="reviewer_id",
                expected="the id of the person who reviewed the record",
            )
        if row["record_id"] not in known_ids:
            raise ContractError(
                f"record_id '{row['record_id']}' is not in the dataset",
                file=str(path),
                row=line,
                field="record_id",
            )
        if row["record_id"] not in sample:
            outside += 1  # reviewed, but not drawn: it cannot stand in for a sampled record
            continue
        verdicts[row["record_id"]] = verdict
    passed = sum(1 for v in verdicts.values() if v == "pass")
    return {
        "manual_reviewed": len(verdicts),
        "manual_pass_rate": passed / len(verdicts) if verdicts else 0.0,
        "manual_review_file": True,
        "manual_outside_sample": outside,
    }
