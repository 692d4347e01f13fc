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

from trainguard.checks.base import Measures, Message, Offenders, Sample, key_bins
from trainguard.checks.stats import sample_key, wilson_interval
from trainguard.contract import Dataset, read_csv
from trainguard.exceptions import ContractError
from trainguard.findings import MAX_RECORD_IDS as MAX_SHOWN
from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from trainguard.checks.base import Partial, ScanBatch, Tally
    from trainguard.policy import Policy

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


def tally(batch: ScanBatch, partial: Partial, policy: Policy) -> None:
    """Offer the batch to each source's sample and to the corpus's manual sample."""
    import numpy as np

    record_ids, hits, scores = batch["record_id"], batch["lexicon_hit"], batch["harmful_score"]
    sources = np.asarray(batch["source_id"], dtype=object)
    rows = np.arange(batch.first_row, batch.first_row + len(batch))
    for source_id in sorted(set(batch["source_id"])):
        chosen = np.flatnonzero(sources == source_id)

        def entry(i: int, chosen: Any = chosen) -> list[Any]:
            row = int(chosen[i])
            return [record_ids[row], hits[row], scores[row]]

        partial.sample(f"harmful:{source_id}", policy.harmful.sample_size).offer(
            batch.keys[chosen], batch.shard, rows[chosen], entry
        )
    partial.sample("manual", policy.corpus.manual_sample_size).offer(
        batch.keys, batch.shard, rows, record_ids.__getitem__
    )


def measure(tally: Tally) -> Measures:
    """Harmful rates per source, the corpus samples, and the lexicon's coverage."""
    policy = tally.policy
    threshold = policy.harmful.classifier_threshold
    out = Measures(messages=MESSAGES, corpus_messages=CORPUS_MESSAGES)
    samples = {s: tally.sample(f"harmful:{s}") for s in sorted(tally.dataset.sources)}
    # Rare: a sampled record above its shard's scoring bound (scan_shard); scored here.
    unscored = [
        rid
        for sample in samples.values()
        for rid, hit, score in sample
        if score is None and not hit
    ]
    late = tally.scores(unscored) if unscored and tally.classifier() else {}
    for source_id, sample in samples.items():  # each: smallest sampling keys first
        flagged = [
            rid
            for rid, hit, score in sample
            if _is_harmful(hit, late.get(rid) if score is None else score, threshold)
        ]
        low, high = wilson_interval(len(flagged), len(sample), policy.harmful.confidence)
        out.offenders[f"harmful.rate:{source_id}"] = Offenders(flagged)
        out.sources[source_id] = {
            "harmful_sampled": len(sample),
            "harmful_flagged": len(flagged),
            "harmful_rate": len(flagged) / len(sample) if sample else 0.0,
            "harmful_rate_low": low,
            "harmful_rate_high": high,
        }
        out.metrics[f"harmful_rate.{source_id}"] = float(out.sources[source_id]["harmful_rate"])

    total = tally.records
    sampled, passed, offenders = automated_sample(
        tally, math.ceil(policy.corpus.automated_sample_fraction * total)
    )
    coverage = tally.lexicon.coverage()
    out.corpus = {
        "automated_sampled": sampled,
        "automated_sample_fraction": sampled / total if total else 0.0,
        "automated_pass_rate": passed / sampled if sampled else 1.0,
        "lexicon_terms": len(tally.lexicon.terms),
        "lexicon_min_a1": min(coverage.get(f"A.1.{c}", 0) for c in "abcdefgh"),
        "lexicon_min_a2": min(coverage.get(f"A.2.{c}", 0) for c in "abcdefghi"),
        **manual_review(tally.dataset, tally.existing, sample=set(tally.sample("manual"))),
    }
    out.offenders["corpus.automated"] = offenders
    out.metrics["scan.automated_pass_rate"] = float(out.corpus["automated_pass_rate"])
    out.metrics["scan.lexicon_terms"] = float(out.corpus["lexicon_terms"])
    return out


def _is_harmful(hit: bool, score: float | None, threshold: float) -> bool:
    return bool(hit) or (score is not None and score >= threshold)


def automated_sample(tally: Tally, wanted: int) -> tuple[int, int, Offenders]:
    """The corpus's automated sample (TC260-003 9.2): the ``wanted`` records with the
    smallest (sampling key, shard, row); returns its size, how many passed, and the
    flagged ones, smallest key first.

    The histogram of keys locates the bin holding the last sampled record; one pass over
    that bin's keys finds the exact cut and a second counts the records below it, so
    memory holds one bin, never a fraction of the corpus.
    """
    import numpy as np

    if wanted <= 0:
        return 0, 0, Offenders()
    cumulative = np.cumsum(tally.partial.histogram)
    edge = int(np.searchsorted(cumulative, wanted))  # the bin of the last sampled key
    before = int(cumulative[edge - 1]) if edge else 0
    in_bin: list[tuple[float, int, int]] = []
    for batch in tally.batches(["sample_key"]):
        for j in np.flatnonzero(key_bins(batch.keys) == edge).tolist():
            in_bin.append((float(batch.keys[j]), batch.shard, batch.first_row + j))
    cut = sorted(in_bin)[wanted - before - 1]
    threshold = tally.policy.harmful.classifier_threshold
    classifier = tally.classifier()
    flagged = Sample(MAX_SHOWN)
    sampled = flagged_count = 0
    unscored: list[tuple[float, int, int, str]] = []
    for batch in tally.batches(["record_id", "sample_key", "lexicon_hit", "harmful_score"]):
        for i in np.flatnonzero(batch.keys <= cut[0]).tolist():
            rank = (float(batch.keys[i]), batch.shard, batch.first_row + int(i))
            if rank > cut:
                continue
            sampled += 1
            hit, score = batch["lexicon_hit"][i], batch["harmful_score"][i]
            if classifier and score is None and not hit:
                # Rare: a sampled record above the shards' scoring bound; scored below.
                unscored.append((*rank, batch["record_id"][i]))
            elif _is_harmful(hit, score, threshold):
                flagged_count += 1
                _keep_first(flagged, (*rank, batch["record_id"][i]))
    if classifier and unscored:
        scores = tally.scores([entry[3] for entry in unscored])
        for entry in unscored:
            if scores[entry[3]] >= threshold:
                flagged_count += 1
                _keep_first(flagged, entry)
    return sampled, sampled - flagged_count, Offenders(flagged.payloads(), flagged_count)


def _keep_first(sample: Sample, entry: tuple[float, int, int, str]) -> None:
    if len(sample.entries) < sample.size or entry < sample.entries[-1]:
        sample.entries = sorted([*sample.entries, entry])[: sample.size]


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


def manual_review(
    dataset: Dataset, existing: Callable[[set[str]], set[str]], *, sample: set[str]
) -> dict[str, Any]:
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
    rows = list(
        read_csv(
            path,
            ["record_id", "reviewer_id", "verdict"],
            expected="header record_id,reviewer_id,verdict,reviewed_at",
        )
    )
    known_ids = existing({row["record_id"] for _, row in rows})
    verdicts: dict[str, str] = {}
    outside = 0
    for line, row in rows:
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
