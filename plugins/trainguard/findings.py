"""Findings and the gate report: the JSON shape DESIGN.md fixes for other tools.

A finding is data, not a log line: the check, the clauses it enforces, its status, the
source it concerns, what was observed against which threshold, and record ids (never
record content, so never raw personal information).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    WAIVED = "waived"  # failed, but a reviewer's unexpired waiver covers it (trainguard.waivers)


# Failed first, then waived, warnings, passes: how every table of findings is ordered.
STATUS_ORDER = {Status.FAIL: 0, Status.WAIVED: 1, Status.WARN: 2, Status.PASS: 3}


def status_rank(status: str) -> int:
    """A finding's place in ``STATUS_ORDER`` (unknown statuses last)."""
    return STATUS_ORDER.get(status, len(STATUS_ORDER))  # type: ignore[call-overload]


class Decision(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"


LEXICON_ONLY = {
    "mode": "lexicon only",
    "note": "no classifier configured (policy harmful.classifier_training): the harmful "
    "rate counts lexicon hits alone",
}
MAX_RECORD_IDS = 100  # per finding in the report; the full list goes to the annotations file


def amount(value: Any, *, percent: bool = False) -> str:
    """A number as a sentence shows it: 0.05 -> "5%" for a rate, 12000 -> "12,000"."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if percent:
        return f"{number * 100:.3g}%"
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.4g}"


def beyond(threshold: str, *, percent: bool = False, unit: str = "") -> str:
    """What a failed value is, against a threshold as the gate writes it ("<= 0.05"):
    "above the 5% limit", "below the 90% minimum", "outside 1-5"."""
    unit = f" {unit}" if unit else ""
    operator, _, rest = threshold.partition(" ")
    if operator == "<=":
        return f"above the {amount(rest, percent=percent)}{unit} limit"
    if operator == ">=":
        return f"below the {amount(rest, percent=percent)}{unit} minimum"
    low, sep, high = rest.partition(" and ")
    if operator == "between" and sep:
        return f"outside {amount(low, percent=percent)}-{amount(high, percent=percent)}{unit}"
    return f"outside {threshold}"


@dataclass(frozen=True)
class Finding:
    check: str
    clauses: tuple[str, ...]
    status: Status
    message: str
    source_id: str | None = None
    observed: Any = None
    threshold: Any = None
    record_ids: tuple[str, ...] = ()
    entity: str | None = None  # what else a finding is about: "batch B04", "annotator L07"
    waiver: dict[str, Any] | None = None  # the waiver that covers it, when status is waived

    def summary(self) -> str:
        where = f" [source {self.source_id}]" if self.source_id else ""
        where += f" [{self.entity}]" if self.entity else ""
        return f"{self.check}{where}: {self.message} ({'; '.join(self.clauses)})"

    def to_dict(self) -> dict[str, Any]:
        record = {
            "check": self.check,
            "clauses": list(self.clauses),
            "status": self.status.value,
            "source_id": self.source_id,
            "entity": self.entity,
            "observed": self.observed,
            "threshold": self.threshold,
            "record_ids": list(self.record_ids[:MAX_RECORD_IDS]),
            "message": self.message,
        }
        if self.waiver is not None:
            record["waiver"] = self.waiver
        return record


@dataclass
class GateReport:
    dataset_name: str
    dataset_digest: str
    records: int
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    data_docs: Path | None = None  # GX Data Docs site built for this decision
    tables: dict[str, Any] = field(default_factory=dict)  # PI-free measures the suites read
    review_sample: Path | None = None  # records to review by hand (PI masked), when due
    annotation: dict[str, Any] = field(default_factory=dict)  # Art. 8/17 metadata
    waivers: list[Any] = field(default_factory=list)  # trainguard.waivers.Waiver honoured
    composition: dict[str, Any] = field(default_factory=dict)  # manifest + sources (Art. 17)
    # How harmful content was judged: the trained classifier's summary, or the lexicon alone.
    harmful_classifier: dict[str, Any] = field(default_factory=lambda: dict(LEXICON_ONLY))
    classifier_model: Any = None  # the trained pipeline, for MLflow (never serialised here)
    # The policy's profile and its deviations from the standard (Policy.governance()).
    policy: dict[str, Any] = field(
        default_factory=lambda: {"profile": "development", "deviations": []}
    )
    refused_waivers: list[dict[str, Any]] = field(default_factory=list)  # profile forbade

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    @property
    def decision(self) -> Decision:
        # Fail closed: one failed check fails the gate.
        return Decision.FAIL if self.failed else Decision.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": {
                "name": self.dataset_name,
                "digest": self.dataset_digest,
                "records": self.records,
            },
            "decision": self.decision.value,
            "findings": [f.to_dict() for f in self.findings],
            "waivers": [w.to_dict() for w in self.waivers],
            "refused_waivers": self.refused_waivers,
            "harmful_classifier": self.harmful_classifier,
            "policy": self.policy,
        }

    def to_text(self) -> str:
        lines = [
            f"dataset {self.dataset_name} ({self.records} records, {self.dataset_digest})",
            f"decision: {self.decision.value.upper()}",
            f"policy profile: {self.policy['profile']}"
            + "".join(
                f"; deviation {d['setting']} = {d['value']} (standard {d['standard']}): "
                f"{d['reason']}"
                for d in self.policy["deviations"]
            ),
        ]
        lines += [
            f"  waiver {refused['waiver']} refused for {refused['check']}: {refused['why']}"
            for refused in self.refused_waivers
        ]
        order = {Status.FAIL: 0, Status.WAIVED: 1, Status.WARN: 2}
        shown = sorted(
            (f for f in self.findings if f.status in order), key=lambda f: order[f.status]
        )
        for finding in shown:
            lines.append(f"  {finding.status.value.upper():4}  {finding.summary()}")
            if finding.waiver:
                lines.append(
                    f"        waiver {finding.waiver['id']} by "
                    f"{finding.waiver['approved_by']} until "
                    f"{finding.waiver['expires_at']}: {finding.waiver['reason']}"
                )
            if finding.record_ids:
                more = len(finding.record_ids) - 5
                lines.append(
                    "        records: "
                    + ", ".join(finding.record_ids[:5])
                    + (f" (+{more} more)" if more > 0 else "")
                )
        passed = sum(1 for f in self.findings if f.status is Status.PASS)
        lines.append(f"  {passed} checks passed")
        lines.append(f"  harmful content: {describe_classifier(self.harmful_classifier)}")
        return "\n".join(lines)


def describe_classifier(summary: dict[str, Any]) -> str:
    """One line on how harmful content was judged, for the report and the MLflow note."""
    if summary.get("mode") != "classifier":
        return "lexicon only (no classifier configured)"
    validation = summary["validation"]
    return (
        f"lexicon and a classifier trained on {summary['trained_on']} examples "
        f"(sha256 {summary['training_sha256'][:12]}); held out: precision "
        f"{validation['precision']:.3f}, recall {validation['recall']:.3f}, false-positive "
        f"rate {validation['false_positive_rate']:.3f}"
    )
