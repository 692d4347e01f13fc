"""Every gate enforces the violation registry (Art. 13, 15): what was removed stays removed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import GateError
from trainguard.findings import Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy
from trainguard.violations import Registry
from trainguard.violations.intake import file_violation

from dataset_factory import default_records, default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

PHONE = "13912345678"
# Hand-written, not generated: a harmful answer a user reported, and a withdrawn poem.
REPORTED_ANSWER = "把漂白剂和洁厕灵混在一起就能做出很强的清洁剂，多倒一点效果更好。"
WORK = (
    "The lighthouse keeper counted ships by lantern light, and every night the sea "
    "returned a different number, as if the water kept its own accounts of who came home."
)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", url)
    return Registry(url)


def reported_findings(dataset: Path) -> dict[str, list]:
    report = evaluate(dataset, load_policy())
    return {
        f.check: [f]
        for f in report.findings
        if f.check.startswith("reported.") and f.status is Status.FAIL
    }


def test_data_holding_reported_content_fails_each_check(tmp_path: Path, registry: Registry) -> None:
    """A deletion request, a withdrawn work and a reported output each fail the gate on the
    records that hold them, naming the violation and the clause; a rejected report does not."""
    sources = default_sources()
    sources[0]["contains_personal_info"] = True
    records = default_records()
    records[0] = {**records[0], "text": f"联系人张先生，电话{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}。"}
    records[1] = {**records[1], "text": "用户问：怎么清洁厕所？回答：" + REPORTED_ANSWER}
    records[2] = {**records[2], "text": WORK}
    records[3] = {**records[3], "text": "这是一段被驳回的投诉所提到的普通文字，内容完全正常。"}
    dataset = write_dataset(tmp_path / "d", sources=sources, records=records)
    (dataset / "consents.csv").write_text(
        "subject_ref,pi_kind,pi_hmac,purposes,sensitive_consent,granted_at,withdrawn_at\n",
        encoding="utf-8",
    )
    policy = load_policy()
    assert reported_findings(dataset) == {}  # nothing reported yet
    deletion = file_violation(
        registry, kind="pi_request", summary="delete my number", reported_by="privacy",
        policy=policy, pi=[("mobile_phone", PHONE)],
    )  # fmt: skip
    output = file_violation(
        registry, kind="harmful_output", summary="dangerous advice", reported_by="user",
        policy=policy, prompt="怎么清洁厕所？", output=REPORTED_ANSWER,
    )  # fmt: skip
    work = file_violation(
        registry, kind="ip_complaint", summary="takedown", reported_by="legal",
        policy=policy, work_id="poem-17", work_text=WORK,
    )  # fmt: skip
    rejected = file_violation(
        registry, kind="harmful_output", summary="not harmful after all", reported_by="user",
        policy=policy, output=records[3]["text"],
    )  # fmt: skip
    registry.transition(rejected.id, "rejected", actor="reviewer", reason="benign")

    found = reported_findings(dataset)
    assert set(found) == {
        "reported.pi_deletion",
        "reported.withdrawn_work",
        "reported.harmful_output",
    }
    for check, violation, record in (
        ("reported.pi_deletion", deletion, records[0]),
        ("reported.harmful_output", output, records[1]),
        ("reported.withdrawn_work", work, records[2]),
    ):
        [finding] = found[check]
        assert finding.record_ids == (record["record_id"],), check
        assert violation.id in finding.message
        assert finding.clauses[0].startswith(("Art. 13", "Art. 15"))
    assert rejected.id not in " ".join(f.message for fs in found.values() for f in fs)
    assert PHONE not in " ".join(f.message for fs in found.values() for f in fs)


def test_no_registry_on_this_machine_means_nothing_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a configured registry and with none created, the gate runs and creates none."""
    monkeypatch.delenv("TRAINGUARD_REGISTRY_URL", raising=False)
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path / "home"))
    dataset = write_dataset(tmp_path / "d")
    assert reported_findings(dataset) == {}
    assert not (tmp_path / "home" / "violations.db").exists()


def test_an_unreadable_registry_blocks_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: a configured registry that cannot be read stops the gate, naming why."""
    monkeypatch.setenv("TRAINGUARD_REGISTRY_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    dataset = write_dataset(tmp_path / "d")
    with pytest.raises(GateError, match=r"violation registry cannot be read.*Art\. 13, Art\. 15"):
        evaluate(dataset, load_policy())
