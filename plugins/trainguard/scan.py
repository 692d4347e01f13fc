"""The legality scan: one ``scan_shard`` per record shard, then one ``reduce_scans``.

``scan_shard`` streams a shard in Arrow batches and writes one Parquet file of per-record
results next to the others (PI spans with consent verdicts and HMACs, lexicon risk codes,
copyright notices, opt-out hits, MinHash signatures, the sampling key and, for sampled
records, the classifier's score). Its memory is bounded by the batch size and the
per-source sample size, whatever the shard's length. It returns a PI-free summary.

``reduce_scans`` reads those files and computes what the gate decides on: per-source PI
coverage, harmful rates on per-source random samples with Wilson bounds, the whole-corpus
automated sample, near-duplicates across shards, and the annotations file of DESIGN.md.
The same functions run serially (``trainguard scan``) or as mapped Airflow tasks.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.contract import Dataset, load_dataset
from trainguard.policy import Policy

if TYPE_CHECKING:
    import pyarrow as pa

    from trainguard.consent import ConsentLedger
    from trainguard.gx_gate import Table
    from trainguard.scanners.classifier import HarmfulClassifier
    from trainguard.scanners.ip import OptOutRegistry
    from trainguard.scanners.lexicon import Lexicon

SHARD_PREFIX = "scan-"


@dataclass
class ScanResources:
    """What every shard scan of one dataset needs, built once per process."""

    dataset: Dataset
    policy: Policy
    lexicon: Lexicon
    ledger: ConsentLedger
    registry: OptOutRegistry
    classifier_training: str  # labelled CSV, or "" for the built-in examples
    hash_key: bytes

    @property
    def classifier(self) -> HarmfulClassifier:
        """Trained on first use (seconds), once per process: not every step needs it."""
        from trainguard.scanners.classifier import classifier_for

        return classifier_for(self.classifier_training)

    @classmethod
    def build(
        cls, dataset_dir: str | Path, policy: Policy, extra_lexicons: list[str] | None = None
    ) -> ScanResources:
        from trainguard.consent import ConsentLedger
        from trainguard.personal_info import hash_key
        from trainguard.scanners.ip import OptOutRegistry
        from trainguard.scanners.lexicon import Lexicon

        dataset = load_dataset(dataset_dir)
        lexicon_files = [policy.resolve_path(p) for p in policy.keywords.lexicons]
        lexicon_files += list(extra_lexicons or [])
        lexicon = Lexicon.load(lexicon_files) if lexicon_files else Lexicon.builtin()
        registry_path = policy.ip.optout_registry
        registry = (OptOutRegistry.load(policy.resolve_path(registry_path)) if registry_path
                    else OptOutRegistry.empty())
        training = policy.harmful.classifier_training
        return cls(
            dataset=dataset,
            policy=policy,
            lexicon=lexicon,
            ledger=ConsentLedger.build(dataset.consents, policy.personal_info.sensitive_kinds),
            registry=registry,
            classifier_training=str(policy.resolve_path(training)) if training else "",
            hash_key=hash_key(),
        )


def sample_key(dataset_name: str, record_id: str) -> float:
    """A uniform [0, 1) value per record: the random order samples are drawn in.

    Derived from the record id (not the row position or the version digest), so adding a
    review file or reordering shards keeps the same sample.
    """
    digest = hashlib.blake2b(record_id.encode(), digest_size=8,
                             key=dataset_name.encode()[:64]).digest()
    return int.from_bytes(digest, "big") / 2**64


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
    texts: pa.Array | pa.ChunkedArray, lexicon: Lexicon, ledger: ConsentLedger,
    hash_key: bytes, pool: ThreadPoolExecutor,
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
    summary: dict[str, Any] = {"shard": shard.name, "records": 0, "pi_found": 0,
                               "pi_uncovered": 0, "lexicon_hits": 0}
    corpus_texts: list[tuple[int, str]] = []  # (row in shard, text) in the corpus sample
    row_base = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainguard-lexicon")
    batches = dataset.iter_batches_of(shard, ["record_id", "source_id", *text_fields])
    for _, _, batch in batches:
        n = batch.num_rows
        record_ids = batch.column("record_id").to_pylist()
        source_ids = batch.column("source_id").to_pylist()
        pi_lists: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        risks: list[set[str]] = [set() for _ in range(n)]
        copyright_mask = np.zeros(n, dtype=bool)
        for name in text_fields:
            column = batch.column(name)
            found, lexicon_hits = legality_pass(
                column, resources.lexicon, resources.ledger, resources.hash_key, pool)
            for row, matches in found.items():
                for match, digest, covered in matches:
                    pi_lists[row].append({"field": name, "kind": match.kind.value,
                                          "start": match.start, "end": match.end,
                                          "covered": covered, "hmac": digest})
                    if not covered:
                        risks[row].add("A.4.f")
            for row, codes in lexicon_hits.items():
                risks[row].update(codes)
            copyright_mask |= np.asarray(copyright_rows(column))
        joined = (batch.column(text_fields[0]) if len(text_fields) == 1 else
                  pc.binary_join_element_wise(*[batch.column(c) for c in text_fields], "\n"))
        flags = quality_flags(joined, dataset.manifest.languages)
        squeezed = squeeze(joined).to_pylist()
        digests, sigs = fingerprint(squeezed)
        optout = resources.registry.match(digests, sigs, policy.ip.optout_similarity)
        for row in optout:
            risks[row].add("A.3.a")
        texts = joined.to_pylist()
        keys = [sample_key(dataset.manifest.name, rid) for rid in record_ids]
        for row in range(n):
            heaps[source_ids[row]].offer(keys[row], record_ids[row], texts[row])
            if keys[row] < corpus_fraction:
                corpus_texts.append((row_base + row, texts[row]))
        lexicon_rows = [bool(r - {"A.4.f", "A.3.a"}) for r in risks]
        tables.append(pa.table({
            "record_id": record_ids,
            "source_id": source_ids,
            "sample_key": pa.array(keys, pa.float64()),
            "pi": pa.array(pi_lists, _pi_type()),
            "risks": pa.array([sorted(r) for r in risks], pa.list_(pa.string())),
            "lexicon_hit": pa.array(lexicon_rows, pa.bool_()),
            "copyright_notice": pa.array(copyright_mask),
            "optout_work": pa.array([optout.get(r) for r in range(n)], pa.string()),
            "q_empty": pa.array(flags["empty"]),
            "q_garbled": pa.array(flags["garbled"]),
            "q_truncated": pa.array(flags["truncated"]),
            "q_language_mismatch": pa.array(flags["language_mismatch"]),
            "language": pa.array(flags["language"].tolist(), pa.string()),
            "signature": pa.FixedSizeListArray.from_arrays(
                pa.array(sigs.reshape(-1), pa.uint32()), NUM_PERM),
        }))
        summary["records"] += n
        summary["pi_found"] += sum(len(p) for p in pi_lists)
        summary["pi_uncovered"] += sum(1 for p in pi_lists for s in p if not s["covered"])
        summary["lexicon_hits"] += sum(lexicon_rows)
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


def _classify(resources: ScanResources, heaps: dict[str, _SampleHeap],
              corpus_texts: list[tuple[int, str]], table: pa.Table) -> list[float | None]:
    """Classifier scores for the shard's sampled records (None for the rest)."""
    scores: list[float | None] = [None] * table.num_rows
    wanted: dict[int, str] = dict(corpus_texts)
    position = {rid: i for i, rid in enumerate(table.column("record_id").to_pylist())}
    for heap in heaps.values():
        for _, record_id, text in heap.items:
            wanted[position[record_id]] = text
    rows = sorted(wanted)
    for row, score in zip(rows, resources.classifier.probabilities([wanted[r] for r in rows]),
                          strict=True):
        scores[row] = float(score)
    return scores


