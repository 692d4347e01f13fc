"""The shard pass and the fan-in: one ``scan_shard`` per record shard, one ``reduce_scans``.

``scan_shard`` streams a shard in Arrow batches and writes one Parquet file of per-record
results next to the others (PI spans with consent verdicts and HMACs, lexicon risk codes,
copyright notices, opt-out hits, MinHash signatures, the sampling key and, for sampled
records, the classifier's score). Its memory is bounded by the batch size and the
per-source sample size, whatever the shard's length. It returns a PI-free summary.

``reduce_scans`` reads those files once, finds near-duplicates across shards, and hands
the whole view to each duty's ``measure`` in ``checks/`` (consent, harmful, ip, quality),
which return their columns of the tables the GX suites check; it also writes the
annotations file of DESIGN.md.
The same functions run serially (``trainguard scan``) or as mapped Airflow tasks.

Kept as one module (about 490 lines): the shard pass writes the per-record schema that
the fan-in reads back, and the two must change together.
"""

from __future__ import annotations

import heapq
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.checks.stats import sample_key
from trainguard.contract import Dataset, load_dataset

if TYPE_CHECKING:
    import pyarrow as pa

    from trainguard.assessment.refusal import RefusalDetector
    from trainguard.checks.base import ScanView
    from trainguard.checks.consent import ConsentLedger
    from trainguard.gate.gx import Table
    from trainguard.policy import Policy
    from trainguard.scanners.classifier import HarmfulClassifier, TrainedClassifier
    from trainguard.scanners.ip import OptOutRegistry
    from trainguard.scanners.lexicon import Lexicon
    from trainguard.violations.filtering import ReportedContent

SHARD_PREFIX = "scan-"
# Risk codes the annotations file adds to a record for what other checks found. They mark
# the record for reviewers; they count toward pi.consent and ip.optout, not the harmful
# rate, which counts lexicon terms (of any risk code) and classifier scores only.
UNCOVERED_PI_MARKER = "A.4.f"  # personal information without valid consent (Art. 7(3))
WITHDRAWN_WORK_MARKER = "A.3.a"  # equal or similar to a work in the opt-out registry


@dataclass
class ScanResources:
    """What every shard scan of one dataset needs, built once per process."""

    dataset: Dataset
    policy: Policy
    lexicon: Lexicon
    ledger: ConsentLedger
    registry: OptOutRegistry
    classifier_training: str  # the provider's labelled CSV, or "" for the lexicon alone
    hash_key: bytes
    reported: ReportedContent  # what the violation registry says no data may hold

    @property
    def trained(self) -> TrainedClassifier | None:
        """The policy's classifier, trained and validated once per process (None: none).

        Trained on first use, so steps that never score (listing shards, masking) do not
        pay for it; refused there (fail closed) when it misses the policy's bars.
        """
        if not self.classifier_training:
            return None
        from trainguard.scanners.classifier import trained_classifier

        trained = trained_classifier(
            self.classifier_training, self.policy.harmful.classifier_threshold
        )
        self._refuse_below_bars(trained)
        return trained

    @property
    def classifier(self) -> HarmfulClassifier | None:
        trained = self.trained
        return trained.model if trained else None

    def refusal_rows(self, batch: pa.RecordBatch) -> set[int]:
        """Rows of a prompt/response batch whose response declines (the refusal detector
        of the release assessment): safety-training pairs, judged on the response alone.
        A harmful prompt is what a refusal pair must contain; what the model learns to
        say is the response, which the lexicon and classifier still judge."""
        if "response" not in batch.schema.names or "prompt" not in batch.schema.names:
            return set()
        detector = self.refusal_detector
        responses = batch.column("response").to_pylist()
        return {row for row, text in enumerate(responses) if text and detector.refusal(text)}

    @cached_property
    def refusal_detector(self) -> RefusalDetector:
        """The policy's refusal detector (shipped patterns and the policy's own), once."""
        from trainguard.assessment.refusal import RefusalDetector

        extra = self.policy.assessment.refusal_patterns
        return RefusalDetector.load(self.policy.resolve_path(extra) if extra else None)

    def _refuse_below_bars(self, trained: TrainedClassifier) -> None:
        harmful = self.policy.harmful
        shortfalls = trained.shortfalls(
            min_precision=harmful.classifier_min_precision,
            max_false_positive_rate=harmful.classifier_max_false_positive_rate,
        )
        if shortfalls:
            from trainguard.exceptions import GateError

            raise GateError(
                f"the harmful-content classifier trained on {trained.source} misses the "
                f"policy on its held-out examples: {'; '.join(shortfalls)} "
                f"(Art. 7; TC260-003 5.1 a): training blocked"
            )

    @classmethod
    def build(
        cls, dataset_dir: str | Path, policy: Policy, extra_lexicons: list[str] | None = None
    ) -> ScanResources:
        from trainguard.checks.consent import ConsentLedger
        from trainguard.personal_info import hash_key
        from trainguard.scanners.ip import OptOutRegistry
        from trainguard.scanners.lexicon import Lexicon
        from trainguard.violations.filtering import reported_content_for_gate

        dataset = load_dataset(dataset_dir)
        lexicon_files = [policy.resolve_path(p) for p in policy.keywords.lexicons]
        lexicon_files += [Path(p) for p in extra_lexicons or []]
        lexicon = Lexicon.load(lexicon_files) if lexicon_files else Lexicon.builtin()
        registry_path = policy.ip.optout_registry
        registry = (
            OptOutRegistry.load(policy.resolve_path(registry_path))
            if registry_path
            else OptOutRegistry.empty()
        )
        training = policy.harmful.classifier_training
        return cls(
            dataset=dataset,
            policy=policy,
            lexicon=lexicon,
            ledger=ConsentLedger.build(dataset.consents, policy.personal_info.sensitive_kinds),
            registry=registry,
            classifier_training=str(policy.resolve_path(training)) if training else "",
            hash_key=hash_key(),
            reported=reported_content_for_gate(),
        )


