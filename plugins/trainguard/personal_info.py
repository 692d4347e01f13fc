"""Normalising and keyed hashing of personal-information values (DESIGN.md consent ledger).

Only HMACs leave this module: the consent ledger, reports and exports compare values
by ``pi_hmac(kind, value)``, never by the value itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata

from trainguard.contract import PIKind
from trainguard.exceptions import TrainguardError

HASH_KEY_ENV = "TRAINGUARD_HASH_KEY"
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_NON_DIGITS = re.compile(r"[^0-9]", re.ASCII)


def normalise_pi(kind: PIKind | str, value: str) -> str:
    """The canonical form whose HMAC the consent ledger stores."""
    kind = PIKind(kind)
    text = unicodedata.normalize("NFKC", value).translate(_ZERO_WIDTH).strip()
    if kind is PIKind.MOBILE_PHONE:
        digits = _NON_DIGITS.sub("", text)
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
                digits = digits[len(prefix):]
        return "+86" + digits
    if kind is PIKind.EMAIL:
        return text.lower()
    if kind is PIKind.RESIDENT_ID:
        return text.upper()
    if kind in (PIKind.BANK_CARD, PIKind.LANDLINE_PHONE):
        return _NON_DIGITS.sub("", text)
    if kind in (PIKind.PASSPORT, PIKind.LICENSE_PLATE):
        return re.sub(r"\s+", "", text).upper()
    return text


def hash_key() -> bytes:
    key = os.environ.get(HASH_KEY_ENV, "")
    if not key:
        raise TrainguardError(
            f"{HASH_KEY_ENV} is not set: personal information cannot be matched against the "
            "consent ledger without the key its HMACs were made with"
        )
    return key.encode()


def pi_hmac(kind: PIKind | str, value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of the normalised value under ``TRAINGUARD_HASH_KEY``."""
    message = normalise_pi(kind, value).encode()
    return hmac.new(key or hash_key(), message, hashlib.sha256).hexdigest()
