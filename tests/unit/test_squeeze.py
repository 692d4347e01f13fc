"""The compiled squeeze gives Arrow's output byte for byte, on real sentences dressed in
every evasion a filter meets, and on random code points from all of Unicode."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from trainguard.scanners.lexicon import Lexicon
from trainguard.scanners.squeeze import _kernel, _squeeze_map, squeeze

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sentences() -> list[str]:
    lines = []
    for name in ("benign_zh.txt", "benign_en.txt"):
        text = (FIXTURES / name).read_text(encoding="utf-8")
        lines += [line for line in text.splitlines() if line and not line.startswith("@@")]
    return lines


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# What evaders and ordinary text put between and over characters: zero-width and odd
# spaces, punctuation, combining accents and enclosing marks, variation selectors.
_INSERTS = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", " ", "\u3000", "\u00a0", "\u2009",
    "-", "·", "・", "！", "…", "*", "\u0301", "\u0308", "\u20dd", "\u3099", "\ufe0f",
    "\U000e0020",
]  # fmt: skip
# Characters whose NFKC is another: ligatures, enclosed and mathematical forms, Kangxi
# radicals, compatibility ideographs, half-width kana with their voicing marks, Hangul as
# syllables and as jamo, emoji and flags, CJK extensions B and G, Turkish dotted I, sigma.
_ODD = [
    "ﬁ", "ﬃ", "㈱", "①", "⑬", "⒈", "𝟏", "𝐀", "🄰", "⼀", "豈", "ｶﾞ", "ﾊﾟ", "한", "한",
    "ᄀ", "ᅡ", "ᆨ", "😀", "🇨🇳", "𠀀", "\U00030000", "İ", "Σ", "ς", "ß", "Ǆ", "ℌ", "㎏",
    "ｧ", "\ufdfa", "\u0e33", "\u0f77", "e\u0301", "\u1e9b\u0323", "\u00e9", "\uac00\u11a8",
    "x\u0350\u0316", "\u09c7\u09be", "\u0b47\u0b3e",
]  # fmt: skip


def evasions(seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for line in sentences():
        rows.append(line)
        rows.append(full_width(line))
        rows.append(line.upper())
        chars = list(line)
        for _ in range(max(1, len(chars) // 6)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(_INSERTS))
        rows.append("".join(chars))
        chars = list(line)
        for _ in range(3):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(_ODD))
        rows.append("".join(chars))
    return rows


def random_code_points(rows: int = 2_000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    planes = [(0, 0x80), (0x80, 0x800), (0x800, 0x10000), (0x10000, 0x30000), (0xE0000, 0xE1000)]
    out = []
    for _ in range(rows):
        text = []
        for _ in range(rng.randint(0, 40)):
            low, high = rng.choice(planes)
            point = rng.randrange(low, high)
            if not 0xD800 <= point < 0xE000:
                text.append(chr(point))
        out.append("".join(text))
    return out


def combining_marks(rows: int = 2_000, seed: int = 11) -> list[str]:
    """Letters, kana, jamo and syllables followed by marks out of canonical order."""
    import unicodedata

    rng = random.Random(seed)
    marks = [chr(p) for p in range(0x300, 0x10000) if unicodedata.combining(chr(p))]
    bases = "aeiouAEIOUdsxyzカか\u1100\u1161\uac00ΑΩ"
    return [
        "".join(rng.choice(bases) + "".join(rng.sample(marks, rng.randint(0, 3))) for _ in range(8))
        for _ in range(rows)
    ]


def kernel_rows(texts: pa.Array) -> np.ndarray:
    """Which rows the compiled kernel handed back to Arrow."""
    table = _squeeze_map()
    start, length, pool = table.start, table.length, table.pool
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[: len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)
    out = np.empty(int(offsets[-1]) * 4 + 64, dtype=np.uint8)
    neighbourly = np.zeros(len(texts), dtype=np.bool_)
    _kernel()(data, offsets, start, length, pool, out, np.empty_like(offsets), neighbourly)
    return neighbourly


@pytest.mark.parametrize(
    "rows",
    [evasions(), random_code_points(), combining_marks()],
    ids=["evasions", "random", "marks"],
)
def test_compiled_output_is_arrows_byte_for_byte(rows: list[str]) -> None:
    """Every row squeezes to exactly what Arrow's three kernels make of it."""
    texts = pa.array(rows, pa.string())
    assert (
        squeeze(texts, engine="compiled").to_pylist() == squeeze(texts, engine="arrow").to_pylist()
    )


def test_plain_and_evasive_sentences_stay_in_the_kernel() -> None:
    """Real sentences in full width, with zero-width characters, punctuation and odd spaces
    between them, need no Arrow fallback: only characters that compose do."""
    lines = sentences()
    plain = [
        *lines,
        *map(full_width, lines),
        *(("\u200b".join(line) + "\u3000·！") for line in lines),
    ]
    assert not kernel_rows(pa.array(plain)).any()
    composing = ["e\u0301", "ｶﾞ", "\u1100\u1161", "\U00030000"]
    assert kernel_rows(pa.array(composing)).all()


def test_large_strings_and_nulls_keep_their_meaning() -> None:
    """A large_string column (polars, DuckDB) squeezes and matches like a string column."""
    rows = ["ＢＯＭＢ making", None, "制 作\u200b炸弹", ""]
    for engine in ("arrow", "compiled"):
        wide = squeeze(pa.array(rows, pa.large_string()), engine=engine)
        assert wide.type == pa.large_string()
        assert wide.to_pylist() == ["bombmaking", "", "制作炸弹", ""]
    lexicon = Lexicon(terms=(("bomb making", "A.1.d"), ("制作炸弹", "A.1.d")))
    assert lexicon.matcher.match(pa.array(rows, pa.large_string())) == {
        0: {"A.1.d"},
        2: {"A.1.d"},
    }


def test_a_slice_of_a_batch_squeezes_like_a_copy() -> None:
    """Arrow slices keep their parent's buffers; only the slice's rows come out."""
    rows = pa.array(["ＡＢ c", "x\u200by", "e\u0301", "制 作", "Z"] * 3)
    for text_type in (pa.string(), pa.large_string()):
        part = rows.cast(text_type).slice(3, 9)
        assert (
            squeeze(part, engine="compiled").to_pylist()
            == squeeze(part, engine="arrow").to_pylist()
        )


def test_text_that_grows_when_squeezed_is_sized_again() -> None:
    """A row of ligatures squeezes to more bytes than it had: the kernel sizes again."""
    rows = ["\ufdfa" * 50, "ﬃ" * 100, "短"]
    texts = pa.array(rows)
    assert (
        squeeze(texts, engine="compiled").to_pylist() == squeeze(texts, engine="arrow").to_pylist()
    )
