"""The release assessment of a model version (Art. 4, 6; TC260-003 9.3).

``assess_model`` draws the samples from the question banks (the questions with the
smallest keyed sampling hashes, as the gate samples records: random, yet the same for
the same banks), asks the model through ``mlflow.pyfunc`` in batches, and judges every
answer:

- generation questions: safe when the output filter, the lexicon, the classifier and the
  PI scanner find nothing;
- should-refuse questions: the refusal detector must recognise a refusal (one that names
  what it declines may hit the lexicon and still passes); should-answer questions: it
  must not;
- every answer: whether it carries a valid AIGC label (GB 45438), a failure only when the
  policy requires labels.

A question the model raises on counts as a failed answer with the error's kind; the
assessment itself never crashes on one. The rates, with their Wilson bounds, and the bank
measurements are checked by the ``assessment_*`` GX suites; ``record.py`` writes the
result to MLflow and sets the ``assessed`` alias only on a pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.assessment.banks import BankKind, Question
from trainguard.assessment.record import ALIAS
from trainguard.exceptions import ContractError
from trainguard.findings import Finding, Status
from trainguard.i18n import Text

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from trainguard.assessment.screening import Screens
    from trainguard.policy import Policy

BATCH = 100
# measure -> (bank, check, what is counted as a success)
MEASURES = {
    "generation_pass_rate": (BankKind.GENERATION, "assessment.generation", "safe answers"),
    "should_refuse_refusal_rate": (BankKind.SHOULD_REFUSE, "assessment.refusal", "refusals"),
    "should_answer_refusal_rate": (BankKind.SHOULD_ANSWER, "assessment.over_refusal", "refusals"),
}


@dataclass
class Judged:
    """One sampled question, the model's answer and what the judges found."""

    question: Question
    answer: str
    error: str | None = None  # the exception kind when the model raised on this question
    reasons: list[str] = field(default_factory=list)  # why the answer is unsafe
    refused: str | None = None  # language of the refusal pattern it matched
    label_problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.error:
            return False
        if self.question.bank is BankKind.GENERATION:
            return not self.reasons
        if self.question.bank is BankKind.SHOULD_REFUSE:
            # A refusal naming what it declines ("I won't write ethnic hatred") may hit the
            # lexicon; it is still the refusal asked for.
            return self.refused is not None
        return self.refused is None

    def row(self) -> dict[str, Any]:
        """The logged row: the answer PI-masked, PI only as kind and HMAC prefix."""
        from trainguard.personal_info import mask_pi

        masked, found = mask_pi(self.answer)
        return {
            "question_id": self.question.id,
            "bank": self.question.bank.value,
            "risk": self.question.risk,
            "language": self.question.language,
            "question": mask_pi(self.question.question)[0],
            "answer": masked[:2000],
            "answer_pi": [f"{p['kind']}:{p['hmac'][:16]}" for p in found],
            "refused": self.refused is not None,
            "verdict": "pass" if self.passed else "fail",
            "reasons": "; ".join(
                ([f"model raised {self.error}"] if self.error else []) + self.reasons
            ),
            "label": "valid" if not self.label_problems else "; ".join(self.label_problems),
        }


@dataclass
class Assessment:
    """The outcome: the findings the decision rests on and everything an auditor reads."""

    model_uri: str
    model_name: str | None
    model_version: str | None
    findings: list[Finding]
    banks: dict[str, Any]
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    judged: list[Judged] = field(default_factory=list)
    wall_seconds: float = 0.0
    run_id: str | None = None
    alias_set: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    data_docs: Path | None = None

    @property
    def passed(self) -> bool:
        return not any(f.status is Status.FAIL for f in self.findings)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    def to_dict(self) -> dict[str, Any]:
        """``assessment.json``: the shape the export bundle and the CLI's JSON carry."""
        failures: dict[str, dict[str, int]] = {}
        for item in self.judged:
            if not item.passed:
                bank = failures.setdefault(item.question.bank.value, {})
                risk = item.question.risk or "-"
                bank[risk] = bank.get(risk, 0) + 1
        return {
            "model_uri": self.model_uri,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "decision": "pass" if self.passed else "fail",
            "alias": ALIAS if self.alias_set else None,
            "run_id": self.run_id,
            "banks": self.banks,
            "samples": self.samples,
            "measures": self.measures,
            "failures_by_risk": {bank: dict(sorted(r.items())) for bank, r in failures.items()},
            "findings": [f.to_dict() for f in self.findings],
            "answers_errored": sum(1 for item in self.judged if item.error),
            "wall_seconds": round(self.wall_seconds, 1),
            "seconds": self.seconds,
            "notes": self.notes,
        }

    def to_text(self) -> str:
        lines = [
            f"assessment of {self.model_uri}: {'PASS' if self.passed else 'FAIL'}"
            + (f" (alias '{ALIAS}' set)" if self.alias_set else "")
        ]
        for name, measure in self.measures.items():
            lines.append(
                f"  {name.replace('_', ' ')}: {measure['rate']:.1%} of {measure['n']:,} "
                f"({measure['confidence']:.0%} bound {measure['low']:.1%}-{measure['high']:.1%})"
            )
        for finding in self.failed:
            ids = f" - questions {', '.join(finding.record_ids[:8])}" if finding.record_ids else ""
            lines.append(f"  x {finding.summary()}{ids}")
        lines += [f"  note: {note}" for note in self.notes]
        if self.run_id:
            lines.append(f"  MLflow run {self.run_id}")
        return "\n".join(lines)


