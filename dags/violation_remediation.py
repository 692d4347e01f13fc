"""Daily: alert violations at risk or overdue, then fix every filtered one (Art. 15, 19).

For each violation (one mapped task each): the affected data through lineage, a fixed
dataset version, the gate on it, optimization training of the affected model, and the
verification probe; only a passing probe closes it. A run killed midway resumes on the
next run from its last recorded step. Trigger with ``{"violation_id": "V-..."}`` to fix
one violation now.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from trainguard.operators import (
    DeadlineCheckOperator,
    OpenViolationsOperator,
    RemediateViolationOperator,
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
    fixes = RemediateViolationOperator.partial(task_id="remediate").expand(violation_id=due.output)
    deadlines >> due >> fixes
