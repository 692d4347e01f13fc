"""Assess what a model version says before it is released (Art. 4, 6; TC260-003 9.3).

Triggered by the ``assess`` task of both gate DAGs after ``train``, and by hand with conf
``{"model_uri": "models:/<name>/<version>"}``. The question banks come from ``banks`` (a
folder), the policy's ``assessment.banks``, or ``assessment/banks`` (DVC-tracked) in the
repository and commit of the data the version was trained on. A passing assessment sets
the registered model alias ``assessed``; a failing one fails this run, naming each failed
measure with its clause and the question ids.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from trainguard.operators import ModelAssessmentOperator
from trainguard.operators.assessment import ASSESSMENT_DAG

with DAG(
    dag_id=ASSESSMENT_DAG,
    description="Generated-content assessment on question banks before release",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["trainguard", "governance", "assessment"],
    doc_md=__doc__,
    default_args={"retries": 0},
    render_template_as_native_obj=True,
    params={
        "model_uri": Param(
            "", type="string", minLength=1, description="models:/<name>/<version> or @alias"
        ),
        "banks": Param("", type="string", description="bank folder (empty: find them)"),
        "banks_path": Param(
            "assessment/banks", type="string", description="DVC-tracked banks in the data repo"
        ),
        "policy": Param("", type="string", description="policy YAML (empty: defaults)"),
        "lexicons": Param([], type="array", description="extra lexicon CSVs (term,risk)"),
    },
) as dag:
    ModelAssessmentOperator(
        task_id="assess",
        model_uri="{{ params.model_uri }}",
        banks="{{ params.banks }}",
        banks_path="{{ params.banks_path }}",
        policy="{{ params.policy }}",
        lexicons="{{ params.lexicons }}",
    )
