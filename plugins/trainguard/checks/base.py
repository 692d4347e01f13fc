"""What every duty tallies per shard, and what its measure reads and returns.

The fan-in is a reduce of small mergeable partials, so its memory is bounded by the
sample sizes and the number of sources, never by the number of records:

- each shard's scan file is read in batches (``ScanBatch``); each duty's ``tally`` adds
  that batch to a ``Partial``: counts, label sets, the first offending record ids with
  their number (``Offenders``), and bottom-k samples by the keyed sampling hash;
- partials merge in shard order (``Partial.merge``, associative);
- each duty's ``measure`` reads the merged partial (``Tally``) and returns ``Measures``:
  its columns of the per-source table, of the one-row corpus table, the offenders per
  ``"<check>:<source>"`` and a message per check.

Thresholds are not applied here: the GX suites in ``expectations/`` decide on the tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.findings import MAX_RECORD_IDS

if TYPE_CHECKING:
    import numpy as np

    from trainguard.contract import Dataset
    from trainguard.policy import Policy
    from trainguard.scanners.classifier import HarmfulClassifier
    from trainguard.scanners.lexicon import Lexicon

Row = dict[str, Any]
Message = Callable[[Row, str], str]  # (table row, threshold text) -> what a finding says
# Sampling keys are uniform in [0, 1): a histogram of them locates any rank of the corpus
# (the automated sample is a fraction of every record) without keeping the keys.
HISTOGRAM_BINS = 4096


def key_bins(keys: np.ndarray) -> np.ndarray:
    """The histogram bin of each sampling key."""
    import numpy as np

    return np.minimum((keys * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1)


class Offenders:
    """The records a check names: how many, and the first ``MAX_RECORD_IDS`` of them.

    Iterating gives the ids kept, ``len`` the full number, so a finding can say
    "100 shown of 12,345" without the reduce holding 12,345 ids.
    """

    __slots__ = ("count", "head")

    def __init__(self, ids: list[str] | tuple[str, ...] = (), count: int | None = None) -> None:
        self.head = list(ids[:MAX_RECORD_IDS])
        self.count = len(ids) if count is None else count

    def add(self, ids: list[str], count: int | None = None) -> None:
        """``ids`` in order; ``count``: how many they stand for, when only the first are
        given (``room`` says how many are still kept)."""
        self.head.extend(ids[: self.room])
        self.count += len(ids) if count is None else count

    @property
    def room(self) -> int:
        return max(0, MAX_RECORD_IDS - len(self.head))

    def merge(self, later: Offenders) -> Offenders:
        """These ids, then ``later``'s (the order of the shards they come from)."""
        merged = Offenders(self.head, self.count)
        merged.add(later.head)
        merged.count += later.count - len(later.head)
        return merged

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return iter(self.head)

    def __repr__(self) -> str:
        return f"Offenders({self.head[:3]}..., count={self.count})"


@dataclass
class Sample:
    """The ``size`` entries with the smallest (key, shard, row): a random sample by the
    keyed hash, stable per record id, that two shards' samples merge into exactly."""

    size: int
    entries: list[tuple[float, int, int, Any]] = field(default_factory=list)  # sorted

    def offer(
        self, keys: np.ndarray, shard: int, rows: np.ndarray, payload: Callable[[int], Any]
    ) -> None:
        """Offer rows ``rows`` of ``shard`` with their ``keys``; ``payload(i)`` is called
        only for the ``i`` that enter."""
        import numpy as np

        candidates = np.arange(len(keys))
        if len(self.entries) >= self.size:
            candidates = np.flatnonzero(keys < self.entries[-1][0])
        if len(candidates) > self.size:
            candidates = candidates[np.argpartition(keys[candidates], self.size - 1)[: self.size]]
        if len(candidates) == 0:
            return
        fresh = [(float(keys[i]), shard, int(rows[i]), payload(int(i))) for i in candidates]
        self.entries = sorted(self.entries + fresh, key=_rank)[: self.size]

    def merge(self, other: Sample) -> Sample:
        return Sample(self.size, sorted(self.entries + other.entries, key=_rank)[: self.size])

    def payloads(self) -> list[Any]:
        return [entry[3] for entry in self.entries]


def _rank(entry: tuple[float, int, int, Any]) -> tuple[float, int, int]:
    return entry[0], entry[1], entry[2]


