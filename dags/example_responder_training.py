"""A team's own training DAG under trainguard's training contract: the demo responder.

trainguard triggers it for optimization training (Art. 15) with a training request in the
run's conf; ``AdmittedTrainingOperator`` re-checks that a passing gate admitted exactly
that dataset revision and DVC md5, runs the team's ``train(request, dataset_dir)`` and
registers the model version with its lineage. Declare it on the registered model:
``trainguard training declare MODEL --dag-id example_responder_training``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from trainguard.operators import AdmittedTrainingOperator

with DAG(
    dag_id="example_responder_training",
    description="The demo responder's training, run for trainguard's optimization training",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "training", "example"],
    doc_md=__doc__,
) as dag:
    AdmittedTrainingOperator(task_id="train", train="trainguard.training.responder:train")
