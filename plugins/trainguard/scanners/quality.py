"""Per-record quality flags for veracity and accuracy (Art. 7(4)), with Arrow kernels.

- empty: nothing but white space;
- garbled: U+FFFD replacement characters, control characters, or the classic mojibake of
  UTF-8 read as Latin-1 or GBK (``Ã©``, ``â€™``, ``锟斤拷``);
- truncated: no sentence-final punctuation at the end;
- language: by script (CJK ideographs against Latin letters), compared with the
  languages the dataset declares. Script counting is crude but needs no model download
  and is exact for the zh/en distinction the demo and most CN/EN corpora need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

GARBLED = (
    r"\x{FFFD}|[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}]|Ã[\x{80}-\x{BF}]|â€|锟斤拷"
    r"|ï»¿"
)
SENTENCE_END = r"[。！？.!?…\"'”’」』）)\]】]\s*$"
CJK = r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}]"
LATIN = r"[A-Za-z]"


def detect_languages(texts: pa.Array) -> Any:
    """zh, en or other per row, by script (a numpy array of str)."""
    import numpy as np
    import pyarrow.compute as pc

    texts = pc.fill_null(texts, "")
    cjk = np.asarray(pc.count_substring_regex(texts, CJK)).astype(float)
    latin = np.asarray(pc.count_substring_regex(texts, LATIN)).astype(float)
    # Chinese when ideographs are at least a fifth of the letters (a Chinese sentence with
    # an English name stays Chinese); English when Latin letters dominate.
    return np.where((cjk > 0) & (cjk * 5 >= cjk + latin), "zh", np.where(latin > 0, "en", "other"))


def quality_flags(texts: pa.Array, languages: list[str]) -> dict[str, Any]:
    """Boolean numpy arrays per flag, and the detected language per row."""
    import numpy as np
    import pyarrow.compute as pc

    texts = pc.fill_null(texts, "")
    trimmed = pc.utf8_trim_whitespace(texts)
    empty = np.asarray(pc.equal(pc.utf8_length(trimmed), 0))
    garbled = np.asarray(pc.match_substring_regex(texts, GARBLED))
    truncated = ~np.asarray(pc.match_substring_regex(trimmed, SENTENCE_END)) & ~empty
    detected = np.where(empty, "other", detect_languages(texts))
    mismatch = ~np.isin(detected, languages) & ~empty
    return {
        "empty": empty,
        "garbled": garbled,
        "truncated": truncated,
        "language": detected,
        "language_mismatch": mismatch,
    }
