"""Annotation governance (Art. 8): rules, trained annotators, spot checks, agreement.

From the annotation files and the record columns of a fine-tuning dataset this builds
three tables the ``annotation_*`` GX suites check: one row per rules version, per
annotator and per annotation batch; and the metadata an auditor needs under Art. 17.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.contract import RULES_SECTIONS, AnnotatorRole, Dataset
from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from pathlib import Path

    from trainguard.gate.gx import Table
    from trainguard.policy import Policy

CHECKS = {
    "annotation.rules": "Art. 8; TC260-003 5.3",
    "annotation.training": "Art. 8",
    "annotation.assessment": "Art. 8; GB/T 45674-2025",
    "annotation.roles": "Art. 8; TC260-003 5.3",
    "annotation.sampling": "Art. 8",
    "annotation.spot_checks": "Art. 8",
    "annotation.safety_review": "Art. 8; TC260-003 5.3",
    "annotation.agreement": "Art. 8",
}
_HEADING = re.compile(r"^#{1,6}\s*(.+?)\s*#*\s*$", re.MULTILINE)


def sampling_plan(records: int, policy: Policy) -> int:
    """Spot checks a batch needs: the policy rate, at least the minimum, at most all."""
    rate = math.ceil(policy.annotation.spot_check_rate * records)
    return min(records, max(policy.annotation.min_spot_checks, rate))


@dataclass
class AnnotationReview:
    rules: list[dict[str, Any]] = field(default_factory=list)
    annotators: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    record_ids: dict[str, list[str]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, Table]:
        from trainguard.gate.gx import Table

        return {
            "rules": Table(
                "rules",
                self.rules,
                key="rules_version",
                entity="rules version",
                record_ids=self.record_ids,
            ),
            "annotators": Table(
                "annotators",
                self.annotators,
                key="annotator_id",
                entity="annotator",
                record_ids=self.record_ids,
                messages=_ANNOTATOR_MESSAGES,
            ),
            "batches": Table(
                "batches",
                self.batches,
                key="annotation_batch",
                entity="batch",
                record_ids=self.record_ids,
                messages=_BATCH_MESSAGES,
            ),
        }


def review_annotation(dataset: Dataset, policy: Policy) -> AnnotationReview:
    """Measure the annotation of a fine-tuning dataset (empty review for pretraining)."""
    import pyarrow as pa

    from trainguard.checks.stats import wilson_interval

    review = AnnotationReview()
    annotation = dataset.annotation
    if annotation is None:
        return review
    columns = [
        "record_id",
        "annotation_type",
        "annotator_id",
        "reviewer_id",
        "annotation_batch",
        "rules_version",
        "label",
        "second_label",
    ]
    table = pa.Table.from_batches([b for _, _, b in dataset.iter_batches(columns)])
    get: dict[str, list[Any]] = {
        name: (
            table.column(name).to_pylist()
            if name in table.column_names
            else [None] * table.num_rows
        )
        for name in columns
    }
    ids = get["record_id"]
    rows = range(table.num_rows)

    # Rules: each version's file hashed and checked for the required sections.
    used = Counter(get["rules_version"])
    for version in sorted(set(annotation.rules) | set(used)):
        path = annotation.rules.get(version)
        text = path.read_text(encoding="utf-8") if path else ""
        headings = {h.strip().lower() for h in _HEADING.findall(text)}
        missing = [s for s in RULES_SECTIONS if s not in headings]
        review.rules.append(
            {
                "rules_version": version,
                "exists": path is not None,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path else "",
                "missing_sections": len(missing) if path else len(RULES_SECTIONS),
                "missing_section_names": ", ".join(missing),
                "records": used.get(version, 0),
            }
        )
        review.record_ids[f"annotation.rules:{version}"] = (
            [ids[r] for r in rows if get["rules_version"][r] == version] if not path else []
        )

    # Annotators: trained on the version they label, assessed, roles kept apart.
    trained: dict[str, set[str]] = defaultdict(set)
    role: dict[str, str] = {}
    score: dict[str, float] = {}
    latest: dict[str, Any] = {}
    for row in annotation.annotators:
        trained[row.annotator_id].add(row.trained_rules_version)
        role[row.annotator_id] = row.role.value
        if row.annotator_id not in latest or row.assessed_at >= latest[row.annotator_id]:
            latest[row.annotator_id] = row.assessed_at
            score[row.annotator_id] = row.assessment_score
    people = sorted(set(get["annotator_id"]) | {r for r in get["reviewer_id"] if r})
    minimum = policy.annotation.min_assessment_score
    for person in people:
        labelled = [r for r in rows if get["annotator_id"][r] == person]
        reviewed = [r for r in rows if get["reviewer_id"][r] == person]
        untrained = [r for r in labelled if get["rules_version"][r] not in trained[person]]
        self_reviewed = [r for r in labelled if get["reviewer_id"][r] == person]
        without_role = reviewed if role.get(person) != AnnotatorRole.REVIEWER.value else []
        review.annotators.append(
            {
                "annotator_id": person,
                "role": role.get(person, "unregistered"),
                "records_labelled": len(labelled),
                "records_reviewed": len(reviewed),
                "untrained_records": len(untrained),
                "trained_versions": ", ".join(sorted(trained[person])) or "none",
                "assessment_score": score.get(person, 0.0),
                "below_score": int(person not in score or score[person] < minimum),
                "self_reviewed": len(self_reviewed),
                "reviews_without_role": len(without_role),
                # One expectation, so one finding per person, whichever rule it broke.
                "role_violations": len(set(self_reviewed) | set(without_role)),
            }
        )
        review.record_ids[f"annotation.training:{person}"] = [ids[r] for r in untrained]
        # A self-reviewed item by someone without the reviewer role breaks both rules: once.
        role_rows = sorted(set(self_reviewed) | set(without_role))
        review.record_ids[f"annotation.roles:{person}"] = [ids[r] for r in role_rows]

    # Batches: spot checks against the sampling plan, accuracy with its bound, safety
    # items reviewed, and agreement where items carry two independent labels.
    checks_by_record: dict[str, str] = {c.record_id: c.verdict for c in annotation.spot_checks}
    batch_rows: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        batch_rows[get["annotation_batch"][r]].append(r)
    for batch, members in sorted(batch_rows.items()):
        checked = [r for r in members if ids[r] in checks_by_record]
        correct = sum(1 for r in checked if checks_by_record[ids[r]] == "correct")
        low, high = wilson_interval(correct, len(checked), policy.harmful.confidence)
        safety = [r for r in members if get["annotation_type"][r] == "safety"]
        unreviewed = [r for r in safety if not get["reviewer_id"][r]]
        review.batches.append(
            {
                "annotation_batch": batch,
                "rules_versions": ", ".join(sorted({get["rules_version"][r] for r in members})),
                "records": len(members),
                "spot_checks": len(checked),
                "spot_checks_correct": correct,
                "required_checks": sampling_plan(len(members), policy),
                "accuracy": correct / len(checked) if checked else 0.0,
                "accuracy_low": low,
                "accuracy_high": high,
                "safety_items": len(safety),
                "safety_unreviewed": len(unreviewed),
                "kappa": _kappa(
                    [get["label"][r] for r in members], [get["second_label"][r] for r in members]
                ),
            }
        )
        review.record_ids[f"annotation.spot_checks:{batch}"] = [
            ids[r] for r in checked if checks_by_record[ids[r]] == "incorrect"
        ]
        review.record_ids[f"annotation.safety_review:{batch}"] = [ids[r] for r in unreviewed]

    checked_total = sum(b["spot_checks"] for b in review.batches)
    correct_total = sum(b["spot_checks_correct"] for b in review.batches)
    low, high = wilson_interval(correct_total, checked_total, policy.harmful.confidence)
    kappas = [b["kappa"] for b in review.batches if b["kappa"] is not None]
    review.metadata = {
        "rules": {r["rules_version"]: r["sha256"] for r in review.rules if r["exists"]},
        "records": table.num_rows,
        "types": dict(Counter(get["annotation_type"])),
        "annotators": {
            "labelers": sum(1 for a in review.annotators if a["records_labelled"]),
            "reviewers": sum(1 for a in review.annotators if a["role"] == "reviewer"),
            "untrained": sum(1 for a in review.annotators if a["untrained_records"]),
            "trained_on": {a["annotator_id"]: a["trained_versions"] for a in review.annotators},
        },
        "spot_checks": {
            "checked": checked_total,
            "accuracy": correct_total / checked_total if checked_total else 0.0,
            "accuracy_low": low,
            "accuracy_high": high,
        },
        "kappa_mean": sum(kappas) / len(kappas) if kappas else None,
    }
    return review


def write_spot_check_sample(dataset: Dataset, policy: Policy, out: Path) -> int:
    """Per batch, the records still to spot-check under the sampling plan (random order)."""
    import csv

    from trainguard.checks.stats import sample_key
    from trainguard.exceptions import ContractError

    if dataset.annotation is None:
        raise ContractError(
            "not a fine-tuning dataset: it has no annotation/",
            file=str(dataset.root / "dataset.yaml"),
            field="stage",
        )
    checked = {c.record_id for c in dataset.annotation.spot_checks}
    by_batch: dict[str, list[str]] = defaultdict(list)
    for _, _, batch in dataset.iter_batches(["record_id", "annotation_batch"]):
        for record_id, name in zip(
            batch.column("record_id").to_pylist(),
            batch.column("annotation_batch").to_pylist(),
            strict=True,
        ):
            by_batch[name].append(record_id)
    rows = []
    for name, members in sorted(by_batch.items()):
        needed = sampling_plan(len(members), policy) - sum(m in checked for m in members)
        todo = sorted(
            (m for m in members if m not in checked),
            key=lambda m: sample_key(dataset.manifest.name, m),
        )
        rows += [(m, name) for m in todo[: max(0, needed)]]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["record_id", "annotation_batch", "checker_id", "verdict", "checked_at"])
        writer.writerows([record_id, name, "", "", ""] for record_id, name in rows)
    return len(rows)


def _kappa(first: list[Any], second: list[Any]) -> float | None:
    """Cohen's kappa over the items with two labels (None when fewer than 10)."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a and b]
    if len(pairs) < 10:
        return None
    from sklearn.metrics import cohen_kappa_score

    a, b = zip(*pairs, strict=True)
    if len(set(a) | set(b)) < 2:
        return 1.0  # one label everywhere: perfect agreement, kappa undefined
    return float(cohen_kappa_score(a, b))


