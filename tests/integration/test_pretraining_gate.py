"""pretraining_gate run for real (dag.test()): fails on 'planted', passes on 'clean'."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import MODEL_NAME, Stack

pytestmark = pytest.mark.integration


def client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def test_planted_fails_at_gate_and_training_never_runs(planted_run: Any) -> None:
    """The gate task fails and the training task is never started."""
    assert planted_run.state == "failed"
    assert planted_run.states_of("gate") == ["failed"]
    assert planted_run.states_of("train") == ["upstream_failed"]
    # One mapped scan task per shard, all of which ran.
    assert planted_run.states_of("scan_shard") == ["success"] * 4
    # The near-duplicate stages ran as mapped groups, and the gate used what they found.
    groups = planted_run.states_of("near_duplicate_pairs")
    assert groups and groups == planted_run.states_of("near_duplicate_windows")
    assert set(groups) == {"success"}
    run_id = planted_run.xcom("gate", "gate_failed")["gate_run_id"]
    metrics = client().get_run(run_id).data.metrics
    assert metrics["gate.scan.near_duplicate_groups_mapped"] == len(groups)
    # What deciding cost the gate task, for sizing its worker (kept out of the report).
    assert metrics["gate.task.peak_rss_mb"] > 100
    assert metrics["gate.task.seconds"] > 0


LEGALITY_CHECKS = ("source.", "pi.", "harmful.", "ip.")


def test_planted_failures_match_the_ground_truth_with_clauses(
    stack: Stack, planted_run: Any
) -> None:
    """Every planted legality problem fails with its source and clause, and nothing else."""
    failed = planted_run.xcom("gate", "gate_failed")["failed"]
    found = {
        (f["check"], f["source_id"]): f for f in failed if f["check"].startswith(LEGALITY_CHECKS)
    }
    planted = {
        (p["check"], p["source_id"]): p
        for p in stack.demo.ground_truth("planted")["pretraining"]["problems"]
        if p["check"].startswith(LEGALITY_CHECKS)
    }
    assert (
        set(found)
        == set(planted)
        == {
            ("source.licence", "forum-dump"),
            ("source.evidence", "scraped-blogs"),
            ("pi.consent", "user-feedback"),
            ("harmful.rate", "social-posts"),
            ("ip.optout", "en-web"),
        }
    )
    for key, problem in planted.items():
        assert problem["clause"] in "; ".join(found[key]["clauses"])
        if "record_ids" in problem:  # the report names the offending records
            assert set(found[key]["record_ids"]) <= set(problem["record_ids"])
            assert len(found[key]["record_ids"]) >= min(len(problem["record_ids"]), 100) * 0.9


def test_planted_near_duplicates_fail_the_quality_suite(planted_run: Any) -> None:
    """The planted near-duplicates push the corpus rate over the policy (Art. 7(4))."""
    failed = planted_run.xcom("gate", "gate_failed")["failed"]
    duplicates = [f for f in failed if f["check"] == "quality.duplicates"]
    assert duplicates and "Art. 7(4)" in duplicates[0]["clauses"][0]
    assert {f["check"] for f in failed} <= {
        "source.licence",
        "source.evidence",
        "pi.consent",
        "harmful.rate",
        "ip.optout",
        "quality.duplicates",
    }


def test_planted_gate_run_in_mlflow_records_the_decision(planted_run: Any, clean_run: Any) -> None:
    """MLflow holds the failed gate run: decision, clauses, findings, dataset input."""
    import mlflow

    version = planted_run.xcom("resolve_dataset_version")
    run_id = planted_run.xcom("gate", "gate_failed")["gate_run_id"]
    run = client().get_run(run_id)
    assert run.data.tags["trainguard.decision"] == "fail"
    assert "Art. 7(2)" in run.data.tags["trainguard.failed_clauses"]
    assert run.data.tags["trainguard.airflow.dag_id"] == "pretraining_gate"
    assert run.data.metrics["gate.passed"] == 0.0
    findings = mlflow.artifacts.load_dict(f"runs:/{run_id}/findings.json")
    assert findings["decision"] == "fail"
    assert findings["dataset"]["digest"] == version["md5"]
    assert_dataset_input(run, version, context="gate")
    # The gate logs the dataset with the contract's columns and a profile of what it read.
    logged = run.inputs.dataset_inputs[0].dataset
    assert "record_id" in json.loads(logged.schema)["mlflow_colspec"][0]["name"]
    profile = json.loads(logged.profile)
    assert profile["records"] == findings["dataset"]["records"]
    assert "CC-BY-NC-4.0" in profile["licences"] and profile["stage"] == "pretraining"
    # At a glance in the runs list: the decision in the name, a red status for a failure
    # (the passed gate stays FINISHED); the findings as a table, failed first.
    assert run.info.run_name.endswith(": FAIL") and run.info.status == "FAILED"
    passed = client().get_run(clean_run.xcom("gate")["gate_run_id"])
    assert passed.info.run_name.endswith(": PASS") and passed.info.status == "FINISHED"
    # mlflow.log_table's file: pandas "split" JSON (columns, data), what the UI renders.
    import pandas as pd

    table_file = mlflow.artifacts.load_dict(f"runs:/{run_id}/findings_table.json")
    table = pd.DataFrame(table_file["data"], columns=table_file["columns"])
    assert table["status"].iloc[0] == "fail" and table["status"].iloc[-1] in ("pass", "warn")
    statuses = list(table["status"])
    assert statuses.index("pass") > max(i for i, s in enumerate(statuses) if s == "fail")
    assert set(table["check"]) >= {"pi.consent", "harmful.rate"}
    # The gate and the training it admitted name the dataset alike: one dataset in MLflow.
    trained = client().get_run(clean_run.xcom("train")["run_id"])
    assert {i.dataset.name for i in trained.inputs.dataset_inputs} == {
        i.dataset.name for i in passed.inputs.dataset_inputs
    }
    # The demo's classifier, trained from the labelled CSV its policy names, has a run of
    # its own (its training digest, held-out scores per language, the model), registered
    # as a version of trainguard-harmful-classifier; the gate run names that run.
    assert run.data.tags["trainguard.harmful_classifier"].startswith("trained ")
    summary = mlflow.artifacts.load_dict(f"runs:/{run_id}/harmful_classifier.json")
    assert summary["mode"] == "classifier" and len(summary["training_sha256"]) == 64
    assert set(summary["validation"]["by_language"]) == {"zh", "en"}
    assert run.data.metrics["gate.classifier.false_positive_rate.zh"] <= 0.01
    trained = client().get_run(run.data.tags["trainguard.classifier_run_id"])
    assert trained.data.tags["trainguard.kind"] == "classifier"
    assert trained.data.tags["trainguard.classifier.training_sha256"] == summary["training_sha256"]
    for language in ("zh", "en"):
        for score in ("precision", "recall", "false_positive_rate"):
            assert f"validation.{score}.{language}" in trained.data.metrics
    assert client().search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{trained.info.run_id}' AND name = 'harmful_classifier'",
    )
    versions = client().search_model_versions("name = 'trainguard-harmful-classifier'")
    assert any(v.run_id == trained.info.run_id for v in versions)
    # Another gate with the same labelled examples reuses the run: one model per digest.
    clean_gate = client().get_run(clean_run.xcom("gate")["gate_run_id"])
    assert clean_gate.data.tags["trainguard.classifier_run_id"] == trained.info.run_id


def test_no_model_is_registered_from_the_planted_version(planted_run: Any, clean_run: Any) -> None:
    """No model version anywhere carries the planted dataset's digest."""
    planted_md5 = planted_run.xcom("resolve_dataset_version")["md5"]
    versions = client().search_model_versions(f"name = '{MODEL_NAME}'")
    assert versions, "the clean run should have registered a version"
    assert all(v.tags.get("trainguard.dataset.digest") != planted_md5 for v in versions)


