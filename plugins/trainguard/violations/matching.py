"""Which records of a dataset hold a violation's content (Art. 13, 15).

One ``Matcher`` per thing looked for, used by impact analysis (which dataset and model
versions hold it), by remediation (drop or mask those records in a fixed revision) and by
the verification probe (is any of it left):

- a reported harmful output: a record that contains it or nearly duplicates it
  (character 4-gram Jaccard >= 0.8). A generative model can say what no single record
  says, so two fallbacks find the records that taught it: with a lexicon, the records
  holding a harmful term the output holds; with ``attribute=True``, the few records the
  output was spliced from: a greedy cover of its character 8-grams (the record holding
  most of them, then the one holding most of the rest, while each adds >= 10 %, at most
  five), computed per dataset version by ``prepare``;
- a personal-information value, by its HMAC (masked, never dropped);
- a withdrawn work: half or more of a record's 8-grams come from it;
- a source (a data finding, or a complaint naming only a source): every record of it;
- record ids (``trainguard impact --record-id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError
from trainguard.violations.filtering import (
    NEAR_DUPLICATE_JACCARD,
    WORK_OVERLAP,
    char_grams,
    hashed_grams,
    normalise,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from trainguard.scanners.lexicon import Lexicon


ATTRIBUTION_MIN_GAIN = 0.1  # of the output's 8-grams a record must add to the cover
ATTRIBUTION_MAX_RECORDS = 5
ATTRIBUTION_MIN_GRAMS = 5


def attribution_cover(output: str, records: Iterable[tuple[str, str]]) -> list[str]:
    """The ids of the few records an output was spliced from (greedy cover of its 8-grams)."""
    sources = hashed_grams(normalise(output), 8)
    if len(sources) < ATTRIBUTION_MIN_GRAMS:
        return []
    least = max(1, int(ATTRIBUTION_MIN_GAIN * len(sources)))
    overlaps = []
    for record_id, text in records:
        shared = hashed_grams(normalise(text), 8) & sources
        if len(shared) >= least:
            overlaps.append((record_id, shared))
    chosen: list[str] = []
    remaining = set(sources)
    while remaining and len(chosen) < ATTRIBUTION_MAX_RECORDS and overlaps:
        record_id, best = max(overlaps, key=lambda item: len(item[1] & remaining))
        if len(best & remaining) < least:
            break
        chosen.append(record_id)
        remaining -= best
        overlaps = [item for item in overlaps if item[0] != record_id]
    return chosen


@dataclass(frozen=True)
class Lookup:
    """What to look for without a filed violation: the kind and subject a violation has."""

    kind: str
    subject: dict[str, Any] = field(default_factory=dict)


def harmful_terms(text: str, lexicon: Lexicon) -> list[str]:
    """The lexicon's terms (squeezed: NFKC, lower case, no separators) that ``text`` holds."""
    from trainguard.scanners.squeeze import squeeze_term

    squeezed = squeeze_term(text)
    return sorted(
        {term for term in map(squeeze_term, (t for t, _ in lexicon.terms)) if term in squeezed}
    )