_BATCH_MESSAGES: dict[str, Any] = {
    "annotation.spot_checks": lambda row, t: Text(
        "spot-check accuracy {accuracy:.1%} on {checks:,} checks (95% bound "
        "{low:.1%}-{high:.1%}) is {beyond}",
        {
            "accuracy": row["accuracy"],
            "checks": row["spot_checks"],
            "low": row["accuracy_low"],
            "high": row["accuracy_high"],
            "beyond": beyond(t, percent=True),
        },
    ),
    "annotation.sampling": lambda row, t: Text(
        "{checks:,} spot checks for {records:,} records; the sampling plan needs {required:,}",
        {
            "checks": row["spot_checks"],
            "records": row["records"],
            "required": row["required_checks"],
        },
    ),
    "annotation.safety_review": lambda row, t: Text(
        "{unreviewed:,} of {items:,} safety items have no reviewer",
        {"unreviewed": row["safety_unreviewed"], "items": row["safety_items"]},
    ),
    "annotation.agreement": lambda row, t: Text(
        "Cohen's kappa {kappa:.2f} between independent labels is {beyond}",
        {"kappa": row["kappa"], "beyond": beyond(t)},
    ),
}
_ANNOTATOR_MESSAGES: dict[str, Any] = {
    "annotation.training": lambda row, t: Text(
        "labelled {records:,} record(s) under rules it was not trained on (trained on: {versions})",
        {"records": row["untrained_records"], "versions": row["trained_versions"]},
    ),
    "annotation.assessment": lambda row, t: Text(
        "assessment score {score:.2f} below the policy minimum, or missing",
        {"score": row["assessment_score"]},
    ),
    "annotation.roles": lambda row, t: Text(
        "{self_reviewed:,} self-reviewed item(s), {without_role:,} review(s) without the "
        "reviewer role ({role})",
        {
            "self_reviewed": row["self_reviewed"],
            "without_role": row["reviews_without_role"],
            "role": row["role"],
        },
    ),
}