def _pi_type() -> Any:
    import pyarrow as pa

    return pa.list_(pa.struct([("field", pa.string()), ("kind", pa.string()),
                               ("start", pa.int32()), ("end", pa.int32()),
                               ("covered", pa.bool_()), ("hmac", pa.string())]))


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({"record_id": pa.array([], pa.string())})


# ----------------------------------------------------------------------------- reduce


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (good at small rates and small n)."""
    if n == 0:
        return 0.0, 1.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class ScanResult:
    """What the reduce step measured: the tables the GX suites check, and annotations."""

    sources: list[dict[str, Any]]  # one row per source
    corpus: dict[str, Any]  # whole-corpus measures
    record_ids: dict[str, list[str]]  # "<check>:<source>" -> offending record ids
    annotations: pa.Table
    metrics: dict[str, float]

    def tables(self) -> dict[str, Table]:
        from trainguard.gx_gate import Table

        return {
            "sources": Table("sources", self.sources, key="source_id", entity="source",
                             record_ids=self.record_ids, messages=_SOURCE_MESSAGES),
            "corpus": Table("corpus", [self.corpus], record_ids=self.record_ids),
        }


def _harmful_message(row: dict[str, Any], threshold: str) -> str:
    return (f"harmful rate {row['harmful_rate']:.2%} on a random sample of "
            f"{row['harmful_sampled']} ({row['harmful_flagged']} flagged; 95% bound "
            f"{row['harmful_rate_low']:.2%}-{row['harmful_rate_high']:.2%}) exceeds {threshold}")


_SOURCE_MESSAGES: dict[str, Any] = {
    "harmful.rate": _harmful_message,
    "pi.consent": lambda row, _: (
        f"{row['pi_uncovered']} personal-information value(s) without valid consent "
        f"({row['pi_uncovered_kinds']}); {row['pi_covered']} covered"),
    "ip.optout": lambda row, _: (
        f"{row['optout_hits']} record(s) match works withdrawn in the opt-out registry"),
    "ip.copyright": lambda row, _: (
        f"{row['copyright_notices']} record(s) carry copyright notices or licence headers"),
    "quality.duplicates": lambda row, _: (
        f"{row['near_duplicates']} record(s) nearly duplicate an earlier record"),
    "quality.garbled": lambda row, t: (
        f"{row['garbled_rate']:.2%} of records are garbled or mis-encoded (expected {t})"),
    "quality.empty": lambda row, t: f"{row['empty_rate']:.2%} of records are empty",
    "quality.truncated": lambda row, t: (
        f"{row['truncated_rate']:.2%} of records look truncated (expected {t})"),
    "quality.language": lambda row, t: (
        f"{row['language_mismatch_rate']:.2%} of records are in an undeclared language "
        f"(found: {row['languages']}; expected {t})"),
    "pi.declaration": lambda row, _: (
        f"{row['pi_undeclared']} personal-information value(s) in a source that declares "
        "none"),
}


def reduce_scans(resources: ScanResources, scan_dir: Path) -> ScanResult:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.scanners.minhash import near_duplicates

    dataset, policy = resources.dataset, resources.policy
    files = sorted(scan_dir.glob(f"{SHARD_PREFIX}*.parquet"))
    expected = {f"{SHARD_PREFIX}{s.name}.parquet" for s in dataset.shards}
    missing = expected - {f.name for f in files}
    if missing:
        from trainguard.exceptions import GateError

        raise GateError(f"shard scans missing for {', '.join(sorted(missing))}")
    files = [scan_dir / name for name in sorted(expected)]
    table = pa.concat_tables([pq.read_table(f) for f in files])
    record_ids = table.column("record_id").to_pylist()
    source_ids = table.column("source_id").to_pylist()
    threshold = policy.harmful.classifier_threshold
    scores = table.column("harmful_score").to_pylist()
    lexicon_hit = table.column("lexicon_hit").to_pylist()
    keys = table.column("sample_key").to_pylist()
    harmful = [hit or (s is not None and s >= threshold) for hit, s in zip(
        lexicon_hit, scores, strict=True)]

    # Near-duplicates across every shard, confirmed on the texts of the candidates only.
    signatures = table.column("signature").combine_chunks().flatten().to_numpy(
        zero_copy_only=False).reshape(-1, 128)
    duplicate_of = near_duplicates(
        np.ascontiguousarray(signatures), policy.quality.near_duplicate_similarity,
        lambda indices: _texts(dataset, [record_ids[i] for i in indices], indices),
    )
    duplicate_ids = [record_ids[d] if d >= 0 else None for d in duplicate_of.tolist()]

    by_source: dict[str, list[int]] = defaultdict(list)
    for row, source in enumerate(source_ids):
        by_source[source].append(row)
    pi_column = table.column("pi").to_pylist()
    quality = {name: table.column(f"q_{name}").to_pylist()
               for name in ("empty", "garbled", "truncated", "language_mismatch")}
    languages = table.column("language").to_pylist()
    optout = table.column("optout_work").to_pylist()
    notices = table.column("copyright_notice").to_pylist()
    offenders: dict[str, list[str]] = {}
    sources = []
    for source_id in sorted(dataset.sources):
        rows = by_source.get(source_id, [])
        sample = sorted(rows, key=keys.__getitem__)[: policy.harmful.sample_size]
        flagged = [r for r in sample if harmful[r]]
        low, high = wilson_interval(len(flagged), len(sample), policy.harmful.confidence)
        spans = [s for r in rows for s in pi_column[r]]
        uncovered_rows = [r for r in rows if any(not s["covered"] for s in pi_column[r])]
        kinds = Counter(s["kind"] for s in spans if not s["covered"])
        offenders[f"harmful.rate:{source_id}"] = [record_ids[r] for r in flagged]
        offenders[f"pi.consent:{source_id}"] = [record_ids[r] for r in uncovered_rows]
        offenders[f"ip.optout:{source_id}"] = [record_ids[r] for r in rows if optout[r]]
        offenders[f"ip.copyright:{source_id}"] = [record_ids[r] for r in rows if notices[r]]
        offenders[f"quality.duplicates:{source_id}"] = [
            record_ids[r] for r in rows if duplicate_ids[r] is not None]
        for name, flags in quality.items():
            offenders[f"{QUALITY_CHECKS[name]}:{source_id}"] = [
                record_ids[r] for r in rows if flags[r]]
        declared = dataset.sources[source_id].contains_personal_info
        sources.append({
            "source_id": source_id,
            "records": len(rows),
            "pi_found": len(spans),
            "pi_covered": sum(1 for s in spans if s["covered"]),
            "pi_uncovered": len(spans) - sum(1 for s in spans if s["covered"]),
            "pi_uncovered_kinds": ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
            "pi_declared": declared,
            "pi_undeclared": len(spans) if not declared else 0,
            "harmful_sampled": len(sample),
            "harmful_flagged": len(flagged),
            "harmful_rate": len(flagged) / len(sample) if sample else 0.0,
            "harmful_rate_low": low,
            "harmful_rate_high": high,
            "optout_hits": len(offenders[f"ip.optout:{source_id}"]),
            "copyright_notices": len(offenders[f"ip.copyright:{source_id}"]),
            "near_duplicates": len(offenders[f"quality.duplicates:{source_id}"]),
            **{f"{name}_rate": len(offenders[f"{QUALITY_CHECKS[name]}:{source_id}"]) / len(rows)
               if rows else 0.0 for name in quality},
            "languages": ", ".join(sorted({languages[r] for r in rows})),
        })

    wanted = math.ceil(policy.corpus.automated_sample_fraction * len(record_ids))
    automated = sorted(range(len(record_ids)), key=keys.__getitem__)[:wanted]
    unscored = [r for r in automated if scores[r] is None]
    if unscored:  # rare: a sampled record above the shards' scoring bound
        texts = _texts(dataset, [record_ids[r] for r in unscored], unscored, squeezed=False)
        for r, score in zip(unscored, resources.classifier.probabilities(
                [texts[r] for r in unscored]), strict=True):
            harmful[r] = harmful[r] or score >= threshold
    automated_pass = sum(1 for r in automated if not harmful[r])
    coverage = resources.lexicon.coverage()
    corpus = {
        "records": len(record_ids),
        "automated_sampled": len(automated),
        "automated_sample_fraction": len(automated) / len(record_ids) if record_ids else 0.0,
        "automated_pass_rate": automated_pass / len(automated) if automated else 1.0,
        "lexicon_terms": len(resources.lexicon.terms),
        "lexicon_min_a1": min(coverage.get(f"A.1.{c}", 0) for c in "abcdefgh"),
        "lexicon_min_a2": min(coverage.get(f"A.2.{c}", 0) for c in "abcdefghi"),
        **_manual_review(dataset, set(record_ids)),
        **_diversity(dataset, record_ids, source_ids, languages, duplicate_ids, keys),
    }
    offenders["corpus.automated"] = [record_ids[r] for r in automated if harmful[r]]

    annotations = pa.table({
        "record_id": table.column("record_id"),
        "source_id": table.column("source_id"),
        "pi": _public_pi(table.column("pi")),
        "risks": table.column("risks"),
        "harmful_score": table.column("harmful_score"),
        "copyright_notice": table.column("copyright_notice"),
        "optout_work": table.column("optout_work"),
        "duplicate_of": pa.array(duplicate_ids, pa.string()),
    })
    metrics = {
        "scan.pi_found": float(sum(s["pi_found"] for s in sources)),
        "scan.pi_uncovered": float(sum(s["pi_uncovered"] for s in sources)),
        "scan.near_duplicates": float(sum(1 for d in duplicate_ids if d is not None)),
        "scan.automated_pass_rate": float(corpus["automated_pass_rate"]),
        "scan.lexicon_terms": float(corpus["lexicon_terms"]),
    }
    for row in sources:
        metrics[f"harmful_rate.{row['source_id']}"] = float(row["harmful_rate"])
    for language, count in sorted(Counter(languages).items()):  # detected, by script
        metrics[f"records.language.{language}"] = float(count)
    pi_kinds: Counter[tuple[str, bool]] = Counter(
        (span["kind"], bool(span["covered"])) for spans in pi_column for span in spans)
    for (kind, covered), count in sorted(pi_kinds.items()):
        metrics[f"pi.{'covered' if covered else 'uncovered'}.{kind}"] = float(count)
    return ScanResult(sources, corpus, offenders, annotations, metrics)


def _public_pi(column: Any) -> Any:
    """The annotations' PI spans: kind, offsets, field and verdict (HMACs stay internal)."""
    import pyarrow as pa

    spans = [[{k: s[k] for k in ("field", "kind", "start", "end", "covered")} for s in row]
             for row in column.to_pylist()]
    return pa.array(spans, pa.list_(pa.struct([
        ("field", pa.string()), ("kind", pa.string()), ("start", pa.int32()),
        ("end", pa.int32()), ("covered", pa.bool_())])))