@dataclass
class _SampleHeap:
    """The K records with the smallest sample keys of one source (a max-heap)."""

    size: int
    items: list[tuple[float, str, str]] = field(default_factory=list)

    def offer(self, key: float, record_id: str, text: str) -> None:
        if len(self.items) < self.size:
            heapq.heappush(self.items, (-key, record_id, text))
        elif -self.items[0][0] > key:
            heapq.heapreplace(self.items, (-key, record_id, text))


def legality_pass(
    texts: pa.Array | pa.ChunkedArray,
    lexicon: Lexicon,
    ledger: ConsentLedger,
    hash_key: bytes,
    pool: ThreadPoolExecutor,
) -> tuple[dict[int, list[tuple[Any, str, bool]]], dict[int, set[str]]]:
    """PI with consent verdicts, and lexicon risk codes, for one column of one batch.

    The lexicon pass (Arrow kernels and hyperscan, which release the GIL) runs in ``pool``
    while this thread validates PI in Python: on two cores that overlap is worth ~1.6x.
    Returns {row: [(match, hmac, covered)]} and {row: risk codes}.
    """
    from trainguard.personal_info import pi_hmac
    from trainguard.scanners.pi import scan_pi

    lexicon_hits = pool.submit(lexicon.matcher.match, texts)
    found: dict[int, list[tuple[Any, str, bool]]] = {}
    for row, matches in scan_pi(texts).items():
        found[row] = []
        for match in matches:
            digest = pi_hmac(match.kind, match.value, hash_key)
            covered = ledger.verdict(match.kind, digest).value == "covered"
            found[row].append((match, digest, covered))
    return found, lexicon_hits.result()


