"""The gate: validate a dataset against the contract, run the checks, decide.

``evaluate`` runs everything in one process (``trainguard scan``). In Airflow the shard
scans run as mapped tasks (``scan.scan_shard``) and the gate task calls ``decide`` on
their results. Bad input raises ``ContractError``; the decision is in the report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.checks.annotation import review_annotation
from trainguard.checks.objectivity import objectivity_table
from trainguard.checks.sources import check_sources
from trainguard.contract import Stage
from trainguard.findings import GateReport
from trainguard.gate.scan import ScanResources, scan_shard

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from trainguard.contract import Dataset, RecordStats
    from trainguard.gate.waivers import Waiver
    from trainguard.policy import Policy
    from trainguard.progress import Progress

SHARDS_DIR = "shards"
GX_DIR = "gx"
LEGALITY_SUITES = ["legality_sources", "legality_corpus"]
QUALITY_SUITES = ["quality_sources", "quality_corpus", "objectivity_attributes"]
ANNOTATION_SUITES = ["annotation_rules", "annotation_annotators", "annotation_batches"]


def suite_parameters(policy: Policy, records: int) -> dict[str, float]:
    """The policy's thresholds, by the $PARAMETER names the suites in expectations/ use."""
    return {
        "harmful_max_rate": policy.harmful.max_rate,
        "automated_sample_fraction": policy.corpus.automated_sample_fraction,
        "automated_pass_rate": policy.corpus.automated_pass_rate,
        # The manual check needs the policy's sample size, or every record when fewer.
        "manual_sample_size": min(policy.corpus.manual_sample_size, records),
        "manual_pass_rate": policy.corpus.manual_pass_rate,
        "lexicon_min_terms": policy.keywords.min_terms,
        "lexicon_min_per_a1": policy.keywords.min_per_a1_risk,
        "lexicon_min_per_a2": policy.keywords.min_per_a2_risk,
        **{
            key: value
            for key, value in policy.quality.model_dump().items()
            if key != "near_duplicate_similarity"
        },
        "min_rate_ratio": policy.objectivity.min_rate_ratio,
        "max_parity_gap": policy.objectivity.max_parity_gap,
        "min_accuracy": policy.annotation.min_accuracy,
        "min_kappa": policy.annotation.min_kappa,
    }


def evaluate(
    dataset_dir: str | Path,
    policy: Policy,
    *,
    digest: str | None = None,
    extra_lexicons: list[str] | None = None,
    workdir: str | Path | None = None,
    annotations_out: str | Path | None = None,
    progress: Progress | Callable[[str], None] | None = None,
    waivers: list[Waiver] | None = None,
    workers: int = 1,
) -> GateReport:
    """Run every gate check on the dataset at ``dataset_dir``; ``digest`` names its version.

    ``progress``: a ``Progress`` (phases, counts, time left) or a callback for plain lines.
    ``workers``: shards scanned at once, in forked processes (``scan_shards``).
    """
    from trainguard.progress import Progress

    steps = progress if isinstance(progress, Progress) else Progress.lines_to(progress)
    steps.phase("reading and checking the dataset")
    resources = ScanResources.build(dataset_dir, policy, extra_lexicons)
    stats = resources.dataset.validate_records()
    with tempfile.TemporaryDirectory(prefix="trainguard-scan-") as scratch:
        root = Path(workdir) if workdir else Path(scratch)
        shards = resources.dataset.shards
        steps.phase(f"scanning {stats.records:,} records", total=len(shards), unit="shards")
        scan_shards(
            resources, root / SHARDS_DIR, stats.by_source, workers=workers, advance=steps.advance
        )
        steps.phase("deciding: per-source measures, near-duplicates, GX suites")
        report = decide(
            resources, root, digest=digest, annotations_out=annotations_out, waivers=waivers
        )
        steps.finish()
        return report


_FORKED: tuple[ScanResources, Path, Mapping[str, int]] | None = None  # what workers inherit


def scan_shards(
    resources: ScanResources,
    out_dir: Path,
    source_records: Mapping[str, int],
    *,
    workers: int = 1,
    advance: Callable[[], None] = lambda: None,
) -> None:
    """The shard pass over every shard, ``workers`` at a time in forked processes.

    The workers inherit what the parent built once (lexicon, ledger, the classifier's fit),
    so nothing is pickled or trained again; meanwhile the parent imports Great Expectations,
    which the decision needs next. A worker that dies blocks the gate, naming the shards
    left unscanned.
    Where ``fork`` is unavailable, or with one worker or shard, the pass runs in this
    process. In Airflow each shard is a mapped task instead.
    """
    import multiprocessing

    shards = resources.dataset.shards
    workers = min(workers, len(shards))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for shard in shards:
            scan_shard(resources, shard, out_dir, source_records=source_records)
            advance()
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from trainguard.exceptions import GateError

    global _FORKED
    _ = resources.classifier  # fit or load once, before the fork; refused here if below bars
    _FORKED = (resources, out_dir, source_records)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            running = {pool.submit(_scan_forked, shard): shard for shard in shards}
            import great_expectations  # noqa: F401 - warm while the workers scan

            for done in as_completed(running):
                try:
                    done.result()
                except BrokenProcessPool:
                    unscanned = sorted(
                        shard.name
                        for future, shard in running.items()
                        if not future.done() or future.exception() is not None
                    )
                    raise GateError(
                        "a process scanning shards died (out of memory or killed); not "
                        f"scanned: {', '.join(unscanned)}: the gate cannot decide"
                    ) from None
                advance()
    finally:
        _FORKED = None


