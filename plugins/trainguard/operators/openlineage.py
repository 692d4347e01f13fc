"""OpenLineage for the gate and training tasks (apache-airflow-providers-openlineage).

When the provider is configured (``[openlineage] transport``), it calls the operators'
``get_openlineage_facets_on_complete`` / ``_on_failure``; they answer with the DVC dataset
version as input (with its version facet), the registered model as output, and two custom
facets: ``trainguard_governance`` on the dataset (licences, PI kinds found and covered) and
``trainguard_gate`` on the run (decision, failed checks and clauses, waivers, MLflow run).
Only counts, kinds and ids travel: never a record or a PI value.

Imported only from those methods, so the operators load without OpenLineage installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet, dataset_version_dataset

if TYPE_CHECKING:
    from trainguard.versioning import DatasetVersion

SCHEMA_BASE = "https://trainguard.dev/spec/facets/1-0-0"


@attr.define
class TrainguardGovernanceDatasetFacet(DatasetFacet):
    """Licences per source and personal-information kinds, as the gate measured them."""

    licenses: dict[str, str] = attr.field(factory=dict)
    piKindsFound: dict[str, int] = attr.field(factory=dict)  # noqa: N815 - OpenLineage casing
    piKindsCovered: dict[str, int] = attr.field(factory=dict)  # noqa: N815
    records: int = 0

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_BASE}/TrainguardGovernanceDatasetFacet.json"


@attr.define
class TrainguardGateRunFacet(RunFacet):
    """The gate's decision, with the checks and clauses that failed or were waived."""

    decision: str = ""
    failedChecks: list[str] = attr.field(factory=list)  # noqa: N815
    failedClauses: list[str] = attr.field(factory=list)  # noqa: N815
    waivedChecks: list[str] = attr.field(factory=list)  # noqa: N815
    mlflowRunId: str = ""  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_BASE}/TrainguardGateRunFacet.json"


def dataset_of(version: DatasetVersion, facts: dict[str, Any] | None = None) -> Any:
    """The DVC dataset version as an OpenLineage input dataset."""
    from openlineage.client.event_v2 import InputDataset

    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=f"{version.commit}:{version.md5}"
        ),
    }
    if facts:
        facets["trainguard_governance"] = TrainguardGovernanceDatasetFacet(
            licenses=facts["licenses"],
            piKindsFound=facts["pi_kinds_found"],
            piKindsCovered=facts["pi_kinds_covered"],
            records=facts["records"],
        )
    return InputDataset(namespace=f"dvc://{version.repo}", name=version.path, facets=facets)


def gate_lineage(version: DatasetVersion | None, facts: dict[str, Any] | None) -> Any:
    from airflow.providers.openlineage.extractors import OperatorLineage

    if version is None:  # the task failed before it knew its version: nothing to report
        return OperatorLineage()
    run_facets = {}
    if facts:
        run_facets["trainguard_gate"] = TrainguardGateRunFacet(
            decision=facts["decision"],
            failedChecks=facts["failed_checks"],
            failedClauses=facts["failed_clauses"],
            waivedChecks=facts["waived_checks"],
            mlflowRunId=facts["gate_run_id"],
        )
    return OperatorLineage(inputs=[dataset_of(version, facts)], run_facets=run_facets)


def training_lineage(
    version: DatasetVersion | None, registered: dict[str, str] | None, tracking_uri: str
) -> Any:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import OutputDataset

    if version is None:
        return OperatorLineage()
    outputs = []
    if registered:
        outputs.append(
            OutputDataset(
                namespace=f"mlflow://{tracking_uri.split('://', 1)[-1]}",
                name=f"models/{registered['model_name']}/{registered['model_version']}",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                        datasetVersion=registered["model_version"]
                    )
                },
            )
        )
    return OperatorLineage(inputs=[dataset_of(version)], outputs=outputs)