def scan_shard(resources: ScanResources, shard: Path, out_dir: Path) -> dict[str, Any]:
    """Scan one shard; write ``out_dir/scan-<shard>.parquet``; return a PI-free summary."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from trainguard.scanners.ip import copyright_rows, fingerprint
    from trainguard.scanners.lexicon import squeeze
    from trainguard.scanners.minhash import NUM_PERM
    from trainguard.scanners.quality import quality_flags

    dataset, policy = resources.dataset, resources.policy
    text_fields = list(dataset.text_columns)
    # The corpus sample is the ceil(fraction * N) smallest keys, chosen in the reduce; keys
    # below this bound cover it with overwhelming probability, the rest are scored there.
    corpus_fraction = min(1.0, policy.corpus.automated_sample_fraction * 1.2 + 0.01)
    heaps: dict[str, _SampleHeap] = defaultdict(lambda: _SampleHeap(policy.harmful.sample_size))
    tables: list[pa.Table] = []
    summary: dict[str, Any] = {
        "shard": shard.name,
        "records": 0,
        "pi_found": 0,
        "pi_uncovered": 0,
        "lexicon_hits": 0,
    }
    corpus_texts: list[tuple[int, str]] = []  # (row in shard, text) in the corpus sample
    row_base = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainguard-lexicon")
    batches = dataset.iter_batches_of(shard, ["record_id", "source_id", *text_fields])
    for _, _, batch in batches:
        n = batch.num_rows
        record_ids = batch.column("record_id").to_pylist()
        source_ids = batch.column("source_id").to_pylist()
        pi_lists: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        reported: list[list[dict[str, str]]] = [[] for _ in range(n)]
        risks: list[set[str]] = [set() for _ in range(n)]
        lexicon_rows = [False] * n  # the rows a lexicon term flags: they count as harmful
        copyright_mask = np.zeros(n, dtype=bool)
        refusals = resources.refusal_rows(batch)
        for name in text_fields:
            column = batch.column(name)
            found, lexicon_hits = legality_pass(
                column, resources.lexicon, resources.ledger, resources.hash_key, pool
            )
            for row, matches in found.items():
                for match, digest, covered in matches:
                    pi_lists[row].append(
                        {
                            "field": name,
                            "kind": match.kind.value,
                            "start": match.start,
                            "end": match.end,
                            "covered": covered,
                            "hmac": digest,
                        }
                    )
                    if not covered:
                        risks[row].add(UNCOVERED_PI_MARKER)
                    deleted = resources.reported.pi_violation(digest)
                    if deleted is not None:
                        reported[row].append({"kind": "pi", "violation": deleted})
            # A refusal pair's prompt is the request it declines: not counted as harmful.
            skipped = refusals if name != "response" else set()
            for row in lexicon_hits.keys() - skipped:
                risks[row].update(lexicon_hits[row])
                lexicon_rows[row] = True
            copyright_mask |= np.asarray(copyright_rows(column))
        joined = (
            batch.column(text_fields[0])
            if len(text_fields) == 1
            else pc.binary_join_element_wise(*[batch.column(c) for c in text_fields], "\n")
        )
        flags = quality_flags(joined, dataset.manifest.languages)
        squeezed = squeeze(joined).to_pylist()
        digests, sigs = fingerprint(squeezed)
        optout = resources.registry.match(digests, sigs, policy.ip.optout_similarity)
        for row in optout:
            risks[row].add(WITHDRAWN_WORK_MARKER)
        texts = joined.to_pylist()
        if resources.reported.screens_text:
            _screen_reported_texts(resources.reported, texts, reported)
        keys = [sample_key(dataset.manifest.name, rid) for rid in record_ids]
        judged = _judged_texts(batch, texts, refusals)
        for row in range(n):
            heaps[source_ids[row]].offer(keys[row], record_ids[row], judged[row])
            if keys[row] < corpus_fraction:
                corpus_texts.append((row_base + row, judged[row]))
        tables.append(
            pa.table(
                {
                    "record_id": record_ids,
                    "source_id": source_ids,
                    "sample_key": pa.array(keys, pa.float64()),
                    "pi": pa.array(pi_lists, _pi_type()),
                    "risks": pa.array([sorted(r) for r in risks], pa.list_(pa.string())),
                    "lexicon_hit": pa.array(lexicon_rows, pa.bool_()),
                    "copyright_notice": pa.array(copyright_mask),
                    "optout_work": pa.array([optout.get(r) for r in range(n)], pa.string()),
                    "reported": pa.array(reported, _reported_type()),
                    "q_empty": pa.array(flags["empty"]),
                    "q_garbled": pa.array(flags["garbled"]),
                    "q_truncated": pa.array(flags["truncated"]),
                    "q_language_mismatch": pa.array(flags["language_mismatch"]),
                    "language": pa.array(flags["language"].tolist(), pa.string()),
                    "signature": pa.FixedSizeListArray.from_arrays(
                        pa.array(sigs.reshape(-1), pa.uint32()), NUM_PERM
                    ),
                }
            )
        )
        summary["records"] += n
        summary["pi_found"] += sum(len(p) for p in pi_lists)
        summary["pi_uncovered"] += sum(1 for p in pi_lists for s in p if not s["covered"])
        summary["lexicon_hits"] += sum(lexicon_rows)
        summary["refusal_pairs"] = summary.get("refusal_pairs", 0) + len(refusals)
        row_base += n
    pool.shutdown()
    table = pa.concat_tables(tables) if tables else _empty_table()
    scores = _classify(resources, heaps, corpus_texts, table)
    table = table.append_column("harmful_score", pa.array(scores, pa.float64()))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{SHARD_PREFIX}{shard.name}.parquet"
    # Write then rename: a task killed mid-write never leaves a truncated result behind.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    pq.write_table(table, partial)
    os.replace(partial, target)
    return summary


def _reported_type() -> Any:
    import pyarrow as pa

    return pa.list_(pa.struct([("kind", pa.string()), ("violation", pa.string())]))


def _screen_reported_texts(
    reported: ReportedContent, texts: list[str | None], found: list[list[dict[str, str]]]
) -> None:
    """Mark the rows that reproduce a reported output or a withdrawn work (Art. 15)."""
    from trainguard.violations.filtering import normalise

    for row, text in enumerate(texts):
        if text:
            for kind, violation_id, _ in reported.text_matches(normalise(text)):
                found[row].append({"kind": kind, "violation": violation_id})


def _classify(
    resources: ScanResources,
    heaps: dict[str, _SampleHeap],
    corpus_texts: list[tuple[int, str]],
    table: pa.Table,
) -> list[float | None]:
    """Classifier scores for the shard's sampled records (None for the rest, and for all
    when no classifier is configured: the lexicon alone decides)."""
    scores: list[float | None] = [None] * table.num_rows
    classifier = resources.classifier
    if classifier is None:
        return scores
    wanted: dict[int, str] = dict(corpus_texts)
    position = {rid: i for i, rid in enumerate(table.column("record_id").to_pylist())}
    for heap in heaps.values():
        for _, record_id, text in heap.items:
            wanted[position[record_id]] = text
    rows = sorted(wanted)
    for row, score in zip(rows, classifier.probabilities([wanted[r] for r in rows]), strict=True):
        scores[row] = float(score)
    return scores


def _judged_texts(batch: pa.RecordBatch, texts: list[str], refusals: set[int]) -> list[str]:
    """What the classifier scores per row: the joined text, a refusal pair's response only."""
    if not refusals:
        return texts
    judged = list(texts)
    responses = batch.column("response").to_pylist()
    for row in refusals:
        judged[row] = responses[row]
    return judged


