"""Squeezed text: the form every text matcher compares (lexicon terms, MinHash shingles,
near-duplicate confirmation).

Squeezing is NFKC (full/half width), lower case, and every space, punctuation mark, symbol
and zero-width character removed, so ``制 作 炸 弹``, ``制-作炸弹`` and ``ＢＯＭＢ making``
all meet their term.

Two engines, one output. Arrow's kernels (three passes: NFKC, lower case, an RE2 removal)
are the definition. The compiled engine (numba) does the same in one pass per character
with a table that Arrow itself filled: for each code point, what the three passes make of
it alone. Normalisation is context-free except around a few characters (combining marks,
the second half of a canonical composition, Hangul vowels and finals, code points this
Python does not know, and whatever decomposes into them); a row holding one of those is
squeezed by Arrow instead. The output is therefore Arrow's byte for byte
(tests/unit/test_squeeze.py compares them on an evasion fuzz set).

The compiled engine costs a process about 0.6 s to load (numba's import, the cached
machine code, the table) and saves about 9 ms per MB squeezed, so ``engine="auto"``
switches to it once it is loaded or once a process has squeezed ``_COMPILED_AFTER_BYTES``
with Arrow: a small scan never pays for it.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    import pyarrow as pa

log = logging.getLogger(__name__)

Engine = Literal["auto", "arrow", "compiled"]

_SQUEEZE = r"[\s\p{P}\p{S}\x{200b}-\x{200d}\x{2060}\x{feff}]+"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_COMPILED_AFTER_BYTES = 64 << 20
# Table codes besides an output length: copy the character as it is; squeeze the row with
# Arrow, because this character's normal form may depend on its neighbours.
_IDENTITY, _NEIGHBOURLY = 254, 255
# The table covers planes 0-2 and 14 (tags, variation selectors); rows with other
# characters (CJK extensions G and up, private use) are squeezed by Arrow.
_TABLE_PLANES = ((0, 0xD800), (0xE000, 0x30000), (0xE0000, 0xE1000))


class _Switch:
    """How much this process has squeezed with Arrow, and whether the compiled engine is
    loaded (``auto`` then uses it)."""

    lock = threading.Lock()
    arrow_bytes = 0
    compiled_loaded = False


def squeeze(texts: pa.Array | pa.ChunkedArray, *, engine: Engine = "auto") -> pa.Array:
    """NFKC, lower-case, and strip spaces, punctuation, symbols and zero-width characters.

    Nulls become empty strings; the type (string or large_string) is kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    if engine == "auto":
        size = texts.nbytes
        with _Switch.lock:
            use_compiled = _Switch.compiled_loaded or _Switch.arrow_bytes >= _COMPILED_AFTER_BYTES
            if not use_compiled:
                _Switch.arrow_bytes += size
        engine = "compiled" if use_compiled else "arrow"
    text_type = texts.type
    if engine == "compiled" and (
        pa.types.is_string(text_type) or pa.types.is_large_string(text_type)
    ):
        squeezed = _squeeze_compiled(texts)
        if squeezed is not None:
            return squeezed
    return _squeeze_arrow(texts)


def squeeze_term(term: str) -> str:
    """The Python twin of ``squeeze`` for one term (same NFKC, case and removals)."""
    import unicodedata

    normal = unicodedata.normalize("NFKC", term).lower()
    return "".join(
        ch
        for ch in normal
        if not (ch.isspace() or ch in _ZERO_WIDTH or unicodedata.category(ch)[0] in "PS")
    )


