"""Question banks (TC260-003 8): the CSV files a model is assessed with.

A bank folder holds ``*.csv`` files with the header ``id,question,risk,bank,language`` and
a ``banks.yaml`` with the date of the last update (``updated: 2026-11-20``). ``bank`` is
one of ``generation`` (questions whose answers must be safe), ``should_refuse`` (the
model must decline) and ``should_answer`` (sensitive-looking questions it must not
decline). ``risk`` is a code of the 31-risk taxonomy (TC260-003 Appendix A); it may be
empty only on should-answer questions. The folder is DVC-tracked in the dataset
repository (``assessment/banks``) or kept per model.

Broken rows (unknown risk, duplicate id, bad bank name) raise ``ContractError`` naming
file, row and field; how big and how broad the banks are is measured here and judged by
the ``assessment_banks`` suite, against the policy.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    from trainguard.findings import Finding
    from trainguard.policy import Policy

COLUMNS = ("id", "question", "risk", "bank", "language")
MANIFEST = "banks.yaml"
A1_A2_PREFIXES = ("A.1.", "A.2.")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class BankKind(enum.StrEnum):
    GENERATION = "generation"
    SHOULD_REFUSE = "should_refuse"
    SHOULD_ANSWER = "should_answer"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    risk: str
    bank: BankKind
    language: str


@dataclass
class QuestionBanks:
    """Every question of a bank folder, with where it came from."""

    folder: Path
    questions: list[Question]
    updated: dt.date | None
    digest: str
    files: list[str] = field(default_factory=list)

    def of(self, kind: BankKind) -> list[Question]:
        return [q for q in self.questions if q.bank is kind]

    def summary(self) -> dict[str, Any]:
        """Sizes, coverage by risk and update date: what the export and MLflow show."""
        return {
            "folder": str(self.folder),
            "digest": self.digest,
            "files": self.files,
            "updated": self.updated.isoformat() if self.updated else None,
            "banks": {
                kind.value: {
                    "questions": len(self.of(kind)),
                    "by_risk": dict(sorted(Counter(q.risk or "-" for q in self.of(kind)).items())),
                    "by_language": dict(sorted(Counter(q.language for q in self.of(kind)).items())),
                }
                for kind in BankKind
            },
        }


def load_banks(folder: str | Path) -> QuestionBanks:
    """Read and validate every CSV of a bank folder (sorted by name: a stable digest)."""
    from trainguard.contract import read_csv
    from trainguard.scanners.lexicon import RISK_CODES

    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(
            "question bank folder is missing", file=str(folder), expected="a folder of *.csv"
        )
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise ContractError(
            "no question bank in the folder", file=str(folder), expected="*.csv files"
        )
    questions: list[Question] = []
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for line, row in read_csv(path, COLUMNS, what="question bank"):
            questions.append(_question(row, path, line, seen, RISK_CODES))
    return QuestionBanks(
        folder=folder,
        questions=questions,
        updated=_updated(folder / MANIFEST),
        digest=digest.hexdigest(),
        files=[p.name for p in files],
    )


def _question(
    row: dict[str, str], path: Path, line: int, seen: dict[str, str], risks: frozenset[str]
) -> Question:
    def error(message: str, column: str, expected: str | None = None) -> ContractError:
        return ContractError(message, file=str(path), row=line, field=column, expected=expected)

    qid, text = row["id"].strip(), row["question"].strip()
    risk, bank, language = (row[c].strip() for c in ("risk", "bank", "language"))
    if not qid:
        raise error("empty question id", "id")
    if qid in seen:
        raise error(f"duplicate question id '{qid}' (first in {seen[qid]})", "id")
    seen[qid] = f"{path.name} row {line}"
    if not text:
        raise error("empty question", "question")
    try:
        kind = BankKind(bank)
    except ValueError:
        raise error(
            f"unknown bank '{bank}'", "bank", ", ".join(k.value for k in BankKind)
        ) from None
    if risk and risk not in risks:
        raise error(
            f"unknown risk code '{risk}'",
            "risk",
            "a code of the 31-risk taxonomy such as A.1.f or A.2.e",
        )
    if not risk and kind is not BankKind.SHOULD_ANSWER:
        raise error(f"a {kind.value} question needs its risk code", "risk")
    if not _LANGUAGE.match(language):
        raise error(f"'{language}' is not a language code", "language", "e.g. zh or en")
    return Question(qid, text, risk, kind, language)


def _updated(path: Path) -> dt.date | None:
    """The banks' update date, or None when the folder does not state one."""
    if not path.is_file():
        return None
    from trainguard.contract import read_yaml

    document = read_yaml(path)
    value = document.get("updated") if isinstance(document, dict) else None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ContractError(
        "the banks' update date is missing or not a date",
        file=str(path),
        field="updated",
        expected="updated: YYYY-MM-DD",
    )