def _pi_type(*, with_hmac: bool = True) -> Any:
    """Arrow type of a record's PI spans; the annotations file leaves the HMAC out."""
    import pyarrow as pa

    fields = [
        ("field", pa.string()),
        ("kind", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("covered", pa.bool_()),
    ]
    return pa.list_(pa.struct(fields + ([("hmac", pa.string())] if with_hmac else [])))


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({"record_id": pa.array([], pa.string())})


# ----------------------------------------------------------------------------- reduce


@dataclass
class ScanResult:
    """What the reduce step measured: the tables the GX suites check, and annotations."""

    sources: list[dict[str, Any]]  # one row per source
    corpus: dict[str, Any]  # whole-corpus measures
    record_ids: dict[str, list[str]]  # "<check>:<source>" -> offending record ids
    annotations: pa.Table
    metrics: dict[str, float]
    messages: dict[str, Any] = field(default_factory=dict)  # check -> f(row, threshold)
    corpus_messages: dict[str, Any] = field(default_factory=dict)  # for the corpus row

    def tables(self) -> dict[str, Table]:
        from trainguard.gate.gx import Table

        messages = self.messages or _duty_messages()
        corpus_messages = self.corpus_messages or _duty_messages(corpus=True)
        return {
            "sources": Table(
                "sources",
                self.sources,
                key="source_id",
                entity="source",
                record_ids=self.record_ids,
                messages=messages,
            ),
            "corpus": Table(
                "corpus", [self.corpus], record_ids=self.record_ids, messages=corpus_messages
            ),
        }


def _duties() -> list[Any]:
    """The duties whose measures come from the shard scans, in the order of their columns."""
    from trainguard.checks import consent, harmful, ip, quality, reported

    return [consent, harmful, ip, quality, reported]


def _duty_messages(*, corpus: bool = False) -> dict[str, Any]:
    name = "CORPUS_MESSAGES" if corpus else "MESSAGES"
    return {
        check: message for duty in _duties() for check, message in getattr(duty, name, {}).items()
    }


def reduce_scans(resources: ScanResources, scan_dir: Path) -> ScanResult:
    """Fan-in: every shard's per-record results, measured by each duty in ``checks/``."""
    import pyarrow as pa

    view, table = load_view(resources, scan_dir)
    rows = {
        source_id: {"source_id": source_id, "records": len(view.by_source.get(source_id, []))}
        for source_id in sorted(resources.dataset.sources)
    }
    corpus: dict[str, Any] = {"records": len(view.record_ids)}
    offenders: dict[str, list[str]] = {}
    messages: dict[str, Any] = {}
    corpus_messages: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    for duty in _duties():
        measured = duty.measure(view)
        for source_id, columns in measured.sources.items():
            rows[source_id].update(columns)
        corpus.update(measured.corpus)
        offenders.update(measured.offenders)
        messages.update(measured.messages)
        corpus_messages.update(measured.corpus_messages)
        metrics.update(measured.metrics)
    annotations = pa.table(
        {
            "record_id": table.column("record_id"),
            "source_id": table.column("source_id"),
            "pi": _public_pi(table.column("pi")),
            "risks": table.column("risks"),
            "harmful_score": table.column("harmful_score"),
            "copyright_notice": table.column("copyright_notice"),
            "optout_work": table.column("optout_work"),
            "reported": table.column("reported"),
            "duplicate_of": pa.array(view.duplicate_of, pa.string()),
        }
    )
    return ScanResult(
        list(rows.values()), corpus, offenders, annotations, metrics, messages, corpus_messages
    )


def load_view(resources: ScanResources, scan_dir: Path) -> tuple[ScanView, pa.Table]:
    """Every shard's scan file, in shard order, with near-duplicates found across shards."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.checks.base import ScanView
    from trainguard.exceptions import GateError
    from trainguard.scanners.minhash import near_duplicates

    dataset = resources.dataset
    expected = {f"{SHARD_PREFIX}{s.name}.parquet" for s in dataset.shards}
    missing = expected - {f.name for f in scan_dir.glob(f"{SHARD_PREFIX}*.parquet")}
    if missing:
        raise GateError(f"shard scans missing for {', '.join(sorted(missing))}")
    table = pa.concat_tables([pq.read_table(scan_dir / name) for name in sorted(expected)])
    record_ids = table.column("record_id").to_pylist()

    def texts(
        wanted_ids: list[str], indices: list[int], *, squeezed: bool = True
    ) -> dict[int, str]:
        return read_texts(dataset, wanted_ids, indices, squeezed=squeezed)

    # Near-duplicates across every shard, confirmed on the texts of the candidates only.
    signatures = (
        table.column("signature")
        .combine_chunks()
        .flatten()
        .to_numpy(zero_copy_only=False)
        .reshape(-1, 128)
    )
    duplicate_of = near_duplicates(
        np.ascontiguousarray(signatures),
        resources.policy.quality.near_duplicate_similarity,
        lambda indices: texts([record_ids[i] for i in indices], indices),
    )
    source_ids = table.column("source_id").to_pylist()
    by_source: dict[str, list[int]] = defaultdict(list)
    for row, source in enumerate(source_ids):
        by_source[source].append(row)
    view = ScanView(
        dataset=dataset,
        policy=resources.policy,
        lexicon=resources.lexicon,
        classifier=lambda: resources.classifier,
        record_ids=record_ids,
        source_ids=source_ids,
        sample_keys=table.column("sample_key").to_pylist(),
        pi=table.column("pi").to_pylist(),
        lexicon_hit=table.column("lexicon_hit").to_pylist(),
        harmful_score=table.column("harmful_score").to_pylist(),
        flags={
            name: table.column(f"q_{name}").to_pylist()
            for name in ("empty", "garbled", "truncated", "language_mismatch")
        },
        languages=table.column("language").to_pylist(),
        optout_work=table.column("optout_work").to_pylist(),
        reported=table.column("reported").to_pylist(),
        copyright_notice=table.column("copyright_notice").to_pylist(),
        duplicate_of=[record_ids[d] if d >= 0 else None for d in duplicate_of.tolist()],
        by_source=dict(by_source),
        texts=texts,
    )
    return view, table


def _public_pi(column: Any) -> Any:
    """The annotations' PI spans: kind, offsets, field and verdict (HMACs stay internal)."""
    import pyarrow as pa

    spans = [
        [{k: s[k] for k in ("field", "kind", "start", "end", "covered")} for s in row]
        for row in column.to_pylist()
    ]
    return pa.array(spans, _pi_type(with_hmac=False))


def read_texts(
    dataset: Dataset, wanted_ids: list[str], indices: list[int], *, squeezed: bool = True
) -> dict[int, str]:
    """The (squeezed) texts of a few records, by index, read back from the shards."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from trainguard.scanners.lexicon import squeeze

    position = dict(zip(wanted_ids, indices, strict=True))
    value_set = pa.array(wanted_ids)
    found: dict[int, str] = {}
    for _, _, batch in dataset.iter_batches(["record_id", *dataset.text_columns]):
        mask = pc.is_in(batch.column("record_id"), value_set=value_set)
        if not pc.any(mask).as_py():
            continue
        chosen = batch.filter(mask)
        columns = [chosen.column(c) for c in dataset.text_columns]
        joined = columns[0] if len(columns) == 1 else pc.binary_join_element_wise(*columns, "\n")
        values = squeeze(joined) if squeezed else joined
        for record_id, text in zip(
            chosen.column("record_id").to_pylist(), values.to_pylist(), strict=True
        ):
            found[position[record_id]] = text
    return found
