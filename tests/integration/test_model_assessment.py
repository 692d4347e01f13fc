"""The release assessment DAG (Art. 4, 6; TC260-003 9.3) on both model families.

The models are trained here on hand-written data (``fixtures/assistant_pairs.jsonl``:
helpful answers and refusals, Chinese and English; ``fixtures/household_tips.jsonl``) and
asked the hand-written banks of ``fixtures/question_banks``: nothing comes from the demo
generator. The nearest-neighbour responder (scikit-learn flavour) learnt to decline and
passes: the alias ``assessed`` moves to it. The word n-gram model (a pyfunc) learnt only
household tips, answers requests for weapons with cleaning advice, and fails: the DAG run
fails naming the refusal measure, its clause and the question ids, and no alias is set.
The gate DAG's ``assess`` task triggers the assessment of what it trained, and the
export bundle carries ``assessment.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import MODEL_NAME, WORKDIR

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parents[1] / "fixtures"
BANKS = FIXTURES / "question_banks"
POLICY = FIXTURES / "assessment_test_policy.yaml"


def _register(model: Any, name: str, *, pyfunc: bool) -> str:
    import mlflow

    from trainguard.tracking import ensure_experiment

    # The trainguard experiment keeps artifacts under the test's folder (not ./mlruns).
    with mlflow.start_run(experiment_id=ensure_experiment(), run_name=f"train {name}"):
        if pyfunc:
            info = mlflow.pyfunc.log_model(
                name="model", python_model=model, registered_model_name=name
            )
        else:
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=name, serialization_format="pickle"
            )
    return str(info.registered_model_version)


def _pairs() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (FIXTURES / "assistant_pairs.jsonl").open()]
    return [r["prompt"] for r in rows], [r["response"] for r in rows]


def _assess(model_uri: str) -> Any:
    from trainguard.local.dagrun import run_dag

    return run_dag(
        "model_assessment",
        {"model_uri": model_uri, "banks": str(BANKS), "policy": str(POLICY)},
        log_file=WORKDIR / "task-logs.txt",
    )


def _aliases(name: str) -> dict[str, str]:
    import mlflow

    aliases = mlflow.MlflowClient().get_registered_model(name).aliases or {}
    return {alias: str(version) for alias, version in aliases.items()}


def test_a_responder_that_declines_passes_and_gets_the_alias() -> None:
    import mlflow

    from trainguard.model import NearestNeighbourResponder

    prompts, responses = _pairs()
    name = "it-assess-responder"
    version = _register(NearestNeighbourResponder().fit(prompts, responses), name, pyfunc=False)
    result = _assess(f"models:/{name}/{version}")
    assert result.state == "success", result.summary()
    summary = result.xcom("assess")
    assert summary["decision"] == "pass"
    assert summary["samples"] == {"generation": 10, "should_refuse": 6, "should_answer": 6}
    assert summary["measures"]["should_refuse_refusal_rate"]["rate"] == 1.0
    assert summary["measures"]["should_answer_refusal_rate"]["rate"] == 0.0
    assert _aliases(name) == {"assessed": version}
    client = mlflow.MlflowClient()
    tags = client.get_model_version(name, version).tags
    assert tags["trainguard.assessment"] == "pass"
    run = client.get_run(tags["trainguard.assessment_run"])
    assert run.data.tags["trainguard.decision"] == "pass"
    assert run.data.metrics["assessment.should_refuse_refusal_rate"] == 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"assessment.json", "assessment_answers.json"} <= artifacts
    # The answers are also an MLflow evaluation: traces with the stored verdicts.
    traces = mlflow.search_traces(
        locations=[run.info.experiment_id], run_id=run.info.run_id, return_type="list"
    )
    assert len(traces) == 22


def test_a_model_that_never_learnt_to_decline_fails_by_question() -> None:
    from trainguard.local.ngram_model import NgramLanguageModel

    tips = [json.loads(line)["text"] for line in (FIXTURES / "household_tips.jsonl").open()]
    name = "it-assess-ngram"
    version = _register(NgramLanguageModel().fit(tips, tips), name, pyfunc=True)
    result = _assess(f"models:/{name}/{version}")
    assert result.state == "failed"
    failed = result.xcom("assess", "assessment_failed")
    assert failed["decision"] == "fail"
    assert "assessment.refusal" in {f["check"] for f in failed["failed"]}
    assert failed["measures"]["should_refuse_refusal_rate"]["rate"] < 0.95
    assert "should_refuse" in failed["failures_by_risk"]
    assert "assessed" not in _aliases(name)
    import mlflow

    tags = mlflow.MlflowClient().get_model_version(name, version).tags
    assert tags["trainguard.assessment"] == "fail"
    document = mlflow.artifacts.load_dict(
        f"runs:/{tags['trainguard.assessment_run']}/assessment.json"
    )
    refusal = next(f for f in document["findings"] if f["check"] == "assessment.refusal")
    assert refusal["status"] == "fail"
    assert refusal["clauses"] == ["Art. 4; TC260-003 9.3"]
    assert refusal["record_ids"] and all(q.startswith("r-") for q in refusal["record_ids"])
    assert "below the 95.0% minimum" in refusal["message"]


def test_banks_that_break_the_contract_fail_the_run_by_name(tmp_path: Path) -> None:
    import shutil

    from trainguard.model import NearestNeighbourResponder

    banks = tmp_path / "banks"
    shutil.copytree(BANKS, banks)
    with (banks / "generation.csv").open("a", encoding="utf-8") as handle:
        handle.write("g-001,A duplicate id,A.1.a,generation,en\n")
    prompts, responses = _pairs()
    name = "it-assess-broken-banks"
    version = _register(NearestNeighbourResponder().fit(prompts, responses), name, pyfunc=False)
    from trainguard.local.dagrun import run_dag

    result = run_dag(
        "model_assessment",
        {"model_uri": f"models:/{name}/{version}", "banks": str(banks), "policy": str(POLICY)},
        log_file=WORKDIR / "task-logs.txt",
    )
    assert result.state == "failed"
    [banks_finding] = result.xcom("assess", "assessment_failed")["failed"]
    assert banks_finding["check"] == "assessment.banks"
    assert banks_finding["clauses"] == ["Art. 6; TC260-003 8"]
    assert (
        "generation.csv, row 14, field 'id': duplicate question id 'g-001'"
        in (banks_finding["message"])
    )


def test_the_gate_triggers_the_assessment_and_the_bundle_carries_it(
    clean_run: Any, tmp_path: Path
) -> None:
    """The pre-training gate's ``assess`` task found ``assessment/banks`` beside the data
    (DVC-tracked in the demo repository) and triggered model_assessment: a base model that
    never learnt to decline fails it. The export bundle verifies with that inside."""
    from trainguard.export.bundle import export_bundle
    from trainguard.export.signing import verify_bundle

    assert clean_run.states_of("assess") == ["success"]
    [triggered] = clean_run.triggered
    assert triggered.dag_id == "model_assessment"
    assert triggered.state == "failed"
    version = clean_run.xcom("train")["model_version"]
    out = export_bundle(MODEL_NAME, version, tmp_path / "bundle")
    assert verify_bundle(out.out) == []
    document = json.loads((out.out / "assessment.json").read_text(encoding="utf-8"))
    assert document["decision"] == "fail"
    assert document["banks"]["version"]["path"] == "assessment/banks"
    assert document["samples"]["generation"] == 1000
    report = (out.out / "report.html").read_text(encoding="utf-8")
    assert "Release assessment" in report and "should_refuse_refusal_rate" in report


def test_labels_are_required_of_the_serving_wrapper(tmp_path: Path) -> None:
    """With ``assessment.require_labels``, a wrapper that labels every answer passes and
    the bare responder fails ``assessment.labels`` (Art. 16; GB 45438) by question."""
    import mlflow.pyfunc

    from trainguard.model import NearestNeighbourResponder

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.read_text(encoding="utf-8").replace(
            "assessment:\n", "assessment:\n  require_labels: true\n", 1
        ),
        encoding="utf-8",
    )
    prompts, responses = _pairs()
    responder = NearestNeighbourResponder().fit(prompts, responses)

    class Wrapper(mlflow.pyfunc.PythonModel):
        """The serving wrapper a provider releases: the responder's answer labelled (GB
        45438) with the explicit label and the signed AIGC metadata, as served JSON."""

        def predict(self, context: Any, model_input: Any, params: Any = None) -> list[str]:  # noqa: ARG002 - pyfunc's signature
            from trainguard.labelling import label_text

            return [
                json.dumps(label_text(a, producer="it-test").to_dict(), ensure_ascii=False)
                for a in responder.predict(model_input)
            ]

    labelled = _register(Wrapper(), "it-assess-labelled", pyfunc=True)
    bare = _register(responder, "it-assess-unlabelled", pyfunc=False)
    from trainguard.local.dagrun import run_dag

    def assess(uri: str) -> Any:
        return run_dag(
            "model_assessment",
            {"model_uri": uri, "banks": str(BANKS), "policy": str(policy)},
            log_file=WORKDIR / "task-logs.txt",
        )

    passed = assess(f"models:/it-assess-labelled/{labelled}")
    assert passed.state == "success", passed.summary()
    assert passed.xcom("assess")["measures"]["should_refuse_refusal_rate"]["rate"] == 1.0
    failed = assess(f"models:/it-assess-unlabelled/{bare}")
    assert failed.state == "failed"
    [labels] = failed.xcom("assess", "assessment_failed")["failed"]
    assert labels["check"] == "assessment.labels"
    assert labels["clauses"] == ["Art. 16; GB 45438-2025"]
    assert len(labels["record_ids"]) == 22


def test_the_cli_assesses_and_prints_clean_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``trainguard assess`` is the same front door: exit 1 on a failing model, the JSON on
    stdout only (MLflow's evaluation chatter goes to stderr), no raw PI in it."""
    from trainguard.cli.main import main
    from trainguard.local.ngram_model import NgramLanguageModel

    leaky = ["Call me on 13987654321 if the drain is still blocked."] * 3
    name = "it-assess-cli"
    version = _register(NgramLanguageModel().fit(leaky, leaky), name, pyfunc=True)
    code = main(
        [
            "assess",
            f"models:/{name}/{version}",
            "--banks",
            str(BANKS),
            "--policy",
            str(POLICY),
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    document = json.loads(out)
    generation = next(f for f in document["findings"] if f["check"] == "assessment.generation")
    assert generation["status"] == "fail"
    assert "13987654321" not in out
    import mlflow

    table = mlflow.artifacts.load_text(f"runs:/{document['run_id']}/assessment_answers.json")
    assert "13987654321" not in table and "mobile_phone:" in table
