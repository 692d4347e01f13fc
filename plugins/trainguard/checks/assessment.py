"""Generated-content assessment (Art. 4, 6, 16; TC260-003 8, 9.3; GB 45438): banks and answers.

- ``assessment.bank_size``, ``assessment.bank_coverage``, ``assessment.bank_age``: each bank
  (generation, should_refuse, should_answer) has the policy's number of questions, every
  risk its minimum, and the banks' update date is recent enough;
- ``assessment.generation``: the share of sampled generation questions answered safely
  (lexicon, classifier, PI scanner, output filter);
- ``assessment.refusal`` / ``assessment.over_refusal``: the share of should-refuse questions
  the model declines, and of should-answer questions it wrongly declines;
- ``assessment.sample``: the samples are as large as the policy asks;
- ``assessment.labels``: sampled answers carry valid AIGC labels (when the policy asks).

``INPUT_CHECKS`` are decided before any suite runs: a bank folder that cannot be read
(unknown risk, duplicate id, bad header) fails the assessment by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainguard.findings import beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from trainguard.gate.gx import Table

CHECKS = {
    "assessment.bank_size": "TC260-003 8",
    "assessment.bank_coverage": "TC260-003 8",
    "assessment.bank_age": "TC260-003 8",
    "assessment.sample": "TC260-003 9.3",
    "assessment.generation": "Art. 4; TC260-003 9.3",
    "assessment.refusal": "Art. 4; TC260-003 9.3",
    "assessment.over_refusal": "TC260-003 9.3",
    "assessment.labels": "Art. 16; GB 45438-2025",
}
INPUT_CHECKS = {"assessment.banks": "Art. 6; TC260-003 8"}
SUITES = ["assessment_banks", "assessment_answers"]


def _rate(row: dict[str, Any], prefix: str, what: Text, limit: Text) -> Text:
    return Text(
        "{what} {rate:.1%} of {sampled:,} sampled questions ({confidence:.0%} bound "
        "{low:.1%}-{high:.1%}) is {limit}",
        {
            "what": what,
            "rate": row[prefix],
            "sampled": row[prefix + "_n"],
            "confidence": row["confidence"],
            "low": row[prefix + "_low"],
            "high": row[prefix + "_high"],
            "limit": limit,
        },
    )


def _minimum(value: float) -> Text:
    return Text("below the {minimum} minimum", {"minimum": f"{value:.1%}"})


_ANSWER_MESSAGES: dict[str, Any] = {
    "assessment.generation": lambda row, t: _rate(
        row,
        "generation_pass_rate",
        Text("safe-answer rate"),
        _minimum(row["min_generation_pass_rate"]),
    ),
    "assessment.refusal": lambda row, t: _rate(
        row,
        "should_refuse_refusal_rate",
        Text("refusal rate on should-refuse questions"),
        _minimum(row["min_refusal_rate"]),
    ),
    "assessment.over_refusal": lambda row, t: _rate(
        row,
        "should_answer_refusal_rate",
        Text("refusal rate on should-answer questions"),
        Text("above the {limit} limit", {"limit": f"{row['max_answer_refusal_rate']:.1%}"}),
    ),
    "assessment.sample": lambda row, t: Text(
        "samples of {generation:,} generation, {refuse:,} should-refuse and {answer:,} "
        "should-answer questions; the policy asks for {generation_sample:,} and "
        "{refusal_sample:,} per refusal bank",
        {
            "generation": row["generation_pass_rate_n"],
            "refuse": row["should_refuse_refusal_rate_n"],
            "answer": row["should_answer_refusal_rate_n"],
            "generation_sample": row["generation_sample"],
            "refusal_sample": row["refusal_sample"],
        },
    ),
    "assessment.labels": lambda row, t: Text(
        "{invalid:,} of {answers:,} sampled answers carry no valid AIGC label (explicit "
        "label and signed implicit metadata)",
        {"invalid": row["labels_invalid"], "answers": row["answers"]},
    ),
}
_BANK_MESSAGES: dict[str, Any] = {
    "assessment.bank_size": lambda row, t: Text(
        "{questions:,} questions; the policy asks for at least {required:,}",
        {"questions": row["questions"], "required": row["required_questions"]},
    ),
    "assessment.bank_coverage": lambda row, t: Text(
        "{count:,} risk(s) below their minimum number of questions: {risks}",
        {"count": row["risks_below_minimum"], "risks": row["short_risks"]},
    ),
    "assessment.bank_age": lambda row, t: (
        Text(
            "last updated {updated} ({age:,} days ago), {beyond}",
            {"updated": row["updated"], "age": row["age_days"], "beyond": beyond(t, days=True)},
        )
        if row["updated"] != "not stated"
        else Text("no update date: banks.yaml must state 'updated: YYYY-MM-DD'")
    ),
}


def tables(
    bank_rows: list[dict[str, Any]], answers_row: dict[str, Any], failed_ids: dict[str, list[str]]
) -> dict[str, Table]:
    """The two tables the ``assessment_*`` suites check; ``failed_ids``: check -> question ids."""
    from trainguard.gate.gx import Table

    return {
        "banks": Table("banks", bank_rows, key="bank", entity="bank", messages=_BANK_MESSAGES),
        "answers": Table(
            "answers",
            [answers_row],
            entity="assessment",
            record_ids=failed_ids,
            messages=_ANSWER_MESSAGES,
        ),
    }


def parameters(policy: Any) -> dict[str, Any]:
    """The policy thresholds the suites read as ``$PARAMETER``s."""
    settings = policy.assessment
    return {
        "max_bank_age_days": settings.max_bank_age_days,
        "generation_sample": settings.generation_sample,
        "refusal_sample": settings.refusal_sample,
        "min_generation_pass_rate": settings.min_generation_pass_rate,
        "min_refusal_rate": settings.min_refusal_rate,
        "max_answer_refusal_rate": settings.max_answer_refusal_rate,
    }
