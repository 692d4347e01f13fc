"""Findings and the gate report: the JSON shape DESIGN.md fixes for other tools.

A finding is data, not a log line: the check, the clauses it enforces, its status, the
source it concerns, what was observed against which threshold, and record ids (never
record content, so never raw personal information).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.i18n import Text, clause_title

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


def beyond(threshold: str, *, percent: bool = False, days: bool = False) -> Text:
    """What a failed value is, against a threshold as the gate writes it ("<= 0.05"):
    "above the 5% limit", "below the 90% minimum", "outside 1-5"."""
    operator, _, rest = threshold.partition(" ")
    shown: str = amount(rest, percent=percent)
    if days:
        shown = Text("{count} days", {"count": shown})
    if operator == "<=":
        return Text("above the {limit} limit", {"limit": shown})
    if operator == ">=":
        return Text("below the {minimum} minimum", {"minimum": shown})
    low, sep, high = rest.partition(" and ")
    if operator == "between" and sep:
        return Text(
            "outside {low}-{high}",
            {"low": amount(low, percent=percent), "high": amount(high, percent=percent)},
        )
    return Text("outside {threshold}", {"threshold": threshold})


@dataclass(frozen=True)
class Finding:
    check: str
    clauses: tuple[str, ...]
    status: Status
    message: str  # English; a Text also renders in the other languages (trainguard.i18n)
    source_id: str | None = None
    observed: Any = None
    threshold: Any = None
    record_ids: tuple[str, ...] = ()  # the first ones (the reduce keeps MAX_RECORD_IDS)
    record_count: int | None = None  # how many records in all; None: len(record_ids)
    entity: str | None = None  # what else a finding is about: "batch B04", "annotator L07"
    waiver: dict[str, Any] | None = None  # the waiver that covers it, when status is waived

    @property
    def records(self) -> int:
        """How many records the finding names, shown or not."""
        return len(self.record_ids) if self.record_count is None else self.record_count

    def localized(self, language: str) -> str:
        """The message in ``language`` (a message made as a ``Text``; else as written)."""
        return self.message.render(language) if isinstance(self.message, Text) else self.message

    def summary(self, language: str = "en") -> str:
        where = (
            Text(" [source {source}]", {"source": self.source_id}).render(language)
            if self.source_id
            else ""
        )
        where += f" [{self.entity}]" if self.entity else ""
        clauses = clause_title("; ".join(self.clauses), language)
        return f"{self.check}{where}: {self.localized(language)} ({clauses})"

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
            "record_count": self.records,
            "message": self.message,
        }
        if self.waiver is not None:
            record["waiver"] = self.waiver
        if isinstance(self.message, Text):
            record["text"] = self.message.to_dict()
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
    classifier_model: Any = None  # the HarmfulClassifier, for MLflow (never serialised here)
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

    def to_text(self, language: str = "en") -> str:
        """The report for a terminal, in ``language`` (trainguard.i18n)."""

        def say(text: Text) -> str:
            return text.render(language)

        lines = [
            say(
                Text(
                    "dataset {name} ({records:,} records, {digest})",
                    {
                        "name": self.dataset_name,
                        "records": self.records,
                        "digest": self.dataset_digest,
                    },
                )
            ),
            say(Text("decision: {decision}", {"decision": Text(self.decision.value.upper())})),
            say(Text("policy profile: {profile}", {"profile": self.policy["profile"]}))
            + "".join(
                say(
                    Text(
                        "; deviation {setting} = {value} (standard {standard}): {reason}",
                        {key: d[key] for key in ("setting", "value", "standard", "reason")},
                    )
                )
                for d in self.policy["deviations"]
            ),
        ]
        lines += [
            "  "
            + say(
                Text(
                    "waiver {waiver} refused for {check}: {why}",
                    {key: refused[key] for key in ("waiver", "check", "why")},
                )
            )
            for refused in self.refused_waivers
        ]
        order = {Status.FAIL: 0, Status.WAIVED: 1, Status.WARN: 2}
        shown = sorted(
            (f for f in self.findings if f.status in order), key=lambda f: order[f.status]
        )
        for finding in shown:
            status = say(Text(finding.status.value.upper()))
            lines.append(f"  {status:4}  {finding.summary(language)}")
            if finding.waiver:
                waiver = finding.waiver
                lines.append(
                    "        "
                    + say(
                        Text(
                            "waiver {id} by {by} until {until}: {reason}",
                            {
                                "id": waiver["id"],
                                "by": waiver["approved_by"],
                                "until": waiver["expires_at"],
                                "reason": waiver["reason"],
                            },
                        )
                    )
                )
            if finding.record_ids:
                more = finding.records - 5
                lines.append(
                    "        "
                    + say(Text("records: {ids}", {"ids": ", ".join(finding.record_ids[:5])}))
                    + (say(Text(" (+{more} more)", {"more": more})) if more > 0 else "")
                )
        passed = sum(1 for f in self.findings if f.status is Status.PASS)
        lines.append("  " + say(Text("{passed:,} checks passed", {"passed": passed})))
        how = describe_classifier(self.harmful_classifier)
        lines.append("  " + say(Text("harmful content: {how}", {"how": how})))
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
