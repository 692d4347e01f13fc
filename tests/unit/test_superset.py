"""The hyperscan rewrite of a ``re`` pattern matches every span the pattern matches.

Fixtures are the hand-written sentences in ``tests/fixtures`` and real-format values (the
GB 11643 example ID, Luhn-valid cards from issuers' test ranges, RFC 5737 and RFC 3849
addresses), not the demo generator's output.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pyarrow as pa
import pytest

from trainguard.scanners.superset import superset_pattern

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VALUES = [
    "11010519491231002X", "110105 19491231 002X", "110105491231001", "4111 1111 1111 1111",
    "6222021234567890128", "3782-822463-10005", "+86 138 1234 5678", "13812345678",
    "138-1234-5678", "(0755)2345678", "010 6234 5678", "0571.8765.4321", "E12345678",
    "EA1234567", "198.51.100.7", "203.0.113.0/24", "2001:db8::1", "fe80::1%eth0",
    "::ffff:192.0.2.128", "zhang.san@example.com", "USER_7@mail.example.org", "粤B12345",
    "京A·F0236", "沪AD12345",
]  # fmt: skip


def _texts(count: int = 600, seed: int = 11) -> list[str]:
    """Fixture sentences with a real-format value put in at a random place, some glued to
    digits or letters on either side (where the look-arounds reject the match)."""
    rng = random.Random(seed)
    sentences = [
        line
        for name in ("benign_zh.txt", "benign_en.txt")
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    texts = []
    for _ in range(count):
        sentence = rng.choice(sentences)
        value = rng.choice(VALUES)
        glue = rng.choice(["", "", "7", "a", ".", "-", ":"])
        cut = rng.randrange(len(sentence) + 1)
        texts.append(sentence[:cut] + glue + value + glue + sentence[cut:])
    return texts


def _pi_patterns() -> list[re.Pattern[str]]:
    from trainguard.scanners.pi import _PATTERNS

    return [pattern for _, pattern in _PATTERNS]


def test_every_span_a_pi_pattern_matches_the_rewrite_matches() -> None:
    """Checked with ``re`` itself (the rewrite is also valid ``re`` bytes syntax): each
    span ``finditer`` returns, as UTF-8, is matched whole by the rewrite."""
    checked = 0
    for pattern in _pi_patterns():
        widened = re.compile(superset_pattern(pattern))
        for text in _texts():
            for match in pattern.finditer(text):
                assert widened.fullmatch(match.group().encode()), (pattern.pattern, text)
                checked += 1
    assert checked > 300


def test_hyperscan_flags_every_pattern_that_matches_in_a_row() -> None:
    """The one-scan bit mask (real hyperscan, rows concatenated as Arrow stores them) has
    the bit of every pattern that matches in the row, whatever the rows around it."""
    from trainguard.scanners.pi import _possible_patterns

    patterns = _pi_patterns()
    texts = _texts(count=1_500, seed=5)
    possible = _possible_patterns(pa.array(texts)).tolist()
    flagged = 0
    for text, mask in zip(texts, possible, strict=True):
        for number, pattern in enumerate(patterns):
            if pattern.search(text):
                assert mask >> number & 1, (pattern.pattern, text)
                flagged += 1
    assert flagged > 1_000
    # either offset width (polars and DuckDB write large_string), and a slice of an array
    large = pa.array(texts, pa.large_string()).slice(7)
    assert _possible_patterns(large).tolist() == possible[7:]
    # and it is a filter, not everything: plain sentences flag nothing
    sentences = (FIXTURES / "benign_en.txt").read_text(encoding="utf-8").splitlines()[1:30]
    assert set(_possible_patterns(pa.array(sentences)).tolist()) == {0}


def test_rewrites_widen_back_references_conditionals_and_look_arounds() -> None:
    def widened(source: str) -> re.Pattern[bytes]:
        return re.compile(superset_pattern(re.compile(source)))

    back = widened(r"(?<![0-9])[0-9]{3}(?P<s>[ .\-])[0-9]{4}(?P=s)[0-9]{4}(?![0-9])")
    assert back.fullmatch(b"138 1234 5678")
    assert back.fullmatch(b"138 1234-5678")  # wider: the separator need not repeat
    conditional = widened(r"(\()?[0-9]{3}(?(1)\)|-)")
    assert conditional.fullmatch(b"(010)") and conditional.fullmatch(b"010-")
    wide = widened("[京沪A-C]X")
    assert wide.fullmatch("京X".encode()) and wide.fullmatch(b"BX")
    assert not wide.fullmatch("津X".encode())


@pytest.mark.parametrize(
    "source",
    [r"\d{11}", r"[^0-9]+", r"a.b", r"(?i:abc)"],
    ids=["category", "negated class", "any character", "scoped flag"],
)
def test_what_the_rewrite_does_not_know_is_an_error(source: str) -> None:
    with pytest.raises(ValueError, match="not supported"):
        superset_pattern(re.compile(source))


def test_flags_that_change_matching_are_an_error() -> None:
    with pytest.raises(ValueError, match="flags"):
        superset_pattern(re.compile("abc", re.IGNORECASE))
