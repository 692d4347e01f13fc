"""Facts in the export are computed from the gate's findings, never written as constants."""

from __future__ import annotations

import pytest

from trainguard.export.bundle import personal_information
from trainguard.export.documents import _compliance, _pi_handling, _presence, _sensitive_in

pytestmark = pytest.mark.unit

POLICY = {"personal_info": {"sensitive_kinds": ["resident_id", "bank_card", "health"]}}


def gate(metrics: dict[str, float], findings: list[dict[str, object]] | None = None) -> dict:
    return {"metrics": metrics, "policy": POLICY, "findings": findings or []}


def test_sensitive_personal_information_found_is_stated() -> None:
    """Resident IDs and bank cards found (covered or not) make the data 'sensitive: yes'."""
    facts = personal_information(
        gate(
            {
                "gate.pi.covered.resident_id": 12,
                "gate.pi.uncovered.bank_card": 2,
                "gate.pi.covered.email": 5,
                "gate.pi.covered.passport": 0,  # a zero count is no finding
                "gate.records": 900,
            },
            [{"check": "pi.consent", "status": "waived", "source_id": "forum"}],
        )
    )
    assert facts == {
        "values_found": 19,
        "found_by_kind": {"bank_card": 2, "email": 5, "resident_id": 12},
        "sensitive_kinds": ["bank_card", "health", "resident_id"],
        "sensitive_kinds_found": ["bank_card", "resident_id"],
        "values_without_consent": 2,
        "sources_with_consent_waived": ["forum"],
    }
    assert _presence(facts["sensitive_kinds_found"]) == "yes"
    [handling] = _pi_handling(facts)
    assert "bank_card 2, email 5, resident_id 12" in handling
    assert "17 of 19 value(s) with valid consent" in handling
    assert "admitted by waiver for forum" in handling
    assert _sensitive_in("email 5, resident_id 3", facts) == ["resident_id"]
    assert _sensitive_in("email 5", facts) == []


def test_data_without_personal_information_says_so() -> None:
    """No PI metrics: nothing sensitive, and no claim of masking or matching."""
    facts = personal_information(gate({"gate.records": 10}))
    assert facts["values_found"] == 0 and facts["sensitive_kinds_found"] == []
    assert _presence(facts["sensitive_kinds_found"]) == "no"
    assert _pi_handling(facts) == ["none needed: the gate found no personal information"]


def test_non_sensitive_personal_information_is_not_sensitive() -> None:
    """Emails and phone numbers only: PI is handled, but none of it is sensitive."""
    facts = personal_information(
        gate({"gate.pi.covered.email": 3, "gate.pi.covered.mobile_phone": 4})
    )
    assert facts["values_found"] == 7 and facts["sensitive_kinds_found"] == []
    assert _presence(facts["sensitive_kinds_found"]) == "no"


def test_compliance_names_each_gate_with_its_waivers_and_deviations() -> None:
    """The standards claim is qualified by what the admitting gate actually allowed."""
    clean = {"run_id": "g1", "decision": "pass", "policy_profile": "filing", "waived": [],
             "deviations": []}  # fmt: skip
    waived = {"run_id": "g2", "decision": "pass", "policy_profile": "development",
              "waived": [{"check": "pi.consent"}], "deviations": [{"setting": "x"}]}  # fmt: skip
    first, second = _compliance([clean, waived])
    assert first.endswith("gate pass (g1; profile filing)")
    assert second.endswith(
        "gate pass (g2; profile development, 1 waived finding(s), 1 deviation(s) from the standard)"
    )
