"""finetune_gate run for real: annotation problems of 'planted' fail it, 'clean' fine-tunes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from trainguard.local.demo_data import FINETUNING

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.integration

FT_MODEL = "it-finetuned"


@pytest.fixture(scope="module")
def runs(stack: Stack) -> dict[str, Any]:
    return {
        rev: stack.run_gate_dag("finetune_gate", rev, FINETUNING, FT_MODEL)
        for rev in ("planted", "clean")
    }


def test_planted_annotation_problems_fail_with_clause_and_entity(
    stack: Stack, runs: dict[str, Any]
) -> None:
    """The untrained annotator and the poorly checked batch fail Art. 8, by name."""
    planted = runs["planted"]
    assert planted.states_of("gate") == ["failed"]
    assert planted.states_of("train") == ["upstream_failed"]
    failed = {(f["check"], f["entity"]) for f in planted.xcom("gate", "gate_failed")["failed"]}
    truth = stack.demo.ground_truth("planted")["finetuning"]["problems"]
    expected = set()
    for problem in truth:
        entity = (
            f"annotator {problem['annotator_id']}"
            if "annotator_id" in problem
            else f"batch {problem['batch']}"
        )
        expected.add((problem["check"], entity))
    assert (
        failed
        == expected
        == {("annotation.training", "annotator L07"), ("annotation.spot_checks", "batch B04")}
    )


def test_clean_fine_tunes_and_logs_annotation_metadata(runs: dict[str, Any]) -> None:
    """On 'clean' the model is fine-tuned and the gate run carries the Art. 17 metadata."""
    import mlflow
    from mlflow import MlflowClient

    clean = runs["clean"]
    assert clean.state == "success"
    gate_run = MlflowClient().get_run(clean.xcom("gate")["gate_run_id"])
    params, metrics = gate_run.data.params, gate_run.data.metrics
    assert {"annotation.rules.v1.sha256", "annotation.rules.v2.sha256"} <= set(params)
    assert metrics["annotation.spot_checks"] >= 200
    assert 0.9 <= metrics["annotation.accuracy"] <= 1.0
    assert metrics["annotation.kappa_mean"] > 0.6
    rules = [
        a.path for a in MlflowClient().list_artifacts(gate_run.info.run_id, "annotation/rules")
    ]
    assert rules == ["annotation/rules/v1.md", "annotation/rules/v2.md"]
    metadata = mlflow.artifacts.load_dict(
        f"runs:/{gate_run.info.run_id}/annotation/annotation.json"
    )
    assert metadata["annotators"]["reviewers"] == 3
    trained = clean.xcom("train")
    model = mlflow.sklearn.load_model(f"models:/{FT_MODEL}/{trained['model_version']}")
    assert model.predict(["请介绍一下古籍修复工作。 #1"])[0]  # answers from its pairs