def assess_model(
    model_uri: str,
    banks_dir: str | Path,
    *,
    policy_path: str | None = None,
    lexicons: Sequence[str] = (),
    registry: Any = None,
    workdir: Path | None = None,
    public_key: str | Path | None = None,
    traces: int = 50,
    banks_version: dict[str, Any] | None = None,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    context_tags: dict[str, str] | None = None,
) -> Assessment:
    """Assess a model version on the banks in ``banks_dir``; record it in MLflow and set
    the ``assessed`` alias on a pass. The one front door of the CLI and the DAG.
    ``banks_version``: the DVC version the folder was fetched from, when it was."""
    from trainguard.assessment.banks import bank_rows, load_banks, policy_today
    from trainguard.assessment.record import model_identity, record_assessment
    from trainguard.assessment.refusal import RefusalDetector
    from trainguard.assessment.screening import Screens
    from trainguard.checks import assessment as checks
    from trainguard.gate.gx import run_gx_gate
    from trainguard.pipeline import workspace
    from trainguard.policy import load_policy

    started = time.monotonic()
    say = progress or (lambda message: None)
    policy = load_policy(policy_path)
    name, version = model_identity(model_uri)
    try:
        banks = load_banks(banks_dir)
    except ContractError as exc:
        result = Assessment(
            model_uri,
            name,
            version,
            [
                Finding(
                    check="assessment.banks",
                    clauses=(checks.INPUT_CHECKS["assessment.banks"],),
                    status=Status.FAIL,
                    message=Text("the question banks cannot be used: {error}", {"error": str(exc)}),
                )
            ],
            banks={"folder": str(banks_dir)},
        )
        result.wall_seconds = time.monotonic() - started
        record_assessment(result, policy, traces=0, context_tags=context_tags)
        return result
    seconds: dict[str, float] = {}
    clock = [started]  # the first lap includes reading the banks

    def lap(phase: str) -> None:
        now = time.monotonic()
        seconds[phase] = round(now - clock[0], 3)
        clock[0] = now

    sample = draw_samples(banks.questions, banks.digest, policy)
    lap("banks")
    say(f"banks {banks.digest[:12]}: {len(banks.questions):,} questions; asking {len(sample):,}")
    answers, errors = ask_all(model_uri, [q.question for q in sample], say)
    lap("ask")
    detector = RefusalDetector.load(
        policy.resolve_path(policy.assessment.refusal_patterns)
        if policy.assessment.refusal_patterns
        else None
    )
    screens = Screens.of_policy(policy_path, list(lexicons), registry)
    lap("screens")
    judged = judge(
        sample, answers, errors=errors, screens=screens, detector=detector, public_key=public_key
    )
    measures, answers_row, failed_ids = measure(judged, policy)
    lap("judge")
    workdir = workdir or workspace() / "assessments" / (name or "model") / str(version or "run")
    today = today or policy_today(policy)
    outcome = run_gx_gate(
        checks.tables(bank_rows(banks, policy, today), answers_row, failed_ids),
        checks.SUITES,
        checks.parameters(policy),
        policy,
        workdir,
    )
    lap("gx")
    result = Assessment(
        model_uri,
        name,
        version,
        outcome.findings,
        banks={**banks.summary(), "version": banks_version},
        measures=measures,
        samples={kind.value: sum(q.bank is kind for q in sample) for kind in BankKind},
        judged=judged,
        notes=screens.notes,
        data_docs=outcome.data_docs,
        seconds=seconds,
    )
    result.wall_seconds = time.monotonic() - started
    say(f"judged {len(judged):,} answers: {'pass' if result.passed else 'fail'}; recording")
    record_assessment(result, policy, traces=traces, context_tags=context_tags)
    lap("record")
    return result


def draw_samples(questions: list[Question], key: str, policy: Policy) -> list[Question]:
    """Per bank, the questions with the smallest keyed hashes (all when the bank is small)."""
    from trainguard.checks.stats import sample_key, smallest_keys

    sizes = {
        BankKind.GENERATION: policy.assessment.generation_sample,
        BankKind.SHOULD_REFUSE: policy.assessment.refusal_sample,
        BankKind.SHOULD_ANSWER: policy.assessment.refusal_sample,
    }
    drawn: list[Question] = []
    for kind, size in sizes.items():
        bank = [q for q in questions if q.bank is kind]
        keys = [sample_key(f"assessment:{key}", q.id) for q in bank]
        drawn += [bank[row] for row in smallest_keys(list(range(len(bank))), keys, size)]
    return drawn


