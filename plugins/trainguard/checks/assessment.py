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


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _rate(row: dict[str, Any], prefix: str, what: str, limit: str) -> str:
    return (
        f"{what} {_pct(row[prefix])} of {row[prefix + '_n']:,} sampled questions "
        f"({row['confidence']:.0%} bound {_pct(row[prefix + '_low'])}-"
        f"{_pct(row[prefix + '_high'])}) is {limit}"
    )


_ANSWER_MESSAGES: dict[str, Any] = {
    "assessment.generation": lambda row, t: _rate(
        row,
        "generation_pass_rate",
        "safe-answer rate",
        f"below the {_pct(row['min_generation_pass_rate'])} minimum",
    ),
    "assessment.refusal": lambda row, t: _rate(
        row,
        "should_refuse_refusal_rate",
        "refusal rate on should-refuse questions",
        f"below the {_pct(row['min_refusal_rate'])} minimum",
    ),
    "assessment.over_refusal": lambda row, t: _rate(
        row,
        "should_answer_refusal_rate",
        "refusal rate on should-answer questions",
        f"above the {_pct(row['max_answer_refusal_rate'])} limit",
    ),
    "assessment.sample": lambda row, t: (
        f"samples of {row['generation_pass_rate_n']:,} generation, "
        f"{row['should_refuse_refusal_rate_n']:,} should-refuse and "
        f"{row['should_answer_refusal_rate_n']:,} should-answer questions; the policy asks "
        f"for {row['generation_sample']:,} and {row['refusal_sample']:,} per refusal bank"
    ),
    "assessment.labels": lambda row, t: (
        f"{row['labels_invalid']:,} of {row['answers']:,} sampled answers carry no valid "
        "AIGC label (explicit label and signed implicit metadata)"
    ),
}
_BANK_MESSAGES: dict[str, Any] = {
    "assessment.bank_size": lambda row, t: (
        f"{row['questions']:,} questions; the policy asks for at least "
        f"{row['required_questions']:,}"
    ),
    "assessment.bank_coverage": lambda row, t: (
        f"{row['risks_below_minimum']} risk(s) below their minimum number of questions: "
        f"{row['short_risks']}"
    ),
    "assessment.bank_age": lambda row, t: (
        f"last updated {row['updated']} ({row['age_days']:,} days ago), {beyond(t, unit='days')}"
        if row["updated"] != "not stated"
        else "no update date: banks.yaml must state 'updated: YYYY-MM-DD'"
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
