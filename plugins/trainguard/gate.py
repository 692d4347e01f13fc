"""The gate: validate a dataset against the contract, run the checks, decide.

``evaluate`` runs everything in one process (``trainguard scan``). In Airflow the shard
scans run as mapped tasks (``scan.scan_shard``) and the gate task calls ``decide`` on
their results. Bad input raises ``ContractError``; the decision is in the report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from trainguard.checks.sources import check_sources
from trainguard.findings import GateReport
from trainguard.policy import Policy
from trainguard.scan import ScanResources, scan_shard

SHARDS_DIR = "shards"
GX_DIR = "gx"


def evaluate(
    dataset_dir: str | Path,
    policy: Policy,
    *,
    digest: str | None = None,
    extra_lexicons: list[str] | None = None,
    workdir: str | Path | None = None,
    annotations_out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> GateReport:
    """Run every gate check on the dataset at ``dataset_dir``; ``digest`` names its version."""
    resources = ScanResources.build(dataset_dir, policy, extra_lexicons)
    resources.dataset.validate_records()
    with tempfile.TemporaryDirectory(prefix="trainguard-scan-") as scratch:
        root = Path(workdir) if workdir else Path(scratch)
        shards = resources.dataset.shards
        for index, shard in enumerate(shards, start=1):
            summary = scan_shard(resources, shard, root / SHARDS_DIR)
            if progress:
                progress(f"scanned {shard.name} ({index}/{len(shards)}, "
                         f"{summary['records']} records)")
        return decide(resources, root, digest=digest, annotations_out=annotations_out)


def decide(
    resources: ScanResources,
    workdir: Path,
    *,
    digest: str | None = None,
    annotations_out: str | Path | None = None,
) -> GateReport:
    """Registry checks, the reduce over ``workdir/shards`` and the GX suites: the report."""
    from trainguard.gx_gate import run_gx_gate
    from trainguard.scan import reduce_scans

    dataset, policy = resources.dataset, resources.policy
    stats = dataset.validate_records()
    report = GateReport(
        dataset_name=dataset.manifest.name,
        dataset_digest=digest or dataset.content_digest(),
        records=stats.records,
    )
    report.findings += check_sources(dataset, policy, dict(stats.by_source))
    result = reduce_scans(resources, workdir / SHARDS_DIR)
    outcome = run_gx_gate(result, policy, workdir / GX_DIR)
    report.findings += outcome.findings
    report.data_docs = outcome.data_docs
    report.tables = {"sources": result.sources, "corpus": result.corpus}
    report.metrics.update(
        {
            "records": stats.records,
            "characters": stats.characters,
            "bytes": stats.bytes,
            "sources": len(dataset.sources),
            "failed_checks": len(report.failed),
            "gx_expectations": outcome.statistics["expectations_evaluated"],
            **result.metrics,
        }
    )
    for source_id, count in sorted(stats.by_source.items()):
        report.metrics[f"records.{source_id}"] = count
    if not result.corpus["manual_review_file"]:
        # Nothing reviewed yet: hand the reviewers their sample with the decision.
        from trainguard.review import write_review_sample

        sample = workdir / "review_sample.csv"
        size = write_review_sample(dataset, policy.corpus.manual_sample_size, sample)
        report.review_sample = sample
        report.metrics["review_sample_size"] = size
    if annotations_out:
        import pyarrow.parquet as pq

        Path(annotations_out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.annotations, annotations_out)
    return report