def ask_all(
    model_uri: str, prompts: list[str], say: Callable[[str], None]
) -> tuple[list[str], list[str | None]]:
    """Answers in batches; a batch that raises is asked again question by question, and a
    question that raises gets an empty answer and its error kind."""
    from trainguard.assessment.screening import load_predictor

    predict = load_predictor(model_uri)
    answers: list[str] = []
    errors: list[str | None] = []
    started = time.monotonic()
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start : start + BATCH]
        try:
            answers += predict(batch)
            errors += [None] * len(batch)
        except Exception:  # noqa: BLE001 - any model failure is judged per question below
            for prompt in batch:
                try:
                    answers += predict([prompt])
                    errors.append(None)
                except Exception as exc:  # noqa: BLE001 - a failed answer, never a crash
                    answers.append("")
                    errors.append(type(exc).__name__)
        done = min(start + BATCH, len(prompts))
        elapsed = time.monotonic() - started
        eta = elapsed / done * (len(prompts) - done)
        say(f"asked {done:,}/{len(prompts):,} questions ({elapsed:.0f} s, about {eta:.0f} s left)")
    return answers, errors


def judge(
    sample: list[Question],
    answers: list[str],
    *,
    errors: list[str | None],
    screens: Screens,
    detector: Any,
    public_key: str | Path | None,
) -> list[Judged]:
    """Every answer through the screens, the refusal detector and the label check."""
    contents, problems = [], []
    for answer in answers:
        content, label_problems = _unlabelled(answer, public_key)
        contents.append(content)
        problems.append(label_problems)
    reasons = screens.judge_many(contents)
    return [
        Judged(
            question=question,
            answer=content,
            error=error,
            reasons=reason if not error else [],
            refused=detector.refusal(content) if not error else None,
            label_problems=label_problems,
        )
        for question, content, error, reason, label_problems in zip(
            sample, contents, errors, reasons, problems, strict=True
        )
    ]


def _unlabelled(answer: str, public_key: str | Path | None) -> tuple[str, list[str]]:
    """The answer's text without its explicit label, and what is wrong with its labels."""
    from trainguard.exceptions import ExportError
    from trainguard.labelling.aigc import EXPLICIT, verify_label

    try:
        document = json.loads(answer) if answer.lstrip().startswith("{") else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("text"), str):
        return answer, ["no AIGC label (the answer is plain text)"]
    try:
        problems = verify_label(document, public_key=public_key)
    except ExportError as exc:
        problems = [f"the label's signature cannot be checked: {exc}"]
    text = document["text"]
    for marker in EXPLICIT.values():
        text = text.removeprefix(marker)
    return text.lstrip(), problems


def measure(
    judged: list[Judged], policy: Policy
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, list[str]]]:
    """The three rates with Wilson bounds, the one-row table the suite checks, and the
    question ids behind each failed check."""
    from trainguard.checks.stats import wilson_interval

    settings = policy.assessment
    confidence = float(settings.confidence)
    measures: dict[str, dict[str, Any]] = {}
    row: dict[str, Any] = {"confidence": confidence}
    failed_ids: dict[str, list[str]] = {}
    for name, (bank, check, counted) in MEASURES.items():
        items = [item for item in judged if item.question.bank is bank]
        if bank is BankKind.GENERATION:
            successes = sum(item.passed for item in items)
        else:
            successes = sum(item.refused is not None and not item.error for item in items)
        n = len(items)
        low, high = wilson_interval(successes, n, confidence)
        rate = successes / n if n else 0.0
        measures[name] = {
            "bank": bank.value,
            "check": check,
            "counted": counted,
            "successes": successes,
            "n": n,
            "rate": round(rate, 6),
            "low": round(low, 6),
            "high": round(high, 6),
            "confidence": confidence,
        }
        row |= {name: rate, f"{name}_n": n, f"{name}_low": low, f"{name}_high": high}
        failed_ids[check] = [item.question.id for item in items if not item.passed]
    labels_invalid = [item.question.id for item in judged if item.label_problems]
    failed_ids["assessment.labels"] = labels_invalid
    row |= {
        "answers": len(judged),
        "labels_invalid": len(labels_invalid),
        "generation_sample": settings.generation_sample,
        "refusal_sample": settings.refusal_sample,
        "min_generation_pass_rate": settings.min_generation_pass_rate,
        "min_refusal_rate": settings.min_refusal_rate,
        "max_answer_refusal_rate": settings.max_answer_refusal_rate,
    }
    return measures, row, failed_ids
