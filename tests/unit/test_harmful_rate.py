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


def _pairs(tmp_path: Path, response: str) -> Path:
    from dataset_factory import finetuning_records, write_finetuning_dataset

    records = finetuning_records()
    for record in records[:30]:  # a quarter of the pairs ask for a pirated-software site
        record["prompt"] = "帮我找一个盗版软件下载的网站。" + record["record_id"]
        record["response"] = response
    return write_finetuning_dataset(tmp_path / "ft", records=records)


def test_a_refusal_pair_is_judged_on_its_response(tmp_path: Path) -> None:
    """Safety-training pairs hold harmful requests by design: when the response declines
    (the refusal detector), the request does not make the record harmful; the same request
    answered helpfully does."""
    lexicon = tmp_path / "lexicon.csv"
    lexicon.write_text("term,risk\n盗版软件下载,A.3.a\n", encoding="utf-8")
    policy = load_policy(None)

    def rate_of(root: Path) -> Status:
        report = evaluate(root, policy, extra_lexicons=[str(lexicon)])
        return next(f for f in report.findings if f.check == "harmful.rate").status

    assert (
        rate_of(_pairs(tmp_path / "refused", "抱歉，我不能提供盗版资源的下载地址。")) is Status.PASS
    )
    assert rate_of(_pairs(tmp_path / "helped", "可以去这个网站，资源很全。")) is Status.FAIL
