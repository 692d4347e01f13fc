"""What counts toward the harmful rate: every lexicon term, whatever its risk code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import default_records, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

# An ordinary forum post advertising pirated software (risk A.3.a, IP infringement).
PIRACY = "本站提供盗版软件下载，破解版全部免费，无需注册。"


@pytest.mark.parametrize("risk", ["A.3.a", "A.4.f", "A.1.d"])
def test_a_lexicon_term_counts_whatever_its_risk_code(tmp_path: Path, risk: str) -> None:
    """A.3.a and A.4.f are also the markers for opt-out works and unconsented PI; a
    lexicon term with those codes still makes its record harmful."""
    records = default_records()
    wiki = [r for r in records if r["source_id"] == "wiki"]
    for record in wiki:
        record["text"] = PIRACY + record["record_id"]
    lexicon = tmp_path / "lexicon.csv"
    lexicon.write_text(f"term,risk\n盗版软件下载,{risk}\n", encoding="utf-8")
    root = write_dataset(tmp_path / "d", records=records)
    # The classifier's threshold out of reach, so only the lexicon can flag a record.
    policy = tmp_path / "policy.yaml"
    policy.write_text("harmful:\n  classifier_threshold: 0.9999999\n", encoding="utf-8")
    report = evaluate(root, load_policy(policy), extra_lexicons=[str(lexicon)])
    rate = next(f for f in report.findings if f.check == "harmful.rate" and f.source_id == "wiki")
    assert rate.status is Status.FAIL
    assert sorted(rate.record_ids) == sorted(r["record_id"] for r in wiki)
