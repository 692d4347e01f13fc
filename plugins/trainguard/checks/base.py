"""What every duty's measure reads and returns.

The shard scans (``gate.scan``) leave one row per record; ``reduce_scans`` loads them once
into a ``ScanView`` and hands it to each ``checks/<duty>.measure``. A duty returns
``Measures``: its columns of the per-source table, its columns of the one-row corpus table,
the offending record ids per ``"<check>:<source>"`` and a message per check. Thresholds
are not applied here: the GX suites in ``expectations/`` decide on these tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainguard.contract import Dataset
    from trainguard.policy import Policy
    from trainguard.scanners.classifier import HarmfulClassifier
    from trainguard.scanners.lexicon import Lexicon

Row = dict[str, Any]
Message = Callable[[Row, str], str]  # (table row, threshold text) -> what a finding says


@dataclass
class ScanView:
    """The per-record results of every shard scan of one dataset version, in one order."""

    dataset: Dataset
    policy: Policy
    lexicon: Lexicon
    classifier: Callable[[], HarmfulClassifier | None]  # None: the lexicon alone decides
    record_ids: list[str]
    source_ids: list[str]
    sample_keys: list[float]
    pi: list[list[dict[str, Any]]]  # spans with kind, offsets, covered, hmac
    lexicon_hit: list[bool]
    harmful_score: list[float | None]  # classifier score, for sampled records only
    flags: dict[str, list[bool]]  # quality flags: empty, garbled, truncated, language_mismatch
    languages: list[str]
    optout_work: list[str | None]
    reported: list[list[dict[str, str]]]  # per record: {kind: pi|work|output, violation}
    copyright_notice: list[bool]
    duplicate_of: list[str | None]  # record id of the earlier near-duplicate
    by_source: dict[str, list[int]]  # source id -> row indices
    texts: Callable[..., dict[int, str]]  # (record ids, indices, squeezed=) -> texts by index

    @cached_property
    def sample_order(self) -> list[int]:
        """Every row, smallest sampling key first: any prefix is a random sample."""
        return sorted(range(len(self.record_ids)), key=self.sample_keys.__getitem__)

    def ids(self, rows: list[int]) -> list[str]:
        return [self.record_ids[r] for r in rows]


@dataclass
class Measures:
    """One duty's share of the tables the GX suites check."""

    sources: dict[str, Row] = field(default_factory=dict)  # source id -> columns
    corpus: Row = field(default_factory=dict)
    offenders: dict[str, list[str]] = field(default_factory=dict)  # "check[:key]" -> ids
    messages: dict[str, Message] = field(default_factory=dict)  # check -> message, per source
    corpus_messages: dict[str, Message] = field(default_factory=dict)  # on the corpus row
    metrics: dict[str, float] = field(default_factory=dict)