def bank_rows(banks: QuestionBanks, policy: Policy, today: dt.date) -> list[dict[str, Any]]:
    """One row per bank: size, required size, risks below their minimum, age in days.

    The table the ``assessment_banks`` suite checks; a bank with no question still has its
    row (0 questions), so a missing bank fails by name."""
    from trainguard.scanners.lexicon import RISK_CODES

    settings = policy.assessment
    age = (today - banks.updated).days if banks.updated else None
    rows = []
    for kind in BankKind:
        counts = Counter(q.risk for q in banks.of(kind))
        if kind is BankKind.GENERATION:
            minimum = {
                risk: settings.min_generation_per_a1_a2_risk
                if risk.startswith(A1_A2_PREFIXES)
                else settings.min_generation_per_other_risk
                for risk in RISK_CODES
            }
            required = settings.min_generation_questions
        elif kind is BankKind.SHOULD_REFUSE:
            minimum = {
                risk: settings.min_should_refuse_per_risk
                for risk in RISK_CODES
                if risk.startswith(A1_A2_PREFIXES)
            }
            required = settings.min_should_refuse_questions
        else:
            minimum, required = {}, settings.min_should_answer_questions
        short = sorted(risk for risk, need in minimum.items() if counts[risk] < need)
        rows.append(
            {
                "bank": kind.value,
                "questions": len(banks.of(kind)),
                "required_questions": required,
                "risks_below_minimum": len(short),
                "short_risks": ", ".join(short),
                # A missing date fails the age check: an undated bank cannot show it is current.
                "age_days": age if age is not None else 10**6,
                "updated": banks.updated.isoformat() if banks.updated else "not stated",
            }
        )
    return rows


def check_banks(
    banks_dir: str | Path, *, policy_path: str | None = None, today: dt.date | None = None
) -> tuple[Any, list[Finding]]:
    """The banks and the ``assessment_banks`` suite's findings on them (no model asked):
    what ``trainguard assess banks`` reports. Unreadable banks raise ``ContractError``."""
    from trainguard.checks import assessment as checks
    from trainguard.gate.gx import Table, run_gx_gate
    from trainguard.pipeline import workspace
    from trainguard.policy import load_policy

    policy = load_policy(policy_path)
    banks = load_banks(banks_dir)
    rows = bank_rows(banks, policy, today or policy_today(policy))
    table = checks.tables(rows, {}, {})["banks"]
    outcome = run_gx_gate(
        {"banks": table, "answers": Table("answers", [])},
        ["assessment_banks"],
        checks.parameters(policy),
        policy,
        workspace() / "assessments" / "banks",
    )
    return banks, outcome.findings


def policy_today(policy: Policy) -> dt.date:
    """Today in the policy's time zone (the calendar the deadlines use too)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(policy.violations.timezone)).date()


BANKS_PATH = "assessment/banks"


def banks_source(
    model_uri: str,
    *,
    banks: str | None = None,
    policy_path: str | None = None,
    banks_path: str = BANKS_PATH,
) -> dict[str, str] | None:
    """Where a model version's banks are: a folder given (``{"banks": ...}``), the policy's
    ``assessment.banks``, or ``banks_path`` in the repository and commit of the data the
    version was trained on (``{"repo", "path", "rev"}``); None when there are none."""
    import subprocess

    from trainguard.policy import load_policy

    if banks:
        return {"banks": banks}
    policy = load_policy(policy_path)
    if policy.assessment.banks:
        return {"banks": str(policy.resolve_path(policy.assessment.banks))}
    tags = _version_tags(model_uri)
    repo, commit = tags.get("trainguard.dataset.repo"), tags.get("trainguard.dataset.commit")
    if not repo or not commit:
        return None
    for candidate in (f"{banks_path}.dvc", banks_path):
        found = subprocess.run(
            ["git", "-C", repo, "cat-file", "-e", f"{commit}:{candidate}"],
            capture_output=True,
            check=False,
        )
        if found.returncode == 0:
            return {"repo": repo, "path": banks_path, "rev": commit}
    return None


def _version_tags(model_uri: str) -> dict[str, str]:
    import mlflow

    from trainguard.assessment.record import model_identity
    from trainguard.tracking import mlflow_errors

    name, version = model_identity(model_uri)
    if not name:
        return {}
    with mlflow_errors(f"read the tags of {model_uri}"):
        return dict(mlflow.MlflowClient().get_model_version(name, str(version)).tags or {})


def fetch_banks(source: dict[str, str]) -> tuple[Path, dict[str, Any] | None]:
    """The bank folder of a ``banks_source`` and, for a DVC-tracked one, its version
    (commit and DVC md5: what the assessment record and the export cite)."""
    if "banks" in source:
        return Path(source["banks"]), None
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version, resolve_version

    version = resolve_version(source["repo"], source["path"], source["rev"])
    return fetch_version(version, workspace()), version.to_dict()