def _texts(dataset: Dataset, wanted_ids: list[str], indices: list[int], *,
           squeezed: bool = True) -> dict[int, str]:
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
        for record_id, text in zip(chosen.column("record_id").to_pylist(),
                                   values.to_pylist(), strict=True):
            found[position[record_id]] = text
    return found


DIVERSITY_SAMPLE = 2_000
QUALITY_CHECKS = {"empty": "quality.empty", "garbled": "quality.garbled",
                  "truncated": "quality.truncated", "language_mismatch": "quality.language"}


def _diversity(dataset: Dataset, record_ids: list[str], source_ids: list[str],
               languages: list[str], duplicate_ids: list[str | None],
               keys: list[float]) -> dict[str, Any]:
    """Diversity of the corpus (Art. 7(4); TC260-003 5.1 b): sources, mix, vocabulary."""
    total = len(record_ids) or 1
    per_source = Counter(source_ids)
    sources_of: dict[str, set[str]] = defaultdict(set)
    for source, language in zip(source_ids, languages, strict=True):
        sources_of[language].add(source)
    domestic = sum(count for source, count in per_source.items()
                   if dataset.sources[source].origin.value == "domestic")
    # Lexical diversity: distinct character bigrams per bigram on a random sample.
    sample = sorted(range(len(record_ids)), key=keys.__getitem__)[:DIVERSITY_SAMPLE]
    texts = _texts(dataset, [record_ids[r] for r in sample], sample, squeezed=False)
    bigrams = [text[i:i + 2] for text in texts.values() for i in range(len(text) - 1)]
    return {
        "near_duplicate_rate": sum(d is not None for d in duplicate_ids) / total,
        "largest_source_share": max(per_source.values(), default=0) / total,
        "min_sources_per_language": min(
            (len(sources_of[language]) for language in dataset.manifest.languages), default=0),
        "domestic_share": domestic / total,
        "lexical_diversity": len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
    }


