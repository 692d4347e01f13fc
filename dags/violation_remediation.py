"""Daily: alert violations at risk or overdue, then fix every filtered one (Art. 15, 19).

For each violation (mapped): ``prepare`` finds every dataset and model version that holds
its content, writes a fixed dataset version and gates it; ``optimization_training`` runs
each affected model's own declared training (a DAG it triggers and waits for, or an entry
point) on the fixed version; ``verify`` asks the new model version the reported prompt
and screens every answer, and only a passing probe closes the violation. A run killed
midway resumes on the next run from its last recorded step. Trigger with
``{"violation_id": "V-..."}`` to fix one violation now.
"""

from __future__ import annotations

import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from trainguard.operators import (
    AssessModelOperator,
    DeadlineCheckOperator,
    FixedModelsOperator,
    OpenViolationsOperator,
    OptimizationTrainingOperator,
    PrepareRemediationOperator,
    TrainingOrdersOperator,
    VerifyRemediationOperator,
)

with DAG(
    dag_id="violation_remediation",
    description="Art. 15 optimization training that fixes violations before their deadline",
    schedule="@daily",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,  # two runs on one violation would race for its fixed version
    tags=["trainguard", "governance", "violations"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": datetime.timedelta(minutes=5)},
    params={
        "violation_id": Param("", type="string", description="one violation (empty: all)"),
        "policy": Param("", type="string", description="policy YAML (empty: defaults)"),
    },
) as dag:
    deadlines = DeadlineCheckOperator(task_id="check_deadlines", policy="{{ params.policy }}")
    due = OpenViolationsOperator(
        task_id="open_violations", violation_id="{{ params.violation_id }}"
    )
    prepared = PrepareRemediationOperator.partial(task_id="prepare").expand(violation_id=due.output)
    # One violation that cannot be prepared must not hold back the others' training.
    orders = TrainingOrdersOperator(task_id="training_orders", trigger_rule="all_done")
    training = OptimizationTrainingOperator.partial(
        task_id="optimization_training", retries=0
    ).expand(order=orders.output)
    verified = VerifyRemediationOperator.partial(task_id="verify", trigger_rule="all_done").expand(
        violation_id=due.output
    )
    # Each fixed version is assessed on its question banks before release (model_assessment).
    fixed = FixedModelsOperator(
        task_id="fixed_models", verified=verified.output, trigger_rule="all_done"
    )
    assess = AssessModelOperator.partial(task_id="assess", policy="{{ params.policy }}").expand(
        model=fixed.output
    )
    # The run's state is that of the remediation: a failed verify fails this leaf (the
    # assessment branch runs regardless, for the violations that did close).
    remediated = EmptyOperator(task_id="remediated")
    deadlines >> due >> prepared >> orders >> training >> verified >> [fixed, remediated]
    fixed >> assess
