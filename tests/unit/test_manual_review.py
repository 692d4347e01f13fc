"""The manual spot check of TC260-003 9.2 counts only the drawn sample, each verdict signed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.checks.stats import sample_key
from trainguard.exceptions import ContractError
from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import default_records, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

SAMPLE = 10  # of the 30 records the factory writes


def _dataset(tmp_path: Path, reviewed: list[str], reviewer: str = "rev1") -> Path:
    root = write_dataset(tmp_path / "d", records=default_records())
    (root / "review" / "manual_verdicts.csv").write_text(
        "record_id,reviewer_id,verdict,reviewed_at\n"
        + "".join(f"{rid},{reviewer},pass,2026-01-01T00:00:00\n" for rid in reviewed)
    )
    return root


def _policy(tmp_path: Path) -> object:
    path = tmp_path / "policy.yaml"
    path.write_text(
        f"corpus:\n  manual_sample_size: {SAMPLE}\n"
        "deviations:\n"
        f"  - {{setting: corpus.manual_sample_size, value: {SAMPLE}, reason: unit-sized}}\n",
        encoding="utf-8",
    )
    return load_policy(path)


def _ranked() -> list[str]:
    """The factory's record ids in sampling order: the first SAMPLE are the drawn sample."""
    ids = [r["record_id"] for r in default_records()]
    return sorted(ids, key=lambda rid: sample_key("tiny", rid))


def _manual(root: Path, policy: object) -> list:
    report = evaluate(root, policy)  # type: ignore[arg-type]
    return [f for f in report.findings if f.check == "corpus.manual"]


def test_verdicts_on_the_drawn_sample_pass(tmp_path: Path) -> None:
    """Every record of the drawn sample reviewed and passed: the manual check passes."""
    findings = _manual(_dataset(tmp_path, _ranked()[:SAMPLE]), _policy(tmp_path))
    assert findings and all(f.status is Status.PASS for f in findings)


def test_verdicts_on_records_outside_the_sample_do_not_count(tmp_path: Path) -> None:
    """As many verdicts, but on records that were not drawn: the check fails and says why."""
    findings = _manual(_dataset(tmp_path, _ranked()[SAMPLE : 2 * SAMPLE]), _policy(tmp_path))
    failed = [f for f in findings if f.status is Status.FAIL]
    assert failed
    assert "0 record(s) of the drawn sample reviewed" in failed[0].message
    assert f"{SAMPLE} verdict(s) on records outside the sample do not count" in failed[0].message


def test_too_few_sampled_verdicts_fail(tmp_path: Path) -> None:
    """Half the sample reviewed: fewer than the required number, so the check fails."""
    findings = _manual(_dataset(tmp_path, _ranked()[: SAMPLE // 2]), _policy(tmp_path))
    assert any(f.status is Status.FAIL for f in findings)


def test_a_verdict_without_a_reviewer_is_refused(tmp_path: Path) -> None:
    """A verdict that names nobody is bad input: file, row and field are named."""
    root = _dataset(tmp_path, _ranked()[:SAMPLE], reviewer="")
    with pytest.raises(ContractError, match=r"manual_verdicts\.csv, row 2, field 'reviewer_id'"):
        evaluate(root, _policy(tmp_path))  # type: ignore[arg-type]


def test_the_manual_check_says_each_shortfall_in_its_own_unit() -> None:
    """corpus.manual has two expectations: too few records reviewed is a count (it read
    "below the 45100% minimum" for a sample of 451), a low pass rate is a percentage."""
    from trainguard.checks.harmful import CORPUS_MESSAGES

    message = CORPUS_MESSAGES["corpus.manual"]
    row = {"manual_reviewed": 446, "manual_pass_rate": 0.987, "manual_review_file": "x"}
    assert message(row, ">= 451").endswith("pass rate 98.7%, below the 451 minimum")
    assert message(row, ">= 0.99").endswith("pass rate 98.7%, below the 99% minimum")
    # By the parameter's type, not its size: a sample of 1 is a count, a rate of 1.0 a rate.
    assert message(row, ">= 1").endswith("below the 1 minimum")
    assert message(row, ">= 1.0").endswith("below the 100% minimum")
