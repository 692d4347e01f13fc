"""Personal-information detection, Chinese and international, at corpus speed.

Stages, because validation is what costs (SCANNING_NOTES.md): one Arrow RE2 pass over a
whole batch marks the rows that *could* hold PI (a superset: digit runs, ``@``, IP-like
and plate-like text); only those rows are normalised (NFKC, zero-width characters
dropped). In a long scan (once the compiled engine is loaded) one hyperscan pass over
their normal forms then says which patterns can match in which row (each pattern widened
for hyperscan by ``superset.py``), so ``re`` and the validators run only there. Near
misses are rejected: a wrong ID check digit, an impossible birth date, a failed Luhn
check, a number inside a longer digit run. Offsets are mapped back to the original text.

``re`` is used with explicit ``[0-9]`` classes and look-arounds instead of ``\\b``: in
``手机13812345678`` there is no word boundary before the number (SCANNING_NOTES.md).

Kept as one module (about 600 lines): the patterns, the prefilter and the hyperscan pass
derived from them, the normalisation they read and the validators are one definition of
"PI"; split, a change to one would silently stop matching the others.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainguard.contract import PIKind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np
    import pyarrow as pa

    from trainguard.scanners.squeeze import CharacterMap

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_HINT = re.compile(f"[{_PROVINCES}][A-Z]")
_HAS_DIGIT = re.compile(r"[0-9]")

# Cheap tests per pattern: most hit rows need two or three of the ten patterns. First the
# fewest ASCII digits a match holds (after NFKC every digit the patterns read is ASCII):
# an ID 15 (legacy) or 17 and a check character, a card 13, a mobile 11, a landline 10
# (area code and number), a passport 7, an IPv4 address 4; an IPv6 address or a plate
# needs one (ip_extent and _extent reject them without), an email none.
_MIN_DIGITS = {
    PIKind.EMAIL: 0,
    PIKind.RESIDENT_ID: 15,
    PIKind.BANK_CARD: 13,
    PIKind.MOBILE_PHONE: 11,
    PIKind.LANDLINE_PHONE: 10,
    PIKind.PASSPORT: 7,
    PIKind.IP_ADDRESS: 1,
    PIKind.LICENSE_PLATE: 1,
}
_GATES = {
    PIKind.EMAIL: lambda text: "@" in text,
    PIKind.PASSPORT: lambda text: "E" in text or "G" in text,
    PIKind.LICENSE_PLATE: lambda text: _PLATE_HINT.search(text) is not None,
    PIKind.IP_ADDRESS: lambda text: "." in text or text.count(":") >= 2,
}


# Then where to look: an ID, card or phone number lies inside a run of digits, separators,
# brackets, "+" and "X" at least 10 long, so these patterns search only such runs. Each
# window ends one character past its run, so that look-aheads see the real next
# character (a pattern never matches it: it is not of the run's alphabet); look-behinds
# see before a window's start anyway. The run is trimmed to where a value can start (a
# digit, "(" or "+") and end (a digit or X): the same windows for the patterns, and `re`
# then tries to start a run only at those characters, not at every space of a sentence.
_DIGIT_RUN = re.compile(r"[0-9(+][0-9 .\-()+Xx]{8,}[0-9Xx]")
_IN_DIGIT_RUNS = frozenset(
    {PIKind.RESIDENT_ID, PIKind.BANK_CARD, PIKind.MOBILE_PHONE, PIKind.LANDLINE_PHONE}
)


def _digits(text: str) -> int:
    return sum(map(text.count, "0123456789"))


_NOT_IN_RUN_DIGITS = str.maketrans("", "", "0123456789")


def _run_digits(run: str) -> int:
    """``_digits`` of a short digit run: deleting its digits is quicker than counting."""
    return len(run) - len(run.translate(_NOT_IN_RUN_DIGITS))


def _gated_patterns(normal: str) -> int:
    """The bit mask (as ``_possible_patterns``) of the patterns that pass the cheap tests."""
    digits = _digits(normal)
    possible = 0
    for number, (kind, _) in enumerate(_PATTERNS):
        gate = _GATES.get(kind)
        if digits >= _MIN_DIGITS[kind] and (gate is None or gate(normal)):
            possible |= 1 << number
    return possible


# Digit groups may be separated by a space, hyphen or dot (full-width forms and Unicode
# dashes are folded to these first), the same one throughout a value: "110105 19491231
# 002X" is one ID, "110105 19491231-002X" is not. (?P=s) repeats the first separator.
_SEP = r"[ .\-]"
_IPV4 = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}"
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
        re.compile(  # region, birth date (8 or 4+4), sequence and check digit: 6-8-4, 6-4-4-4
            r"(?<![0-9])[1-9][0-9]{5}(?P<s>" + _SEP + r"?)(?:18|19|20)[0-9]{2}(?P=s)?"
            r"[01][0-9][0-3][0-9](?P=s)[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
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
        re.compile(  # 13-19 digits: unbroken, in fours, or 4-6-5 / 4-6-4 (Amex, Diners)
            r"(?<![0-9])(?:[0-9]{13,19}"
            r"|[0-9]{4}(?P<s>" + _SEP + r")[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{1,4}){1,2}"
            r"|[0-9]{4}(?P<t>" + _SEP + r")[0-9]{6}(?P=t)[0-9]{4,5})(?![0-9])"
        ),
    ),
    (
        PIKind.MOBILE_PHONE,
        re.compile(
            r"(?<![0-9+])(?:(?:\+|00)86" + _SEP + r"?)?1[3-9][0-9](?P<s>" + _SEP + r"?)"
            r"[0-9]{4}(?P=s)[0-9]{4}(?![0-9])"
        ),
    ),
    (
        PIKind.LANDLINE_PHONE,
        re.compile(  # (0755)2345678, 010-62345678, 010 6234 5678, 0571.8765.4321
            r"(?<![0-9])(?:\(0[1-9][0-9]{1,2}\) ?|0[1-9][0-9]{1,2}(?P<s>[ .\-]))"
            r"[2-8](?:[0-9]{6,7}|[0-9]{2,3}(?(s)(?P=s)|[ .\-])[0-9]{4})(?![0-9])"
        ),
    ),
    (
        PIKind.PASSPORT,
        re.compile(r"(?<![A-Za-z0-9])(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})(?![A-Za-z0-9])"),
    ),
    (  # IPv4, optionally with a CIDR prefix; "192.168.1.1.1" is 192.168.1.1 (RFC 4632 form)
        PIKind.IP_ADDRESS,
        re.compile(rf"(?<![0-9A-Za-z.]){_IPV4}(?:/[0-9]{{1,3}})?(?![0-9A-Za-z])"),
    ),
    (  # IPv6 in every RFC 4291 2.2 form: full, compressed, IPv4-embedded; zone; prefix
        PIKind.IP_ADDRESS,
        re.compile(
            r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
            rf"(?:{_IPV4}|[0-9A-Fa-f]{{1,4}})?(?:%[0-9A-Za-z_\-]+)?(?:/[0-9]{{1,4}})?"
            r"(?![0-9A-Za-z:%]|\.[0-9])"
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
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


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
        # The legacy form has no check digit; a 15-digit number that passes Luhn under an
        # Amex prefix (34, 37) is read as that card. UATP's prefix 1 is not enough: it is
        # the first digit of every legacy ID from Beijing, Tianjin, Hebei, Shanxi and Inner
        # Mongolia, one in ten of which passes Luhn by chance.
        amex = value.startswith(("34", "37")) and valid_bank_card(value)
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12])) and not amex
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


# Card lengths below 16 belong to a few networks only (ISO/IEC 7812 IINs): without this a
# 13-digit millisecond timestamp would pass Luhn one time in ten.
_SHORT_CARD_PREFIXES = {
    13: ("4",),  # Visa
    14: ("300", "301", "302", "303", "304", "305", "36", "38", "39"),  # Diners Club
    15: ("34", "37", "1", "2131", "1800"),  # Amex, UATP, JCB
}


def valid_bank_card(digits: str) -> bool:
    """13-19 digits passing Luhn; below 16 digits, a network that issues that length."""
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    if len(digits) < 16:
        return digits.startswith(_SHORT_CARD_PREFIXES[len(digits)])
    # An 18-digit number shaped like an ID (valid birth date) is not read as a card.
    return not (
        len(digits) == 18 and _valid_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    )


def ip_extent(text: str) -> int:
    """How much of a matched address is one: its length, shorter by an impossible prefix
    length ("10.0.0.0/123" is 10.0.0.0), or 0 when it is no address. Not reported: the
    unspecified address ``::``, hex-only words (``dead::beef``) and a lone short group
    other than the loopback ``::1`` (``a[::2]`` is a Python slice)."""
    address, slash, prefix = text.partition("/")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return 0
    if parsed.version == 6:
        groups = [group for group in address.partition("%")[0].split(":") if group]
        lone_short = len(groups) == 1 and len(groups[0]) <= 2 and not parsed.is_loopback
        if parsed.is_unspecified or lone_short or _HAS_DIGIT.search(address) is None:
            return 0
    if slash and int(prefix) > parsed.max_prefixlen:
        return len(address)
    return len(text)


# A dotted quad that numbers a section of a document ("第3.2.1.4节", "clause 5.1.2.3"),
# not a host: standards and manuals are full of them.
_SECTION_BEFORE = re.compile(
    r"(?:第|§|\b(?:section|sec\.|clause|chapter|article|paragraph))\s*$", re.IGNORECASE
)
_SECTION_AFTER = re.compile(r"^\s*[节条款章项段]")


def _section_number(text: str, match: re.Match[str]) -> bool:
    return "." in match.group() and bool(
        _SECTION_BEFORE.search(text, max(0, match.start() - 12), match.start())
        or _SECTION_AFTER.match(text[match.end() : match.end() + 3])
    )


def _extent(kind: PIKind, text: str) -> int:
    """The length of ``text`` that is a valid value of ``kind`` (0: none of it)."""
    if kind is PIKind.RESIDENT_ID:
        valid = valid_resident_id(_NON_ALNUM.sub("", text))
    elif kind is PIKind.BANK_CARD:
        valid = valid_bank_card(_NON_DIGITS.sub("", text))
    elif kind is PIKind.LANDLINE_PHONE:
        valid = 10 <= len(_NON_DIGITS.sub("", text)) <= 12
    elif kind is PIKind.IP_ADDRESS:
        return ip_extent(text)
    elif kind is PIKind.LICENSE_PLATE:
        valid = sum(c.isdigit() for c in text) >= 3
    else:
        valid = True
    return len(text) if valid else 0


# What NFKC does to most CJK text: full-width forms to ASCII, one character for one.
# Unicode dashes (U+2010-2015, minus sign) become "-" as well, so that digit groups joined
# by any of them match the patterns' separators.
_NARROW = (
    {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    | {0x3000: 0x20}
    | dict.fromkeys([*range(0x2010, 0x2016), 0x2212], ord("-"))
)
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
        normal = char if char < "\x80" else unicodedata.normalize("NFKC", char).translate(_NARROW)
        out.append(normal)
        index.extend([position] * len(normal))
    index.append(len(text))
    return "".join(out), index


def _normal_char(char: str) -> str:
    """What ``normalise_with_offsets`` turns one character into ("" when dropped)."""
    if char in ZERO_WIDTH:
        return ""
    return char if char < "\x80" else unicodedata.normalize("NFKC", char).translate(_NARROW)


def _re2_class(chars: set[str]) -> str:
    """An RE2 character class of ``chars``, as ranges of code points."""
    points = sorted(map(ord, chars))
    parts = []
    start = previous = points[0]
    for point in [*points[1:], -1]:
        if point != previous + 1:
            parts.append(
                f"\\x{{{start:x}}}" + (f"-\\x{{{previous:x}}}" if previous > start else "")
            )
            start = point
        previous = point
    return "[" + "".join(parts) + "]"


@functools.cache
def _normalised_characters() -> dict[str, str]:
    """``_normal_char`` of every character it may change: the non-ASCII ones with a
    decomposition, the full-width and dash forms, zero-width characters. Every other
    character is its own normal form."""
    normal_of = {}
    for point in range(0x80, 0x110000):
        char = chr(point)
        if unicodedata.decomposition(char) or point in _NARROW or char in ZERO_WIDTH:
            normal_of[char] = _normal_char(char)
    return normal_of


@functools.cache
def prefilter_pattern() -> str:
    """The RE2 pattern (Arrow, raw text) that marks every row ``find_pi`` could match.

    It must never miss one. The validated patterns see the text after NFKC, so the
    prefilter's classes are derived here from the same per-character normalisation, for
    this interpreter's Unicode version: a digit is any character whose normal form holds
    one (``１``, ``①``, ``𝟏``, ``⑬``, ``⒈``), a separator any whose normal form is a
    space, dot or hyphen (``﹒``, ``․``, ``\u2009``), and zero-width characters, which
    normalisation drops, may sit anywhere. Deriving them, rather than listing full-width
    forms by hand, is what keeps mathematical, circled and small forms from slipping past.

    Why each alternative is enough (the patterns' own shapes):
    - every digit pattern (ID, card, phones, passport, IPv4) holds a run of at least 7
      digits, separators and zero-width characters after normalisation. Characters that
      normalise to one character make such a run 6 or more raw characters long; one that
      expands (``⑬`` is two digits, ``⒈`` a digit and a dot, at most four characters)
      sits in a raw run of at least 3;
    - an email holds an ``@``; an IPv6 address ``::`` or ``:h:`` with up to four hex digits;
      a licence plate a province followed by a letter.
    """
    normal_of = {chr(point): chr(point) for point in range(0x80)} | _normalised_characters()

    def where(test: Callable[[str], bool]) -> set[str]:
        return {char for char, normal in normal_of.items() if test(normal)}

    digit = where(lambda n: any("0" <= c <= "9" for c in n))
    wide_digit = {char for char in digit if len(normal_of[char]) > 1}
    separator = where(lambda n: n in {" ", ".", "-"}) | ZERO_WIDTH
    run = _re2_class(digit | separator)
    hex_digit = where(lambda n: n != "" and all(c in "0123456789abcdefABCDEF" for c in n))
    colon = where(lambda n: ":" in n)
    double_colon = where(lambda n: n.count(":") >= 2)
    province = where(lambda n: n != "" and n[-1] in _PROVINCES) | set(_PROVINCES)
    letter = where(lambda n: n != "" and n[0].isascii() and n[0].isalpha())
    zero_width = _re2_class(set(ZERO_WIDTH))
    wide = _re2_class(wide_digit)
    return "|".join(
        [
            f"{_re2_class(digit)}{run}{{5,}}",
            f"{wide}{run}{run}|{run}{wide}{run}|{run}{run}{wide}",
            _re2_class(where(lambda n: "@" in n)),
            f"{_re2_class(colon)}{_re2_class(hex_digit | set(ZERO_WIDTH))}*{_re2_class(colon)}",
            _re2_class(double_colon),
            f"{_re2_class(province)}{zero_width}*{_re2_class(letter)}",
        ]
    )


@functools.cache
def _normal_map() -> CharacterMap:
    """``_normal_char`` as a compiled character map. A character whose normal form is one
    character is mapped; one that vanishes or expands is neighbourly, because its row
    needs the offset map ``normalise_with_offsets`` builds."""
    import pyarrow as pa

    from trainguard.scanners.squeeze import CharacterMap, table_points

    points = table_points()
    normal_of = _normalised_characters()
    replaced: list[str] = []
    neighbourly: list[int] = []
    for point in points.tolist():
        char = chr(point)
        normal = normal_of.get(char, char)
        if len(normal) != 1:
            neighbourly.append(point)
            normal = char
        replaced.append(normal)
    return CharacterMap.build(points, pa.array(replaced, pa.string()), neighbourly)


def _normal_forms(texts: pa.Array) -> tuple[list[str | None], list[int | None]]:
    """Each row's normal form where the compiled map gives it one character for one (its
    offsets are then the original ones), None where ``find_pi`` must normalise in Python;
    and for those rows, which patterns can match in them (``_possible_patterns``).
    Only once this process has loaded the compiled engine (squeeze.py): small scans do not
    pay for loading it."""
    from trainguard.scanners.squeeze import compiled_loaded, map_characters

    mapped = map_characters(texts, _normal_map()) if compiled_loaded() else None
    if mapped is None:
        return [None] * len(texts), [None] * len(texts)
    normal, neighbourly = mapped
    forms: list[str | None] = normal.to_pylist()
    possible: list[int | None] = _possible_patterns(normal).tolist()
    for row in neighbourly.nonzero()[0].tolist():
        forms[row] = possible[row] = None
    return forms, possible


@functools.cache
def _pattern_database() -> Any:
    """Every pattern of ``_PATTERNS``, widened for hyperscan (``superset.py``), in one
    database whose match ids are the patterns' indexes."""
    import hyperscan

    from trainguard.scanners.superset import superset_pattern

    expressions = [superset_pattern(pattern) for _, pattern in _PATTERNS]
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[0] * len(expressions),
    )
    return database


