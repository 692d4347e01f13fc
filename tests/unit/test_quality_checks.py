"""Quality (Art. 7(4)): veracity and diversity checks fail on their problem, pass without."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import default_records, default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

# These fixtures hold one source per language: the standard's two is a listed deviation.
ONE_SOURCE_POLICY = (
    "quality: {min_sources_per_language: 1}\n"
    "deviations: [{setting: quality.min_sources_per_language, value: 1,"
    " reason: one-source test fixtures}]\n"
)


def failed_checks(root: Path, policy: str = "") -> dict[str, list]:
    path = None
    if policy:
        path = root.parent / "policy.yaml"
        path.write_text(policy)
    report = evaluate(root, load_policy(path))
    found: dict[str, list] = {}
    for f in report.findings:
        if f.status is Status.FAIL and f.check.startswith("quality."):
            found.setdefault(f.check, []).append(f)
    return found


def test_clean_records_pass_every_quality_check(tmp_path: Path) -> None:
    """The factory's records are complete, well encoded, in zh/en and from three sources."""
    assert failed_checks(write_dataset(tmp_path / "d"), ONE_SOURCE_POLICY) == {}


@pytest.mark.parametrize(
    ("check", "text"),
    [
        ("quality.garbled", "cafÃ© text with mojibake."),
        ("quality.garbled", "replacement \ufffd character."),
        ("quality.empty", "   "),
        ("quality.truncated", "这句话没有说完就"),
        ("quality.language", "Это предложение на русском языке."),
    ],
)
def test_veracity_problems_fail_per_source(tmp_path: Path, check: str, text: str) -> None:
    """One bad record in 30 exceeds the default rates and fails its source."""
    records = default_records()
    records[3]["text"] = text  # source 'wiki' (index 3 % 3 == 0)
    found = failed_checks(write_dataset(tmp_path / "d", records=records), ONE_SOURCE_POLICY)
    assert check in found
    assert [f.source_id for f in found[check]] == ["wiki"]
    assert found[check][0].record_ids == ("r0003",)


def test_single_source_language_and_dominant_source_fail_diversity(tmp_path: Path) -> None:
    """With defaults, one source per language and a 60 %+ share fail diversity."""
    sources = default_sources()[:1]
    records = [dict(r, source_id="wiki") for r in default_records()]
    found = failed_checks(write_dataset(tmp_path / "d", sources=sources, records=records))
    messages = " ".join(f.message for f in found["quality.diversity"])
    # Said as sentences, a share as a percentage (not GX's "expected <= 0.6").
    assert "min sources per language 1 is below the 2 minimum" in messages
    assert "largest source share 100% is above the 60% limit" in messages


def test_near_duplicate_rate_fails_over_the_threshold(tmp_path: Path) -> None:
    """Copies of records push the corpus near-duplicate rate over 0.5 %."""
    records = default_records()
    records += [dict(r, record_id=r["record_id"] + "-copy") for r in records[:5]]
    found = failed_checks(write_dataset(tmp_path / "d", records=records), ONE_SOURCE_POLICY)
    assert "quality.duplicates" in found


def test_label_imbalance_across_protected_groups_fails(tmp_path: Path) -> None:
    """Favourable labels at 90 % for one sex and 50 % for the other fail objectivity."""
    from dataset_factory import finetuning_records, write_finetuning_dataset

    def with_sex(biased: bool) -> list[dict]:
        records = finetuning_records(200)
        for i, record in enumerate(records):
            record["attr_sex"] = "female" if i % 2 else "male"
            # (i // 2) walks each sex's own records: 9 in 10 favourable, or 5 in 10 if biased.
            favourable = (i // 2) % 10 < (5 if biased and record["attr_sex"] == "female" else 9)
            record["label"] = "acceptable" if favourable else "needs_fix"
            record["second_label"] = None
        return records

    balanced = evaluate(
        write_finetuning_dataset(tmp_path / "ok", records=with_sex(False)), load_policy()
    )
    assert not [f for f in balanced.failed if f.check == "quality.objectivity"]
    assert [f for f in balanced.findings if f.check == "quality.objectivity"]  # it ran
    biased = evaluate(
        write_finetuning_dataset(tmp_path / "bad", records=with_sex(True)), load_policy()
    )
    failed = [f for f in biased.failed if f.check == "quality.objectivity"]
    assert {f.entity for f in failed} == {"attribute sex"}
    assert "female 50.0%" in failed[0].message and "male 90.0%" in failed[0].message
