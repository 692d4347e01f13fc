"""File a violation and filter its content at once (Art. 13, 15).

Trigger with conf such as ``{"kind": "harmful_output", "summary": "...",
"reported_by": "user-feedback", "prompt": "...", "output": "...",
"model_name": "my-model"}``, or for a deletion request ``{"kind": "pi_request",
"pi_hmacs": ["mobile_phone=<hmac>"]}`` (`trainguard pi-hmac` computes them: raw personal
information never enters Airflow). The violation is triaged and put into the output
filter before the task ends; ``violation_remediation`` then fixes it.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from trainguard.operators import ViolationIntakeOperator
from trainguard.violations.kinds import kind_names

with DAG(
    dag_id="violation_intake",
    description="Art. 13/15 intake: file a violation, filter it at once",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "governance", "violations"],
    doc_md=__doc__,
    default_args={"retries": 1},
    render_template_as_native_obj=True,
    params={
        "kind": Param("harmful_output", type="string", enum=kind_names()),
        "summary": Param("", type="string", minLength=1, description="what happened, no PI"),
        "reported_by": Param("", type="string", minLength=1),
        "owner": Param("compliance", type="string", minLength=1),
        "prompt": Param("", type="string"),
        "output": Param("", type="string"),
        "pi_hmacs": Param([], type="array", description="KIND=HMAC items (pi_request)"),
        "work_id": Param("", type="string"),
        "source_id": Param("", type="string"),
        "finding": Param("", type="string"),
        "model_name": Param("", type="string"),
        "model_version": Param("", type="string"),
        "policy": Param("", type="string", description="policy YAML (empty: defaults)"),
        "triage": Param(True, type="boolean", description="triage and filter it at once"),
    },
) as dag:
    ViolationIntakeOperator(
        task_id="file_violation",
        kind="{{ params.kind }}",
        summary="{{ params.summary }}",
        reported_by="{{ params.reported_by }}",
        violation_owner="{{ params.owner }}",
        prompt="{{ params.prompt }}",
        output_text="{{ params.output }}",
        pi_hmacs="{{ params.pi_hmacs }}",
        work_id="{{ params.work_id }}",
        source_id="{{ params.source_id }}",
        finding="{{ params.finding }}",
        model_name="{{ params.model_name }}",
        model_version="{{ params.model_version }}",
        policy="{{ params.policy }}",
        triage="{{ params.triage }}",
    )
