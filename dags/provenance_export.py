"""Write the signed provenance bundle (Art. 17 disclosure) of a registered model version.

Trigger with conf ``{"model_name": "trainguard-demo-pretrained", "model_version": "1"}``;
the bundle lands in ``out`` (default ``$TRAINGUARD_HOME/exports/<model>/v<version>``) and
the task's return value names its files and manifest digest.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from trainguard.operators import ProvenanceExportOperator

with DAG(
    dag_id="provenance_export",
    description="Art. 17 provenance export of one model version, for auditors",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "governance", "audit"],
    doc_md=__doc__,
    default_args={"retries": 1},
    params={
        "model_name": Param("trainguard-demo-pretrained", type="string", minLength=1),
        "model_version": Param("1", type="string", minLength=1),
        "out": Param("", type="string", description="folder (empty: the default)"),
    },
) as dag:
    ProvenanceExportOperator(
        task_id="export_bundle",
        model_name="{{ params.model_name }}",
        model_version="{{ params.model_version }}",
        out="{{ params.out }}",
    )
