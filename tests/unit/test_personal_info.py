"""Normalisation and HMAC of PI values as the consent ledger defines them."""

from __future__ import annotations

import pytest

from trainguard.exceptions import TrainguardError
from trainguard.personal_info import normalise_pi, pi_hmac

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kind", "written", "canonical"),
    [
        ("mobile_phone", "13812345678", "+8613812345678"),
        ("mobile_phone", "+86 138 1234 5678", "+8613812345678"),
        ("mobile_phone", "0086-138-1234-5678", "+8613812345678"),
        ("mobile_phone", "１３８１２３４５６７８", "+8613812345678"),  # full width (NFKC)
        ("email", "Zhang.San@Example.CN", "zhang.san@example.cn"),
        ("resident_id", "11010119900307123x", "11010119900307123X"),
        ("bank_card", "6222 0212 3456 7890", "6222021234567890"),
        ("bank_card", "3714-496353-98431", "371449635398431"),
        ("resident_id", "110105 19491231 002x", "11010519491231002X"),
        ("resident_id", "１１０１０５－１９４９１２３１－００２Ｘ", "11010519491231002X"),
        ("mobile_phone", "138.1234.5678", "+8613812345678"),
        ("mobile_phone", "138\u20131234\u20135678", "+8613812345678"),  # en dashes
        ("landline_phone", "010 6234 5678", "01062345678"),
        ("ip_address", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("ip_address", "１９２．１６８．１．１", "192.168.1.1"),
        ("ip_address", "fe80::1%eth0/64", "fe80::1%eth0/64"),
    ],
)
def test_normalisation(kind: str, written: str, canonical: str) -> None:
    """Each way of writing a value normalises to the DESIGN.md canonical form."""
    assert normalise_pi(kind, written) == canonical


def test_hmac_matches_across_spellings_and_depends_on_key() -> None:
    """Two spellings share an HMAC; another key gives another HMAC."""
    first = pi_hmac("mobile_phone", "+86 138 1234 5678", b"k1")
    assert first == pi_hmac("mobile_phone", "13812345678", b"k1")
    assert first != pi_hmac("mobile_phone", "13812345678", b"k2")
    assert len(first) == 64


def test_missing_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TRAINGUARD_HASH_KEY there is no silent default key."""
    monkeypatch.delenv("TRAINGUARD_HASH_KEY", raising=False)
    with pytest.raises(TrainguardError, match="TRAINGUARD_HASH_KEY is not set"):
        pi_hmac("email", "a@b.cn")
