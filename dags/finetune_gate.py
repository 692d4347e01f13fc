"""Gate a fine-tuning run on data legality, quality and annotation, then fine-tune.

Trigger with conf ``{"repo": "<git+DVC repo>", "path": "datasets/finetuning", "rev": "clean"}``,
and ``"base_model": "models:/NAME/VERSION"`` for the model it continues: its data's lineage
then joins the fine-tuned model's provenance export.
Each record shard is scanned by its own mapped task; the gate then runs the legality,
quality and annotation suites (Art. 7, Art. 8), naming each failed check with its clause
and the batch, annotator or source concerned, before fine-tuning can start.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from trainguard.operators import (
    AssessModelOperator,
    DataGateOperator,
    DatasetShardsOperator,
    DatasetVersionOperator,
    ShardScanOperator,
    TrainModelOperator,
)
from trainguard.operators.params import gate_params, scan_retry_args

with DAG(
    dag_id="finetune_gate",
    description="Art. 7 and Art. 8 data gate in front of every fine-tuning run",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "governance", "finetuning"],
    doc_md=__doc__,
    default_args={"retries": 0},
    render_template_as_native_obj=True,
    params=gate_params(
        path="datasets/finetuning", model_name="trainguard-demo-finetuned", base_model=True
    ),
) as dag:
    version = DatasetVersionOperator(
        task_id="resolve_dataset_version",
        repo="{{ params.repo }}",
        path="{{ params.path }}",
        rev="{{ params.rev }}",
    )
    shards = DatasetShardsOperator(task_id="list_shards", policy="{{ params.policy }}")
    scans = ShardScanOperator.partial(
        task_id="scan_shard",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
        **scan_retry_args(),
    ).expand(shard=shards.output)
    gate = DataGateOperator(
        task_id="gate",
        stage="finetuning",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
    train = TrainModelOperator(
        task_id="train",
        stage="finetuning",
        model_name="{{ params.model_name }}",
        base_model="{{ params.base_model }}",
    )
    # The released model is assessed on question banks (Art. 4, 6): model_assessment.
    assess = AssessModelOperator(
        task_id="assess",
        model=train.output,
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
    version >> shards >> scans >> gate >> train >> assess
