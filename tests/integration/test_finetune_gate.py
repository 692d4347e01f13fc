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
def runs(stack: Stack, clean_run: Any) -> dict[str, Any]:
    """'planted' and 'clean', each fine-tuning the pretraining model of ``clean_run``."""
    base = clean_run.xcom("train")["model_uri"]
    return {
        rev: stack.run_gate_dag("finetune_gate", rev, FINETUNING, FT_MODEL, base_model=base)
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


def test_the_export_of_a_fine_tuned_model_chains_to_its_base_models_data(
    runs: dict[str, Any], clean_run: Any
) -> None:
    """Item 7 of issue 17: a fine-tuned model's lineage, disclosure and report.html lead to
    the data its base model was trained on, with that data's gate decision."""
    from trainguard.export.bundle import bundle_files, disclosure
    from trainguard.export.lineage import lineage_text, model_lineage

    trained = runs["clean"].xcom("train")
    base = clean_run.xcom("train")
    lineage = model_lineage(FT_MODEL, trained["model_version"])
    assert lineage["base_chain"] == [
        {
            "model": base["model_uri"],
            "found": True,
            "dataset": "datasets/pretraining@clean",
            "md5": clean_run.xcom("resolve_dataset_version")["md5"],
            "gate_run_ids": [clean_run.xcom("gate")["gate_run_id"]],
            "decision": "pass",
        }
    ]
    assert disclosure(lineage)["base_models"] == lineage["base_chain"]
    assert f"base model {base['model_uri']}: dataset datasets/pretraining@clean" in (
        lineage_text(lineage)
    )
    report = bundle_files(lineage, {"language": "zh"})["report.html"].decode()
    assert "<h3>基础模型的训练数据（微调模型）</h3>" in report
    assert f"<td><code>{base['model_uri']}</code></td><td><code>datasets/pretraining@clean" in (
        report
    )


def test_fine_tuning_an_unregistered_base_model_is_refused() -> None:
    """The base model's data could not be traced: training is refused, naming it."""
    from trainguard.exceptions import ContractError, TrainingRefused
    from trainguard.training.contract import require_base_model

    with pytest.raises(TrainingRefused, match="base model models:/no-such-model/1 is not"):
        require_base_model("models:/no-such-model/1")
    with pytest.raises(ContractError, match="models:/NAME/VERSION"):
        require_base_model("s3://bucket/model.pkl")
