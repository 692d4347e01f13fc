"""A team's own training DAG under trainguard's training contract: a word n-gram model.

A second model family (``trainguard.local.ngram_model``): it generates text from the
prompt and is logged as an MLflow pyfunc. trainguard triggers this DAG for optimization
training (Art. 15) with a training request in the run's conf; ``AdmittedTrainingOperator``
re-checks the gate decision for that exact revision and md5, runs ``train`` and registers
the model version with its lineage. Trigger it by hand with
``{"trainguard_request": ...}`` (``TrainingRequest.to_conf()``) for a first version.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from trainguard.operators import AdmittedTrainingOperator

with DAG(
    dag_id="example_ngram_training",
    description="A word n-gram language model, trained on gate-admitted data only",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "training", "example"],
    doc_md=__doc__,
) as dag:
    AdmittedTrainingOperator(task_id="train", train="trainguard.local.ngram_model:train")