def _scan_forked(shard: Path) -> None:
    if _FORKED is None:  # only scan_shards submits this, after setting it
        raise RuntimeError("a shard worker started without what scan_shards hands over")
    resources, out_dir, source_records = _FORKED
    scan_shard(resources, shard, out_dir, source_records=source_records)


def decide(
    resources: ScanResources,
    workdir: Path,
    *,
    digest: str | None = None,
    annotations_out: str | Path | None = None,
    waivers: list[Waiver] | None = None,
    staged_duplicates: Path | None = None,
) -> GateReport:
    """Registry checks, the reduce over ``workdir/shards`` and the GX suites: the report.

    Failed findings that an active waiver covers are reported as waived (not failed).
    ``staged_duplicates``: where mapped tasks ran the near-duplicate stages, if they did.
    """
    from trainguard.gate.gx import run_gx_gate
    from trainguard.gate.reduce import reduce_scans

    dataset, policy = resources.dataset, resources.policy
    stats = dataset.validate_records()
    report = GateReport(
        dataset_name=dataset.manifest.name,
        dataset_digest=digest or dataset.content_digest(),
        records=stats.records,
    )
    report.findings += check_sources(dataset, policy, dict(stats.by_source))
    trained = resources.trained
    if trained is not None:
        report.harmful_classifier = trained.summary()
        report.classifier_model = trained.model
        report.metrics.update(_classifier_metrics(trained.summary()["validation"]))
    result = reduce_scans(
        resources,
        workdir / SHARDS_DIR,
        annotations_out=Path(annotations_out) if annotations_out else None,
        staged=staged_duplicates,
    )
    tables = result.tables()
    tables["attributes"] = objectivity_table(dataset, policy)
    suites = LEGALITY_SUITES + QUALITY_SUITES
    annotation = review_annotation(dataset, policy)
    if dataset.manifest.stage is Stage.FINETUNING:
        tables.update(annotation.tables())
        suites += ANNOTATION_SUITES
        report.annotation = {
            **annotation.metadata,
            "rules_files": {
                version: str(path)
                for version, path in (
                    dataset.annotation.rules.items() if dataset.annotation else []
                )
            },
        }
    outcome = run_gx_gate(
        tables, suites, suite_parameters(policy, stats.records), policy, workdir / GX_DIR
    )
    report.findings += outcome.findings
    report.policy = policy.governance()
    if waivers:
        from trainguard.gate.waivers import apply_waivers

        apply_waivers(report, waivers, policy=policy)
    report.data_docs = outcome.data_docs
    report.tables = {name: table.rows for name, table in tables.items()}
    report.metrics.update(
        {
            "records": stats.records,
            "characters": stats.characters,
            "bytes": stats.bytes,
            "sources": len(dataset.sources),
            "failed_checks": len(report.failed),
            "waived_checks": sum(1 for f in report.findings if f.status.value == "waived"),
            "gx_expectations": outcome.statistics["expectations_evaluated"],
            **result.metrics,
        }
    )
    for source_id, count in sorted(stats.by_source.items()):
        report.metrics[f"records.{source_id}"] = count
    report.composition = composition(dataset, stats)
    if not result.corpus["manual_review_file"]:
        # Nothing reviewed yet: hand the reviewers their sample with the decision.
        from trainguard.checks.harmful import write_review_sample

        sample = workdir / "review_sample.csv"
        size = write_review_sample(dataset, policy.corpus.manual_sample_size, sample)
        report.review_sample = sample
        report.metrics["review_sample_size"] = size
    return report


def composition(dataset: Dataset, stats: RecordStats) -> dict[str, Any]:
    """What the data is (Art. 17): the manifest, and each source with its scale and evidence."""
    sources = []
    for source_id, source in sorted(dataset.sources.items()):
        sources.append(
            {
                **source.model_dump(mode="json", exclude_none=True),
                "missing_evidence": source.missing_evidence(),
                "records": stats.by_source.get(source_id, 0),
                "characters": stats.characters_by_source.get(source_id, 0),
                "bytes": stats.bytes_by_source.get(source_id, 0),
            }
        )
    return {
        "dataset": dataset.manifest.model_dump(mode="json"),
        "scale": {"records": stats.records, "characters": stats.characters, "bytes": stats.bytes},
        "sources": sources,
    }


def _classifier_metrics(validation: dict[str, Any]) -> dict[str, float]:
    """The classifier's held-out scores as metrics, overall and per language."""
    names = ("precision", "recall", "false_positive_rate")
    metrics = {f"classifier.{name}": float(validation[name]) for name in names}
    for language, scores in validation["by_language"].items():
        metrics.update({f"classifier.{name}.{language}": float(scores[name]) for name in names})
    return metrics