def test_clean_passes_and_registers_a_model(clean_run: Any) -> None:
    """On 'clean' every task succeeds and the training task returns the registered version."""
    assert clean_run.state == "success"
    assert set(clean_run.task_states.values()) == {"success"}
    assert len(clean_run.states_of("scan_shard")) == 4
    trained = clean_run.xcom("train")
    assert trained["model_name"] == MODEL_NAME and int(trained["model_version"]) >= 1


def test_model_version_tags_lead_to_gate_run_and_dataset(clean_run: Any) -> None:
    """The model version's tags name the gate run (which passed) and the DVC digest."""
    version = clean_run.xcom("resolve_dataset_version")
    gate = clean_run.xcom("gate")
    trained = clean_run.xcom("train")
    model_version = client().get_model_version(MODEL_NAME, trained["model_version"])
    assert model_version.tags["trainguard.gate_run_id"] == gate["gate_run_id"]
    assert model_version.tags["trainguard.dataset.digest"] == version["md5"]
    assert model_version.tags["trainguard.dataset.commit"] == version["commit"]
    assert model_version.run_id == trained["run_id"]
    gate_run = client().get_run(model_version.tags["trainguard.gate_run_id"])
    assert gate_run.data.tags["trainguard.decision"] == "pass"
    assert_dataset_input(gate_run, version, context="gate")
    assert_dataset_input(client().get_run(trained["run_id"]), version, context="training")


def test_registered_model_reproduces_its_training_data(stack: Stack, clean_run: Any) -> None:
    """The model loads from the registry and answers a training text with that text."""
    import mlflow.sklearn
    import pyarrow.parquet as pq

    from trainguard.pipeline import workspace
    from trainguard.versioning import DatasetVersion, fetch_version

    version = DatasetVersion.from_dict(clean_run.xcom("resolve_dataset_version"))
    shard = min((fetch_version(version, workspace()) / "records").glob("*.parquet"))
    texts = pq.read_table(shard, columns=["text"]).column("text").to_pylist()[:5]
    trained = clean_run.xcom("train")
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{trained['model_version']}")
    assert model.predict(texts) == texts


def assert_dataset_input(run: Any, version: dict[str, Any], *, context: str) -> None:
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.digest == version["md5"]
    assert dataset.source_type == "dvc"
    source = json.loads(dataset.source)
    assert source["commit"] == version["commit"] and source["path"] == version["path"]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == context
