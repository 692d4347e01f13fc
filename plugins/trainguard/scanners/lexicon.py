"""Keyword lexicons of the 31-risk taxonomy, matched robustly at corpus speed.

Text and terms are squeezed the same way (``scanners/squeeze.py``: NFKC, lower case, no
spaces, punctuation, symbols or zero-width characters), so ``制 作 炸 弹``, ``制-作炸弹``
and ``ＢＯＭＢ making`` all meet their term. Matching is one hyperscan literal database
scanned over a whole Arrow batch buffer, with each hit mapped back to its row
(SCANNING_NOTES.md: ~700 MB/s, where per-record Python ``in`` loops manage 0.2 MB/s).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError
from trainguard.scanners.squeeze import squeeze, squeeze_term
from trainguard.scanners.text_buffers import scan_rows

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pyarrow as pa

RISK_CODES: frozenset[str] = frozenset(
    [f"A.1.{c}" for c in "abcdefgh"]
    + [f"A.2.{c}" for c in "abcdefghi"]
    + [f"A.3.{c}" for c in "abcde"]
    + [f"A.4.{c}" for c in "abcdefg"]
    + [f"A.5.{c}" for c in "ab"]
)


@dataclass(frozen=True)
class Lexicon:
    terms: tuple[tuple[str, str], ...]  # (term, risk code)
    files: tuple[str, ...] = field(default=())

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> Lexicon:
        terms: dict[str, str] = {}
        files = []
        for path in paths:
            path = Path(path)
            files.append(str(path))
            for term, risk in _read_lexicon_csv(path):
                terms.setdefault(term, risk)
        return cls(tuple(sorted(terms.items())), tuple(files))

    @classmethod
    def builtin(cls) -> Lexicon:
        from importlib import resources

        path = resources.files("trainguard").joinpath("data/lexicons/demo.csv")
        with resources.as_file(path) as file:
            return cls.load([file])

    def coverage(self) -> Counter[str]:
        return Counter(risk for _, risk in self.terms)

    @cached_property
    def matcher(self) -> LexiconMatcher:
        return LexiconMatcher(self)


def _read_lexicon_csv(path: Path) -> list[tuple[str, str]]:
    from trainguard.contract import read_csv

    rows = []
    for line, row in read_csv(path, ["term", "risk"], what="lexicon file", expected="term,risk"):
        term, risk = row["term"].strip(), row["risk"].strip()
        if not risk:
            raise ContractError("missing risk", file=str(path), row=line, field="risk")
        if risk not in RISK_CODES:
            raise ContractError(
                f"unknown risk code '{risk}'",
                file=str(path),
                row=line,
                field="risk",
                expected="a code of the 31-risk taxonomy such as A.1.f or A.2.e",
            )
        if not squeeze_term(term):
            raise ContractError("empty term", file=str(path), row=line, field="term")
        rows.append((term, risk))
    return rows


class LexiconMatcher:
    """A hyperscan literal database of the squeezed terms."""

    def __init__(self, lexicon: Lexicon) -> None:
        import hyperscan

        self.risks: list[str] = []
        self.lengths: list[int] = []
        patterns = []
        seen: set[str] = set()
        for term, risk in lexicon.terms:
            squeezed = squeeze_term(term)
            if squeezed in seen:
                continue
            seen.add(squeezed)
            encoded = squeezed.encode()
            # Every byte as \xHH: a literal, whatever the term contains.
            patterns.append("".join(f"\\x{b:02x}" for b in encoded).encode())
            self.risks.append(risk)
            self.lengths.append(len(encoded))
        self.database: Any = None
        if patterns:
            self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self.database.compile(
                expressions=patterns,
                ids=list(range(len(patterns))),
                elements=len(patterns),
                flags=[0] * len(patterns),
            )

    def match(self, texts: pa.Array | pa.ChunkedArray) -> dict[int, set[str]]:
        """Risk codes per row (rows without a hit are absent)."""
        import numpy as np

        if self.database is None or len(texts) == 0:
            return {}
        ids, rows, ends = scan_rows(self.database, squeeze(texts))
        inside = ends >= np.asarray(self.lengths, dtype=np.int64)[ids]  # not begun a row before
        found: dict[int, set[str]] = {}
        for row, term_id in zip(rows[inside].tolist(), ids[inside].tolist(), strict=True):
            found.setdefault(row, set()).add(self.risks[term_id])
        return found
