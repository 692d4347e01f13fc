"""The gate: validate a dataset against the contract, run the checks, decide.

``evaluate`` is what both the CLI (``trainguard scan``) and the Airflow operator call.
Bad input raises ``ContractError``; the caller decides whether that means exit 2 (CLI)
or a blocked training run (DAG). The decision itself is in the returned report.
"""

from __future__ import annotations

from pathlib import Path

from trainguard.checks.sources import check_sources
from trainguard.contract import load_dataset
from trainguard.findings import GateReport
from trainguard.policy import Policy


def evaluate(dataset_dir: str | Path, policy: Policy, *, digest: str | None = None) -> GateReport:
    """Run every gate check on the dataset at ``dataset_dir``; ``digest`` names its version."""
    dataset = load_dataset(dataset_dir)
    stats = dataset.validate_records()
    report = GateReport(
        dataset_name=dataset.manifest.name,
        dataset_digest=digest or dataset.content_digest(),
        records=stats.records,
    )
    report.findings += check_sources(dataset, policy, dict(stats.by_source))
    report.metrics.update(
        {
            "records": stats.records,
            "characters": stats.characters,
            "bytes": stats.bytes,
            "sources": len(dataset.sources),
            "failed_checks": len(report.failed),
        }
    )
    for source_id, count in sorted(stats.by_source.items()):
        report.metrics[f"records.{source_id}"] = count
    return report
