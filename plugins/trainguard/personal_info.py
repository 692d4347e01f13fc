"""Personal-information values: normalising, keyed hashing, pseudonyms and masking.

Only HMACs, pseudonyms and masked text leave this module: the consent ledger, reports and
exports compare values by ``pi_hmac(kind, value)``, never by the value itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from trainguard.contract import PIKind
from trainguard.exceptions import ContractError, TrainguardError

HASH_KEY_ENV = "TRAINGUARD_HASH_KEY"
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_NON_DIGITS = re.compile(r"[^0-9]", re.ASCII)
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]", re.ASCII)


def parse_pi_kind(value: str, *, field: str) -> PIKind:
    """``value`` as a PI kind, or a ContractError naming the field and the kinds there are."""
    try:
        return PIKind(value)
    except ValueError:
        raise ContractError(
            f"unknown PI kind '{value}'", field=field, expected=", ".join(k.value for k in PIKind)
        ) from None


def normalise_pi(kind: PIKind | str, value: str) -> str:
    """The canonical form whose HMAC the consent ledger stores."""
    kind = PIKind(kind)
    text = unicodedata.normalize("NFKC", value).translate(_ZERO_WIDTH).strip()
    if kind is PIKind.MOBILE_PHONE:
        digits = _NON_DIGITS.sub("", text)
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
                digits = digits[len(prefix) :]
        return "+86" + digits
    if kind is PIKind.EMAIL:
        return text.lower()
    if kind is PIKind.RESIDENT_ID:  # digit groups: "110105 19491231 002x" is 11010519491231002X
        return _NON_ALNUM.sub("", text).upper()
    if kind in (PIKind.BANK_CARD, PIKind.LANDLINE_PHONE):
        return _NON_DIGITS.sub("", text)
    if kind in (PIKind.PASSPORT, PIKind.LICENSE_PLATE):
        return re.sub(r"\s+", "", text).upper()
    if kind is PIKind.IP_ADDRESS:
        return _canonical_ip(text)
    return text


def _canonical_ip(text: str) -> str:
    """RFC 5952 text of an address (lower case, longest zero run compressed), its zone and
    prefix kept: "2001:DB8:0:0:0:0:0:1" and "2001:db8::1" are one value."""
    import ipaddress

    address, slash, prefix = text.partition("/")
    try:
        canonical = ipaddress.ip_address(address).compressed
    except ValueError:
        return text.lower()
    return canonical + (f"/{int(prefix)}" if slash and prefix.isdigit() else "")


def hash_key() -> bytes:
    from trainguard.settings import env

    key = env(HASH_KEY_ENV)
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


def pseudonym(person_id: str) -> str:
    """A stable pseudonym for a person's id, keyed so it cannot be reversed by guessing."""
    digest = hmac.new(hash_key(), f"annotator:{person_id}".encode(), hashlib.sha256)
    return f"annotator-{digest.hexdigest()[:12]}"


def mask_text(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, kind) span replaced by ``[kind]`` (spans may be unsorted)."""
    for start, end, kind in sorted(spans, reverse=True):
        text = text[:start] + f"[{kind}]" + text[end:]
    return text


def mask_pi(text: str) -> tuple[str, list[dict[str, str]]]:
    """``text`` with every PI value found masked as ``[kind]``, and the HMACs of those values."""
    from trainguard.scanners.pi import find_pi

    matches = find_pi(text)
    masked = mask_text(text, [(m.start, m.end, m.kind.value) for m in matches])
    return masked, [{"kind": m.kind.value, "hmac": pi_hmac(m.kind, m.value)} for m in matches]