class Matcher:
    """Which records of a dataset hold a violation's content, and what to do with them."""

    def __init__(
        self, violation: Any, *, lexicon: Lexicon | None = None, attribute: bool = False
    ) -> None:
        self.kind = violation.kind
        subject = violation.subject
        self.terms: list[str] = []
        self.attribute = attribute and self.kind == "harmful_output"
        self.chosen: set[str] | None = None  # the attributed records, once prepared
        if self.kind == "harmful_output":
            self.output = subject["output"]
            self.banned = normalise(subject["output"])
            self.banned_grams = char_grams(self.banned, 4)
            if lexicon is not None:
                self.terms = harmful_terms(subject["output"], lexicon)
        elif self.kind == "pi_request":
            self.hmacs = {item["hmac"] for item in subject["pi"]}
        elif self.kind == "ip_complaint":
            self.work = set(subject.get("work_grams") or [])
            if not self.work and not subject.get("source_id"):
                raise ContractError(
                    "the complaint names neither the text of a work nor a source to look for",
                    field="work-file",
                )
            if not self.work:
                self.kind = "source"  # a complaint about a whole source: drop its records
        elif self.kind == "record":
            self.record_ids = set(subject["record_ids"])
        if self.kind == "data_finding":
            self.kind = "source"
        self.source_id = subject.get("source_id")

    def describe(self) -> dict[str, Any]:
        """What this matcher looks for, PI-free (for evidence and impact reports)."""
        described: dict[str, Any] = {"kind": self.kind}
        if self.kind == "harmful_output":
            described["harmful_terms"] = len(self.terms)
            described["attributed_by_8gram_cover"] = self.attribute
        elif self.kind == "pi_request":
            described["pi_hmacs"] = sorted(self.hmacs)
        elif self.kind == "ip_complaint":
            described["work_grams"] = len(self.work)
        elif self.kind == "record":
            described["record_ids"] = sorted(self.record_ids)
        elif self.kind == "source":
            described["source_id"] = self.source_id
        return described

    def text_offends(self, text: str) -> bool:
        normal = normalise(text)
        if self.kind == "harmful_output":
            if self.banned and self.banned in normal:
                return True
            grams = char_grams(normal, 4)
            union = len(grams | self.banned_grams) or 1
            return len(grams & self.banned_grams) / union >= NEAR_DUPLICATE_JACCARD
        if self.kind == "ip_complaint":
            hashed = hashed_grams(normal, 8)
            return len(hashed) >= 5 and len(hashed & self.work) / len(hashed) >= WORK_OVERLAP
        return False

    def pi_spans(self, text: str) -> list[tuple[int, int, str]]:
        from trainguard.personal_info import pi_hmac
        from trainguard.scanners.pi import find_pi

        return [
            (m.start, m.end, m.kind.value)
            for m in find_pi(text)
            if pi_hmac(m.kind, m.value) in self.hmacs
        ]

    def _term_rows(self, batch: Any, text_columns: tuple[str, ...]) -> set[int]:
        """Rows holding one of the output's harmful terms (vectorised over the batch)."""
        if not self.terms:
            return set()
        import pyarrow.compute as pc

        from trainguard.scanners.squeeze import squeeze

        rows: set[int] = set()
        for name in text_columns:
            squeezed = squeeze(batch.column(name))
            for term in self.terms:
                hits = pc.match_substring(squeezed, term).to_pylist()
                rows.update(i for i, hit in enumerate(hits) if hit)
        return rows

    def _offends(
        self, columns: dict[str, list[Any]], row: int, text_columns: tuple[str, ...]
    ) -> bool:
        if self.chosen is not None:
            return columns["record_id"][row] in self.chosen
        if self.kind == "source":
            return bool(columns["source_id"][row] == self.source_id)
        if self.kind == "record":
            return columns["record_id"][row] in self.record_ids
        return any(self.text_offends(columns[n][row]) for n in text_columns)

    def fix_batch(self, batch: Any, text_columns: tuple[str, ...]) -> tuple[Any, list[str]]:
        """The batch with offending rows dropped or masked, and the ids of those rows."""
        import pyarrow as pa

        from trainguard.personal_info import mask_text

        columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
        ids = columns["record_id"]
        by_term = self._term_rows(batch, text_columns)
        keep, touched = [], []
        for row in range(batch.num_rows):
            if self.kind == "pi_request":
                changed = False
                for name in text_columns:
                    spans = self.pi_spans(columns[name][row])
                    if spans:
                        columns[name][row] = mask_text(columns[name][row], spans)
                        changed = True
                if changed:
                    touched.append(ids[row])
                keep.append(row)
                continue
            if row in by_term or self._offends(columns, row, text_columns):
                touched.append(ids[row])
            else:
                keep.append(row)
        table = pa.table(
            {
                name: pa.array([values[r] for r in keep], batch.schema.field(name).type)
                for name, values in columns.items()
            }
        )
        return table, touched

    def prepare(self, dataset_dir: Path) -> None:
        """Attribution needs the whole dataset first: the cover of the output's 8-grams."""
        if not self.attribute:
            return
        from trainguard.contract import load_dataset

        dataset = load_dataset(dataset_dir)
        column = "response" if "response" in dataset.text_columns else "text"

        def records() -> Iterable[tuple[str, str]]:
            for _, _, batch in dataset.iter_batches(["record_id", column]):
                yield from zip(
                    batch.column("record_id").to_pylist(),
                    batch.column(column).to_pylist(),
                    strict=True,
                )

        self.chosen = set(attribution_cover(self.output, records()))

    def scan(self, dataset_dir: Path) -> list[str]:
        """Ids of the records of a dataset that hold the violation's content."""
        from trainguard.contract import load_dataset

        self.prepare(dataset_dir)
        dataset = load_dataset(dataset_dir)
        found: list[str] = []
        for shard in dataset.shards:
            for _, _, batch in dataset.iter_batches_of(shard):
                found += self.fix_batch(batch, dataset.text_columns)[1]
        return found
