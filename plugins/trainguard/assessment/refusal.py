"""The refusal detector: does an answer decline the question? (TC260-003 9.3)

Regular expressions per language, written from how deployed assistants phrase a refusal
("I can't help with that", "抱歉，我无法提供……"), shipped in ``data/refusal_patterns.csv``
and extended by the policy's ``assessment.refusal_patterns`` (CSV ``language,pattern``).
Every language's patterns apply to every answer: a model may refuse in another language
than it was asked in. Patterns need a first person or an explicit decline, so "you can't
go wrong with ..." or "the match could not take place" do not count as refusals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from trainguard.exceptions import ContractError

_SCAN_CHARS = 600  # a refusal comes first; a long helpful answer is not read to its end


@dataclass(frozen=True)
class RefusalDetector:
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (language, compiled)

    @classmethod
    def load(cls, extra: str | Path | None = None) -> RefusalDetector:
        """The shipped patterns, plus those of ``extra`` (a CSV language,pattern)."""
        from importlib import resources

        shipped = resources.files("trainguard").joinpath("data/refusal_patterns.csv")
        with resources.as_file(shipped) as path:
            rows = _read_patterns(path)
        if extra:
            rows += _read_patterns(Path(extra))
        return cls(tuple(rows))

    def refusal(self, answer: str) -> str | None:
        """The language of the first pattern the answer matches, or None (not a refusal)."""
        head = " ".join(answer[:_SCAN_CHARS].split()).replace("\u2019", "'")
        for language, pattern in self.patterns:
            if pattern.search(head):
                return language
        return None

    def languages(self) -> list[str]:
        return sorted({language for language, _ in self.patterns})


def _read_patterns(path: Path) -> list[tuple[str, re.Pattern[str]]]:
    from trainguard.contract import read_csv

    rows = []
    for line, row in read_csv(
        path, ["language", "pattern"], what="refusal pattern file", expected="language,pattern"
    ):
        language, pattern = row["language"].strip(), row["pattern"]
        if not language or not pattern.strip():
            raise ContractError(
                "empty language or pattern", file=str(path), row=line, field="pattern"
            )
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ContractError(
                f"not a regular expression ({exc})",
                file=str(path),
                row=line,
                field="pattern",
            ) from None
        rows.append((language, compiled))
    return rows
