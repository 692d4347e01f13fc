"""Personal-information detection, Chinese and international, at corpus speed.

Two stages, because validation is what costs (SCANNING_NOTES.md): one Arrow RE2 pass over
a whole batch marks the rows that *could* hold PI (a superset: digit runs, ``@``, IP-like
and plate-like text); only those rows are normalised (NFKC, zero-width characters
dropped) and matched with validated patterns. Near misses are rejected: a wrong ID check
digit, an impossible birth date, a failed Luhn check, a number inside a longer digit run.
Offsets are mapped back to the original text.

``re`` is used with explicit ``[0-9]`` classes and look-arounds instead of ``\\b``: in
``手机13812345678`` there is no word boundary before the number (SCANNING_NOTES.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainguard.contract import PIKind

if TYPE_CHECKING:
    import pyarrow as pa

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")

# RE2 syntax (Arrow). Must never miss a row the validated patterns would match.
PREFILTER = (
    r"[0-9０-９][0-9０-９\s\-－\x{200b}-\x{200d}\x{2060}\x{feff}]{5,}"
    r"|[@＠]"
    r"|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
    r"|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"
    r"|[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Za-z]"
)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_HINT = re.compile(f"[{_PROVINCES}][A-Z]")
_HAS_DIGIT = re.compile(r"[0-9]")

# A cheap test per pattern: most hit rows need two or three of the ten patterns.
_GATES = {
    PIKind.EMAIL: lambda text: "@" in text,
    PIKind.LANDLINE_PHONE: lambda text: "-" in text or "(" in text,
    PIKind.PASSPORT: lambda text: "E" in text or "G" in text,
    PIKind.LICENSE_PLATE: lambda text: _PLATE_HINT.search(text) is not None,
}

_PATTERNS: list[tuple[PIKind, re.Pattern[str]]] = [
    (
        PIKind.EMAIL,
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
            r"(?![A-Za-z0-9-])"
        ),
    ),
    (
        PIKind.RESIDENT_ID,
        re.compile(
            r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx]"
            r"(?![0-9A-Za-z])"
        ),
    ),
    (
        PIKind.RESIDENT_ID,
        re.compile(  # legacy 15-digit form: no check digit, 19yy birth
            r"(?<![0-9])[1-9][0-9]{5}[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}(?![0-9])"
        ),
    ),
    (
        PIKind.BANK_CARD,
        re.compile(r"(?<![0-9])[1-9][0-9]{3}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?(?![0-9])"),
    ),
    (
        PIKind.MOBILE_PHONE,
        re.compile(r"(?<![0-9+])(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"),
    ),
    (
        PIKind.LANDLINE_PHONE,
        re.compile(r"(?<![0-9])(?:\(0[1-9][0-9]{1,2}\)|0[1-9][0-9]{1,2}-)[2-8][0-9]{6,7}(?![0-9])"),
    ),
    (
        PIKind.PASSPORT,
        re.compile(r"(?<![A-Za-z0-9])(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})(?![A-Za-z0-9])"),
    ),
    (PIKind.IP_ADDRESS, re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")),
    (
        PIKind.IP_ADDRESS,
        re.compile(  # IPv6
            r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])"
        ),
    ),
    (
        PIKind.LICENSE_PLATE,
        re.compile(
            rf"(?<![A-Za-z0-9])[{_PROVINCES}][A-HJ-NP-Z][·•]?[A-HJ-NP-Z0-9]{{5,6}}(?![A-Za-z0-9])"
        ),
    ),
]
# When spans overlap, the longer wins; on equal length, the earlier kind here.
_PRIORITY = {
    kind: rank
    for rank, kind in enumerate(
        [
            PIKind.EMAIL,
            PIKind.RESIDENT_ID,
            PIKind.BANK_CARD,
            PIKind.MOBILE_PHONE,
            PIKind.LANDLINE_PHONE,
            PIKind.PASSPORT,
            PIKind.IP_ADDRESS,
            PIKind.LICENSE_PLATE,
        ]
    )
}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_NON_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True, slots=True)
class PIMatch:
    kind: PIKind
    start: int  # character offsets into the original (un-normalised) text
    end: int
    value: str  # the normalised matched text: stays in memory, never reported

    def span(self) -> dict[str, object]:
        return {"kind": self.kind.value, "start": self.start, "end": self.end}


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    # A birth date in the future (local calendar day) is not a real ID.
    return dt.date(1900, 1, 1) <= born <= dt.date.today()  # noqa: DTZ011


def valid_resident_id(value: str) -> bool:
    value = value.upper()
    if len(value) == 18:
        if not _valid_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
            return False
        total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
        return "10X98765432"[total % 11] == value[17]
    if len(value) == 15:
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    return False


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _validate(kind: PIKind, text: str) -> bool:
    if kind is PIKind.RESIDENT_ID:
        return valid_resident_id(text)
    if kind is PIKind.BANK_CARD:
        digits = _NON_DIGITS.sub("", text)
        if not 16 <= len(digits) <= 19 or not luhn_valid(digits):
            return False
        # An 18-digit number shaped like an ID (valid birth date) is not read as a card.
        return not (
            len(digits) == 18
            and _valid_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
        )
    if kind is PIKind.LANDLINE_PHONE:
        return 10 <= len(_NON_DIGITS.sub("", text)) <= 12
    if kind is PIKind.IP_ADDRESS:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return address.version == 4 or (
            text.count(":") >= 2 and sum(c.isalnum() for c in text) >= 4
        )
    if kind is PIKind.LICENSE_PLATE:
        return sum(c.isdigit() for c in text) >= 3
    return True


# What NFKC does to most CJK text: full-width forms to ASCII, one character for one.
_NARROW = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def normalise_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """NFKC text without zero-width characters, and each character's original offset.

    Fast path: folding full-width forms keeps every offset, so when that already gives NFKC
    text without zero-width characters the offsets are the identity (no map is built).
    """
    if text.isascii():
        return text, None
    narrowed = text.translate(_NARROW)
    if _ZERO_WIDTH_RE.search(narrowed) is None and unicodedata.is_normalized("NFKC", narrowed):
        return narrowed, None
    out: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        if char in ZERO_WIDTH:
            continue
        normal = char if char < "\x80" else unicodedata.normalize("NFKC", char)
        out.append(normal)
        index.extend([position] * len(normal))
    index.append(len(text))
    return "".join(out), index


def find_pi(text: str) -> list[PIMatch]:
    """Every validated PI value in ``text``, non-overlapping, in order."""
    normal, index = normalise_with_offsets(text)
    candidates: list[tuple[int, int, PIKind, str]] = []
    has_digit = _HAS_DIGIT.search(normal) is not None
    for kind, pattern in _PATTERNS:
        gate = _GATES.get(kind)
        if (gate is not None and not gate(normal)) or (kind is not PIKind.EMAIL and not has_digit):
            continue
        if kind is PIKind.IP_ADDRESS and "." not in normal and normal.count(":") < 2:
            continue
        for match in pattern.finditer(normal):
            if _validate(kind, match.group()):
                candidates.append((match.start(), match.end(), kind, match.group()))
    candidates.sort(key=lambda c: (-(c[1] - c[0]), _PRIORITY[c[2]], c[0]))
    taken: list[tuple[int, int, PIKind, str]] = []
    for candidate in candidates:
        if all(candidate[1] <= s or candidate[0] >= e for s, e, _, _ in taken):
            taken.append(candidate)
    taken.sort()
    if index is None:
        return [PIMatch(kind, s, e, v) for s, e, kind, v in taken]
    return [PIMatch(kind, index[s], index[e - 1] + 1, v) for s, e, kind, v in taken]


def scan_pi(texts: pa.Array | pa.ChunkedArray) -> dict[int, list[PIMatch]]:
    """PI per row of ``texts`` (rows without PI are absent): prefilter, then validate."""
    import pyarrow.compute as pc

    mask = pc.fill_null(pc.match_substring_regex(texts, PREFILTER), False)
    hit_rows = pc.indices_nonzero(mask).to_pylist()
    if not hit_rows:
        return {}
    values = pc.take(texts, hit_rows).to_pylist()
    found = {}
    for row, text in zip(hit_rows, values, strict=True):
        matches = find_pi(text)
        if matches:
            found[row] = matches
    return found