def _possible_patterns(normal: pa.Array) -> np.ndarray:
    """For each row of ``normal`` (normal forms), a bit mask of the patterns that can match
    in it (bit i: ``_PATTERNS[i]``), from one hyperscan scan of the whole array.

    A pattern's widened form matches wherever the pattern does, with the same end, so a
    row's real matches are all reported inside it. A widened match that runs over from the
    previous row only sets a bit ``find_pi`` did not need: never one too few."""
    import numpy as np

    from trainguard.scanners.text_buffers import scan_rows

    patterns, rows, _ = scan_rows(_pattern_database(), normal)
    possible = np.zeros(len(normal), dtype=np.int64)
    np.bitwise_or.at(possible, rows, np.left_shift(1, patterns))
    return possible


def _add_candidates(
    candidates: list[tuple[int, int, PIKind, str]],
    kind: PIKind,
    matches: Iterator[re.Match[str]],
    normal: str,
) -> None:
    """Each match's valid extent, as (start, end, kind, value)."""
    for match in matches:
        length = _extent(kind, match.group())
        if length and kind is PIKind.IP_ADDRESS and _section_number(normal, match):
            continue
        if length:
            start = match.start()
            candidates.append((start, start + length, kind, match.group()[:length]))


def find_pi(text: str, normal: str | None = None, possible: int | None = None) -> list[PIMatch]:
    """Every validated PI value in ``text``, non-overlapping, in order. ``normal``: the
    text's normal form when it keeps every offset, and ``possible``: the bit mask of the
    patterns that can match in it (both from ``_normal_forms``). Without the mask, the
    cheap tests above stand in for it; both only ever leave out patterns that cannot
    match, so the result is the same either way."""
    index: list[int] | None = None
    if normal is None:
        normal, index = normalise_with_offsets(text)
    if possible is None:
        possible = _gated_patterns(normal)
    candidates: list[tuple[int, int, PIKind, str]] = []
    runs = None
    for number, (kind, pattern) in enumerate(_PATTERNS):
        if not possible >> number & 1:
            continue
        if kind not in _IN_DIGIT_RUNS:
            _add_candidates(candidates, kind, pattern.finditer(normal), normal)
            continue
        if runs is None:
            runs = [
                (m.start(), m.end() + 1, _run_digits(m.group()))
                for m in _DIGIT_RUN.finditer(normal)
            ]
        for pos, end, run_digits in runs:
            if run_digits >= _MIN_DIGITS[kind]:
                _add_candidates(candidates, kind, pattern.finditer(normal, pos, end), normal)
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

    mask = pc.fill_null(pc.match_substring_regex(texts, prefilter_pattern()), False)
    hit_rows = pc.indices_nonzero(mask).to_pylist()
    if not hit_rows:
        return {}
    hits = pc.take(texts, hit_rows)
    normal, possible = _normal_forms(hits)
    found = {}
    for row, text, form, patterns in zip(hit_rows, hits.to_pylist(), normal, possible, strict=True):
        if patterns == 0:
            continue  # no pattern can match in this row
        matches = find_pi(text, form, patterns)
        if matches:
            found[row] = matches
    return found
