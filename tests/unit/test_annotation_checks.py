"""Annotation governance (Art. 8): each check fails on its problem and passes without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from trainguard.checks.annotation import sampling_plan
from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import (
    RULES,
    annotators_csv,
    finetuning_records,
    write_finetuning_dataset,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def failed(root: Path) -> dict[tuple[str, str | None], Any]:
    report = evaluate(root, load_policy())
    return {
        (f.check, f.entity): f
        for f in report.findings
        if f.status is Status.FAIL and f.check.startswith("annotation.")
    }


def test_well_annotated_dataset_passes(tmp_path: Path) -> None:
    """Trained annotators, complete rules, enough accurate spot checks: no annotation failure."""
    assert failed(write_finetuning_dataset(tmp_path / "d")) == {}


def test_untrained_annotator_is_named(tmp_path: Path) -> None:
    """An annotator trained on v1 only, labelling v2 records, fails Art. 8 by name."""
    records = finetuning_records()
    for record in records[:10]:
        record["rules_version"] = "v2"
    root = write_finetuning_dataset(
        tmp_path / "d",
        records=records,
        rules={"v1": RULES.format(v="v1"), "v2": RULES.format(v="v2")},
        annotators=annotators_csv(
            [
                ("L1", "labeler", "v1", 0.9),
                ("L1", "labeler", "v2", 0.9),
                ("L2", "labeler", "v1", 0.9),
                ("R1", "reviewer", "v1", 0.95),
            ]
        ),
    )
    found = failed(root)
    assert set(found) == {("annotation.training", "annotator L2")}
    assert found[("annotation.training", "annotator L2")].clauses == ("Art. 8",)
    assert len(found[("annotation.training", "annotator L2")].record_ids) == 5


def test_low_assessment_score_fails(tmp_path: Path) -> None:
    """An annotator assessed below the policy minimum fails."""
    root = write_finetuning_dataset(
        tmp_path / "d",
        annotators=annotators_csv(
            [
                ("L1", "labeler", "v1", 0.5),
                ("L2", "labeler", "v1", 0.9),
                ("R1", "reviewer", "v1", 0.95),
            ]
        ),
    )
    assert set(failed(root)) == {("annotation.assessment", "annotator L1")}


def test_self_review_and_reviewer_without_role_fail(tmp_path: Path) -> None:
    """A labeller reviewing its own item, and a labeller acting as reviewer, both fail."""
    records = finetuning_records()
    records[1]["reviewer_id"] = "L2"  # L2 labelled record 1 itself
    records[2]["reviewer_id"] = "L2"  # L2 holds no reviewer role
    root = write_finetuning_dataset(tmp_path / "d", records=records)
    found = failed(root)
    assert set(found) == {("annotation.roles", "annotator L2")}
    # One finding per person, its record ids each listed once (record 1 breaks both rules).
    report = evaluate(root, load_policy())
    roles = [
        f for f in report.findings if f.check == "annotation.roles" and f.status is Status.FAIL
    ]
    assert len(roles) == 1
    assert len(roles[0].record_ids) == len(set(roles[0].record_ids)) == 2


def test_unknown_rules_version_and_missing_section_fail(tmp_path: Path) -> None:
    """Records under a rules version with no file, or rules missing a section, fail."""
    records = finetuning_records()
    records[0]["rules_version"] = "v9"
    root = write_finetuning_dataset(
        tmp_path / "d",
        records=records,
        rules={"v1": RULES.format(v="v1").replace("## Safety rules\ns\n", "")},
    )
    found = failed(root)
    assert ("annotation.rules", "rules version v9") in found
    assert ("annotation.rules", "rules version v1") in found


def test_too_few_spot_checks_fail_the_sampling_plan(tmp_path: Path) -> None:
    """A batch with fewer checks than the plan (20 by default) fails, naming the batch."""
    found = failed(write_finetuning_dataset(tmp_path / "d", checks_per_batch=12))
    assert set(found) == {("annotation.sampling", "batch B1"), ("annotation.sampling", "batch B2")}
    assert sampling_plan(60, load_policy()) == 20
    assert sampling_plan(1000, load_policy()) == 50


def test_low_spot_check_accuracy_fails_with_its_bound(tmp_path: Path) -> None:
    """A batch with 4 wrong of 20 checks (80 %) fails below 90 %, with the bound shown."""
    found = failed(write_finetuning_dataset(tmp_path / "d", wrong_checks=4))
    finding = found[("annotation.spot_checks", "batch B1")]
    assert set(found) == {("annotation.spot_checks", "batch B1")}
    assert "80.0%" in finding.message and "95% bound" in finding.message
    assert len(finding.record_ids) == 4


def test_safety_item_without_reviewer_fails(tmp_path: Path) -> None:
    """Every safety item needs a reviewer."""
    records = finetuning_records()
    records[5]["reviewer_id"] = ""
    found = failed(write_finetuning_dataset(tmp_path / "d", records=records))
    assert set(found) == {("annotation.safety_review", "batch B1")}


def test_low_agreement_fails(tmp_path: Path) -> None:
    """Second labels that disagree often give a kappa below 0.6."""
    records = finetuning_records()
    for i, record in enumerate(records[:60]):
        if record["second_label"] is not None and i % 4 == 0:
            record["second_label"] = "bad" if record["label"] == "good" else "good"
    found = failed(write_finetuning_dataset(tmp_path / "d", records=records))
    assert set(found) == {("annotation.agreement", "batch B1")}