@dataclass
class Partial:
    """What the duties tallied over some adjacent shards; merges with the next ones."""

    shard_records: dict[int, int] = field(default_factory=dict)  # shard index -> records
    counts: Counter[str] = field(default_factory=Counter)
    labels: dict[str, set[str]] = field(default_factory=dict)
    offenders: dict[str, Offenders] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)

    @property
    def records(self) -> int:
        return sum(self.shard_records.values())

    def count(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] += n

    def label(self, key: str, values: set[str] | list[str]) -> None:
        self.labels.setdefault(key, set()).update(values)

    def offend(self, key: str, ids: list[str]) -> None:
        self.offenders.setdefault(key, Offenders()).add(ids)

    def sample(self, name: str, size: int) -> Sample:
        return self.samples.setdefault(name, Sample(size))

    def merge(self, later: Partial) -> Partial:
        """This partial and ``later``'s, whose shards all come after this one's."""
        if (
            self.shard_records
            and later.shard_records
            and max(self.shard_records) >= min(later.shard_records)
        ):
            raise ValueError("partials merge in shard order")
        labels = {k: set(v) for k, v in self.labels.items()}
        for key, values in later.labels.items():
            labels.setdefault(key, set()).update(values)
        offenders = dict(self.offenders)
        for key, found in later.offenders.items():
            offenders[key] = offenders[key].merge(found) if key in offenders else found
        samples = dict(self.samples)
        for name, sample in later.samples.items():
            samples[name] = samples[name].merge(sample) if name in samples else sample
        return Partial(
            {**self.shard_records, **later.shard_records},
            self.counts + later.counts,
            labels,
            offenders,
            samples,
            [a + b for a, b in zip(self.histogram, later.histogram, strict=True)],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "shard_records": {str(k): v for k, v in self.shard_records.items()},
            "counts": dict(self.counts),
            "labels": {k: sorted(v) for k, v in self.labels.items()},
            "offenders": {k: [o.count, o.head] for k, o in self.offenders.items()},
            "samples": {k: [s.size, [list(e) for e in s.entries]] for k, s in self.samples.items()},
            "histogram": self.histogram,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Partial:
        return cls(
            {int(k): v for k, v in data["shard_records"].items()},
            Counter(data["counts"]),
            {k: set(v) for k, v in data["labels"].items()},
            {k: Offenders(head, count) for k, (count, head) in data["offenders"].items()},
            {
                k: Sample(size, [(e[0], e[1], e[2], e[3]) for e in entries])
                for k, (size, entries) in data["samples"].items()
            },
            list(data["histogram"]),
        )


@dataclass
class ScanBatch:
    """One batch of one shard's scan file, as Python lists (what ``tally`` reads)."""

    shard: int  # the shard's index in the dataset's scan order
    first_row: int  # row of the batch's first record within its shard
    columns: dict[str, list[Any]]
    keys: np.ndarray  # the sampling keys, as float64

    def __getitem__(self, name: str) -> list[Any]:
        return self.columns[name]

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class Tally:
    """The merged partial of every shard, with what the corpus-wide stages found."""

    dataset: Dataset
    policy: Policy
    lexicon: Lexicon
    classifier: Callable[[], HarmfulClassifier | None]  # None: the lexicon alone decides
    partial: Partial
    duplicates: dict[str, Offenders]  # near-duplicates of an earlier record, by source
    # (columns) -> every scan batch again, in order: for the few corpus-wide ranks
    batches: Callable[[list[str]], Iterator[ScanBatch]]
    texts: Callable[..., dict[str, str]]  # (record ids, squeezed=) -> texts by record id
    # (record ids) -> classifier scores by record id, judged as the shard pass judges them
    # ({} without a classifier): for sampled records a shard left unscored
    scores: Callable[[list[str]], dict[str, float]]

    @property
    def records(self) -> int:
        return self.partial.records

    def count(self, key: str) -> int:
        return self.partial.counts.get(key, 0)

    def labels(self, key: str) -> set[str]:
        return self.partial.labels.get(key, set())

    def offenders(self, key: str) -> Offenders:
        return self.partial.offenders.get(key, Offenders())

    def sample(self, name: str) -> list[Any]:
        found = self.partial.samples.get(name)
        return found.payloads() if found else []

    def existing(self, record_ids: set[str]) -> set[str]:
        """Which of ``record_ids`` the dataset holds (a streaming look-up)."""
        found: set[str] = set()
        for batch in self.batches(["record_id"]):
            found.update(record_ids.intersection(batch["record_id"]))
        return found


@dataclass
class Measures:
    """One duty's share of the tables the GX suites check."""

    sources: dict[str, Row] = field(default_factory=dict)  # source id -> columns
    corpus: Row = field(default_factory=dict)
    offenders: dict[str, Offenders] = field(default_factory=dict)  # "check[:key]" -> ids
    messages: dict[str, Message] = field(default_factory=dict)  # check -> message, per source
    corpus_messages: dict[str, Message] = field(default_factory=dict)  # on the corpus row
    metrics: dict[str, float] = field(default_factory=dict)
