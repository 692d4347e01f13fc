"""Consent verdicts: purpose, withdrawal and separate consent for sensitive PI."""

from __future__ import annotations

import datetime as dt

import pytest

from trainguard.checks.consent import ConsentLedger, ConsentVerdict
from trainguard.contract import ConsentRow

pytestmark = pytest.mark.unit

H = "a" * 64


def row(**changes: object) -> ConsentRow:
    values: dict[str, object] = {
        "subject_ref": "s1",
        "pi_kind": "resident_id",
        "pi_hmac": H,
        "purposes": "service;training",
        "sensitive_consent": True,
        "granted_at": "2025-01-01T00:00:00+00:00",
        "withdrawn_at": "",
    }
    values.update(changes)
    return ConsentRow.model_validate(values)


def verdict(*rows: ConsentRow, kind: str = "resident_id") -> ConsentVerdict:
    ledger = ConsentLedger.build(rows, ["resident_id", "bank_card"])
    return ledger.verdict(kind, H, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ConsentVerdict.COVERED),
        ({"purposes": "service"}, ConsentVerdict.PURPOSE_MISSING),
        ({"withdrawn_at": "2025-06-01T00:00:00+00:00"}, ConsentVerdict.WITHDRAWN),
        ({"withdrawn_at": "2027-06-01T00:00:00+00:00"}, ConsentVerdict.COVERED),  # future
        ({"sensitive_consent": False}, ConsentVerdict.SENSITIVE_CONSENT_MISSING),
    ],
)
def test_verdicts(changes: dict[str, object], expected: ConsentVerdict) -> None:
    """Each ledger condition gives its verdict."""
    assert verdict(row(**changes)) is expected


def test_non_sensitive_kind_needs_no_separate_consent() -> None:
    """An email is covered without sensitive_consent."""
    assert (
        verdict(row(pi_kind="email", sensitive_consent=False), kind="email")
        is ConsentVerdict.COVERED
    )


def test_one_valid_row_suffices_and_kinds_do_not_mix() -> None:
    """A later valid row covers a value; a row of another kind never does."""
    assert verdict(row(purposes="service"), row()) is ConsentVerdict.COVERED
    assert verdict(row(pi_kind="email"), kind="resident_id") is ConsentVerdict.NO_CONSENT