REVIEW_FILE = "review/manual_verdicts.csv"


def _manual_review(dataset: Dataset, known_ids: set[str]) -> dict[str, Any]:
    """The manual spot check of TC260-003 9.2, read from ``review/manual_verdicts.csv``."""
    from trainguard.contract import read_csv

    path = dataset.root / REVIEW_FILE
    if not path.exists():
        return {"manual_reviewed": 0, "manual_pass_rate": 0.0, "manual_review_file": False}
    from trainguard.exceptions import ContractError

    verdicts: dict[str, str] = {}
    for line, row in read_csv(path, ["record_id", "verdict"],
                              expected="header record_id,reviewer_id,verdict,reviewed_at"):
        verdict = row["verdict"].strip()
        if verdict not in ("pass", "fail"):
            raise ContractError(f"unknown verdict '{verdict}'", file=str(path), row=line,
                                field="verdict", expected="pass or fail")
        if row["record_id"] not in known_ids:
            raise ContractError(f"record_id '{row['record_id']}' is not in the dataset",
                                file=str(path), row=line, field="record_id")
        verdicts[row["record_id"]] = verdict
    passed = sum(1 for v in verdicts.values() if v == "pass")
    return {"manual_reviewed": len(verdicts),
            "manual_pass_rate": passed / len(verdicts) if verdicts else 0.0,
            "manual_review_file": True}