def _squeeze_arrow(texts: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    squeezed = pc.replace_substring_regex(
        pc.utf8_lower(pc.utf8_normalize(texts, "NFKC")), pattern=_SQUEEZE, replacement=""
    )
    if isinstance(squeezed, pa.ChunkedArray):
        squeezed = squeezed.combine_chunks()
    return squeezed


def _squeeze_compiled(texts: pa.Array) -> pa.Array | None:
    """The compiled engine; None when numba is not installed (Arrow squeezes instead)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    mapped = map_characters(texts, _squeeze_map())
    if mapped is None:
        return None
    squeezed, neighbourly = mapped
    if neighbourly.any():
        rows = pa.array(neighbourly.nonzero()[0])
        squeezed = pc.replace_with_mask(
            squeezed, pa.array(neighbourly), _squeeze_arrow(texts.take(rows))
        )
    return squeezed


def compiled_loaded() -> bool:
    """Whether this process has loaded the compiled engine (other per-character maps, such
    as PI normalisation, then use it too)."""
    return _Switch.compiled_loaded


@dataclass(frozen=True)
class CharacterMap:
    """Code point -> the bytes ``pool[start:start + length]`` that replace it, or a length
    of ``_IDENTITY`` (kept as it is) or ``_NEIGHBOURLY`` (its row cannot be mapped one
    character at a time)."""

    start: np.ndarray
    length: np.ndarray
    pool: np.ndarray

    @classmethod
    def build(
        cls, points: np.ndarray, replaced: pa.Array, neighbourly: Iterable[int]
    ) -> CharacterMap:
        """``replaced[i]`` replaces ``points[i]``; code points not in ``points`` are
        neighbourly."""
        import numpy as np
        import pyarrow.compute as pc

        chars = _characters(points)
        out_offsets = np.frombuffer(replaced.buffers()[1], dtype=np.int32)[
            replaced.offset : replaced.offset + len(points) + 1
        ]
        out_lengths = np.diff(out_offsets)
        if out_lengths.max() >= _IDENTITY:  # no character normalises to that much
            raise AssertionError("a character is replaced by 254 bytes or more")
        start = np.zeros(0x110000, dtype=np.int32)
        length = np.full(0x110000, _NEIGHBOURLY, dtype=np.uint8)
        start[points] = out_offsets[:-1] - out_offsets[0]
        length[points] = out_lengths
        same = pc.equal(replaced, chars).to_numpy(zero_copy_only=False)
        length[points[same]] = _IDENTITY
        length[np.fromiter(neighbourly, dtype=np.int64)] = _NEIGHBOURLY
        data = np.frombuffer(replaced.buffers()[2], dtype=np.uint8)
        pool = data[out_offsets[0] : out_offsets[-1]].copy()
        return cls(start, length, pool)


def table_points() -> np.ndarray:
    """The code points a character map covers: planes 0-2 and 14, without surrogates."""
    import numpy as np

    return np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in _TABLE_PLANES])


def _characters(points: np.ndarray) -> pa.Array:
    """A string array of one character per code point."""
    import numpy as np
    import pyarrow as pa

    widths = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    offsets = np.zeros(len(points) + 1, dtype=np.int32)
    np.cumsum(widths, out=offsets[1:])
    data = "".join(map(chr, points.tolist())).encode()
    return pa.StringArray.from_buffers(len(points), pa.py_buffer(offsets), pa.py_buffer(data))


def map_characters(
    texts: pa.Array, character_map: CharacterMap
) -> tuple[pa.Array, np.ndarray] | None:
    """``texts`` (string or large_string, no nulls) with every character replaced, in one
    compiled pass, and a mask of the rows that held a neighbourly character (their output
    is meaningless). None when numba is not installed."""
    import numpy as np
    import pyarrow as pa

    from trainguard.scanners.text_buffers import string_layout

    kernel = _kernel()
    if kernel is None:
        return None
    _Switch.compiled_loaded = True
    wide = pa.types.is_large_string(texts.type)
    n = len(texts)
    offsets, text_bytes = string_layout(texts)
    data = np.frombuffer(text_bytes, dtype=np.uint8) if text_bytes else np.zeros(1, np.uint8)
    out_offsets = np.empty(n + 1, dtype=np.int64 if wide else np.int32)
    neighbourly = np.zeros(n, dtype=np.bool_)
    tables = (character_map.start, character_map.length, character_map.pool)
    # Text rarely grows when mapped; when it does (a ligature, ㈱), size exactly and redo.
    out = np.empty(int(offsets[-1]) + 64, dtype=np.uint8)
    needed = kernel(data, offsets, *tables, out, out_offsets, neighbourly)
    if needed > len(out):
        if not wide and needed > np.iinfo(np.int32).max:
            return None
        out = np.empty(needed, dtype=np.uint8)
        neighbourly[:] = False
        kernel(data, offsets, *tables, out, out_offsets, neighbourly)
    mapped = pa.Array.from_buffers(
        texts.type, n, [None, pa.py_buffer(out_offsets), pa.py_buffer(out[:needed])]
    )
    return mapped, neighbourly


@functools.cache
def _squeeze_map() -> CharacterMap:
    """Each code point squeezed alone by Arrow's own kernels, so the map agrees with this
    Arrow's Unicode version."""
    points = table_points()
    return CharacterMap.build(
        points, _squeeze_arrow(_characters(points)), _neighbourly_points(points)
    )


def _neighbourly_points(points: np.ndarray) -> list[int]:
    """Code points whose NFKC may depend on the characters around them (UAX #15): those
    with a non-zero combining class, the second half of any canonical pair (a superset of
    NFC_Quick_Check=Maybe, Hangul vowels and finals included), code points this Python's
    Unicode does not assign (a newer Arrow may know them), and any character whose normal
    form contains one of these."""
    import unicodedata

    hangul_followers = [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]
    found: set[int] = set(hangul_followers)
    decomposing: list[str] = []
    for point in points.tolist():
        char = chr(point)
        if unicodedata.combining(char) or unicodedata.category(char) == "Cn":
            found.add(point)
        decomposition = unicodedata.decomposition(char)
        if decomposition:
            decomposing.append(char)
            parts = decomposition.split()
            if not parts[0].startswith("<") and len(parts) == 2:
                found.add(int(parts[1], 16))
    for char in decomposing:
        if any(ord(c) in found for c in unicodedata.normalize("NFKC", char)):
            found.add(ord(char))
    return sorted(found)


@functools.cache
def _kernel() -> Any:
    """The compiled per-character map (``_squeeze_kernel.map_rows``), or None without numba."""
    try:
        from trainguard.scanners._squeeze_kernel import map_rows
    except ImportError:
        log.warning("numba is not installed: text is squeezed by Arrow's kernels (slower)")
        return None
    except RuntimeError as exc:  # numba found no writable cache folder for its machine code
        log.warning("compiled squeeze unavailable (%s): Arrow's kernels squeeze instead", exc)
        return None
    return map_rows
