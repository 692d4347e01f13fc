"""The shard pass: one ``scan_shard`` per record shard.

``scan_shard`` streams a shard in Arrow batches and writes one Parquet file of per-record
results next to the others (PI spans with consent verdicts and HMACs, lexicon risk codes,
copyright notices, opt-out hits, MinHash signatures, the sampling key and, for sampled
records, the classifier's score), and beside it the shard's partial: what each duty
tallied of it (``gate.reduce``, which is the fan-in). It returns a PI-free summary.
The same functions run serially (``trainguard scan``) or as mapped Airflow tasks.
"""

from __future__ import annotations

import heapq
import math
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.checks.stats import sample_key, sample_key_bound
from trainguard.contract import Dataset, load_dataset
from trainguard.gate.reduce import partial_path, shard_partial, write_partial
from trainguard.gate.scan_files import (
    SHARD_PREFIX,
    joined_text,
    judged_texts,
    pi_type,
    scan_files,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import pyarrow as pa

    from trainguard.assessment.refusal import RefusalDetector
    from trainguard.checks.consent import ConsentLedger
    from trainguard.policy import Policy
    from trainguard.scanners.classifier import HarmfulClassifier, TrainedClassifier
    from trainguard.scanners.ip import OptOutRegistry
    from trainguard.scanners.lexicon import Lexicon
    from trainguard.violations.filtering import ReportedContent

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
    """The K smallest sample keys of one source in a shard (a max-heap of keys)."""

    size: int
    bound: float = 1.0  # keys from here up cannot enter the corpus-wide sample
    keys: list[float] = field(default_factory=list)

    def offer(self, key: float) -> bool:
        """Whether ``key`` is among the K smallest so far: its record may be sampled."""
        if key >= self.bound:
            return False
        if len(self.keys) < self.size:
            heapq.heappush(self.keys, -key)
            return True
        if -self.keys[0] > key:
            heapq.heapreplace(self.keys, -key)
            return True
        return False


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


def _scoring_bounds(
    policy: Policy, source_records: Mapping[str, int] | None
) -> tuple[float, dict[str, float]]:
    """The sampling keys below which a shard scores its records: for the corpus's automated
    sample (the ceil(fraction * N) smallest keys, chosen in the reduce) and per source (the
    ``harmful.sample_size`` smallest). Without the counts: a margin on the fraction, and
    each shard's own sample of each source; the reduce scores whatever these miss."""
    fraction = policy.corpus.automated_sample_fraction
    margin = min(1.0, fraction * 1.2 + 0.01)
    if source_records is None:
        return margin, {}
    total = sum(source_records.values())
    wanted = policy.harmful.sample_size
    # Chernoff's bound is the looser one below a few thousand records: take the tighter.
    corpus = min(sample_key_bound(math.ceil(fraction * total), total), margin)
    return corpus, {
        source: sample_key_bound(wanted, count) for source, count in source_records.items()
    }


def scan_shard(
    resources: ScanResources,
    shard: Path,
    out_dir: Path,
    *,
    source_records: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Scan one shard; write ``out_dir/scan-<shard>.parquet``; return a PI-free summary.

    A batch at a time (``TRAINGUARD_BATCH_ROWS``): each batch's results are written and
    tallied before the next is read, so memory does not grow with the shard.

    ``source_records``: each source's record count in the whole version, when known. The
    classifier then scores only the records whose sampling key can place them in their
    source's corpus-wide sample or the corpus's automated sample (``sample_key_bound``),
    not the shard's own sample of each source; the reduce scores any sampled record a
    shard left unscored, so the findings are the same either way.
    """
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{SHARD_PREFIX}{shard.name}.parquet"
    index = scan_files(resources.dataset).index(target.name)
    counted = ("records", "pi_found", "pi_uncovered", "lexicon_hits", "refusal_pairs")
    summary: dict[str, Any] = {"shard": shard.name, **dict.fromkeys(counted, 0)}
    # Write then rename: a task killed mid-write never leaves a truncated result behind.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    writer = None

    def written() -> Iterator[pa.Table]:
        nonlocal writer
        for table in _scan_tables(resources, shard, summary, source_records):
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table)
            yield table

    try:
        # The shard's tally for the fan-in, from the tables in hand (no second read).
        partial = shard_partial(resources, written(), index)
        if writer is None:
            pq.write_table(_empty_table(), temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)  # half a scan is of no use to a retry
        raise
    finally:
        if writer is not None:
            writer.close()
    os.replace(temporary, target)
    write_partial(partial, partial_path(out_dir, target.name))
    return summary


def _scan_tables(
    resources: ScanResources,
    shard: Path,
    summary: dict[str, Any],
    source_records: Mapping[str, int] | None,
) -> Iterator[pa.Table]:
    """The per-record results of each batch of ``shard``, in order; ``summary`` counts."""
    import numpy as np
    import pyarrow as pa

    from trainguard.scanners.ip import copyright_rows, fingerprint
    from trainguard.scanners.minhash import NUM_PERM
    from trainguard.scanners.quality import quality_flags
    from trainguard.scanners.squeeze import squeeze

    dataset, policy = resources.dataset, resources.policy
    text_fields = list(dataset.text_columns)
    corpus_fraction, source_bound = _scoring_bounds(policy, source_records)
    size = policy.harmful.sample_size
    heaps: dict[str, _SampleHeap] = defaultdict(lambda: _SampleHeap(size))
    heaps.update({source: _SampleHeap(size, bound) for source, bound in source_bound.items()})
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainguard-lexicon")
    batches = dataset.iter_batches_of(shard, ["record_id", "source_id", *text_fields])
    try:
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
            joined = joined_text(batch, text_fields)
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
            # Scored now, a batch at a time: the records a sample may hold. A record pushed
            # out of its source's shard sample by a later batch keeps its score.
            wanted = [
                row
                for row in range(n)
                if heaps[source_ids[row]].offer(keys[row]) or keys[row] < corpus_fraction
            ]
            scores = _classify(resources, batch, texts, refusals, wanted)
            yield pa.table(
                {
                    "record_id": pa.array(record_ids, pa.string()),
                    "source_id": pa.array(source_ids, pa.string()),
                    "sample_key": pa.array(keys, pa.float64()),
                    "pi": pa.array(pi_lists, pi_type()),
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
                    "harmful_score": pa.array(scores, pa.float64()),
                }
            )
            summary["records"] += n
            summary["pi_found"] += sum(len(p) for p in pi_lists)
            summary["pi_uncovered"] += sum(1 for p in pi_lists for s in p if not s["covered"])
            summary["lexicon_hits"] += sum(lexicon_rows)
            summary["refusal_pairs"] += len(refusals)
    finally:
        pool.shutdown()


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
    batch: pa.RecordBatch,
    texts: list[str],
    refusals: set[int],
    rows: list[int],
) -> list[float | None]:
    """Classifier scores of ``rows`` of the batch, each judged as a sample judges it (a
    refusal pair by its response); None for the rest, and for all when no classifier is
    configured: the lexicon alone decides."""
    scores: list[float | None] = [None] * len(texts)
    classifier = resources.classifier
    if classifier is None or not rows:
        return scores
    judged = judged_texts(batch, texts, refusals)
    for row, score in zip(rows, classifier.probabilities([judged[r] for r in rows]), strict=True):
        scores[row] = float(score)
    return scores


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({"record_id": pa.array([], pa.string())})
