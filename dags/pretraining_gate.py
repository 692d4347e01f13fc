"""Gate a pre-training run on data legality, then train and register the model.

Trigger with conf ``{"repo": "<git+DVC repo>", "path": "datasets/pretraining", "rev": "clean"}``.
Each record shard is scanned by its own mapped task; the near-duplicate stages run as
mapped groups over the scans' LSH bands and row windows; the gate then decides, naming
each failed check and its clause, before training can start.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from trainguard.operators import (
    AssessModelOperator,
    DataGateOperator,
    DatasetShardsOperator,
    DatasetVersionOperator,
    NearDuplicatePlanOperator,
    NearDuplicateStageOperator,
    ShardScanOperator,
    TrainModelOperator,
)
from trainguard.operators.params import gate_params, scan_retry_args

with DAG(
    dag_id="pretraining_gate",
    description="Art. 7 data gate in front of every pre-training run",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "governance", "pretraining"],
    doc_md=__doc__,
    default_args={"retries": 0},
    render_template_as_native_obj=True,
    params=gate_params(path="datasets/pretraining", model_name="trainguard-demo-pretrained"),
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
    duplicate_groups = NearDuplicatePlanOperator(
        task_id="plan_near_duplicates",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
    duplicate_pairs = NearDuplicateStageOperator.partial(
        task_id="near_duplicate_pairs",
        stage="pairs",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
        **scan_retry_args(),
    ).expand(group=duplicate_groups.output)
    duplicate_windows = NearDuplicateStageOperator.partial(
        task_id="near_duplicate_windows",
        stage="windows",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
        **scan_retry_args(),
    ).expand(group=duplicate_groups.output)
    gate = DataGateOperator(
        task_id="gate",
        stage="pretraining",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
    train = TrainModelOperator(
        task_id="train", stage="pretraining", model_name="{{ params.model_name }}"
    )
    # The released model is assessed on question banks (Art. 4, 6): model_assessment.
    assess = AssessModelOperator(
        task_id="assess",
        model=train.output,
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
    version >> shards >> scans >> duplicate_groups >> duplicate_pairs >> duplicate_windows
    duplicate_windows >> gate >> train >> assess
