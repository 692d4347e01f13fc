"""Lineage for reviewers, the provenance bundle for auditors, waivers and OpenLineage (Art. 17).

All on the real stack: the model version the clean pretraining gate registered, read back
from the MLflow store through the CLI, the export DAG and the stock MLflow client.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trainguard.contract import load_dataset
from trainguard.export.bundle import MANIFEST, SIGNATURE
from trainguard.local.demo_data import PRETRAINING, DemoRepo
from trainguard.pipeline import workspace
from trainguard.versioning import DatasetVersion, fetch_version

from conftest import (
    MODEL_NAME,
    OPENLINEAGE_EVENTS,
    WAIVED_MODEL,
    WORKDIR,
    Stack,
    assert_no_canary,
    plant_canaries,
)

pytestmark = pytest.mark.integration
BUNDLE_FILES = {
    "disclosure.json",
    "prov.json",
    "spdx.json",
    "assessment.json",
    "report.html",
    "checks.csv",
    "violations.csv",
    MANIFEST,
    SIGNATURE,
}


def trainguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "trainguard"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def mlflow_client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


@pytest.fixture(scope="module")
def model_version(clean_run: Any) -> str:
    return clean_run.xcom("train")["model_version"]


@pytest.fixture(scope="module")
def lineage(model_version: str) -> dict[str, Any]:
    done = trainguard("lineage", MODEL_NAME, model_version, "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def bundle(model_version: str) -> Path:
    out = WORKDIR / "exports" / "cli-1"
    done = trainguard("export", MODEL_NAME, model_version, "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    # Not a terminal: a plain line per finished phase, on stderr (stdout is the result).
    phases = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in phases] == ["[1/3", "[2/3", "[3/3"], done.stderr
    assert all("done in" in line for line in phases) and "wrote" in done.stdout
    return out


def test_lineage_leads_from_the_model_to_every_source_and_finding(
    clean_run: Any, lineage: dict[str, Any], model_version: str
) -> None:
    version = DatasetVersion.from_dict(clean_run.xcom("resolve_dataset_version"))
    trained, gate = clean_run.xcom("train"), clean_run.xcom("gate")
    assert lineage["model"]["uri"] == f"models:/{MODEL_NAME}/{model_version}"
    assert lineage["training_run"]["run_id"] == trained["run_id"]
    assert [g["run_id"] for g in lineage["gate_runs"]] == [gate["gate_run_id"]]
    [dataset] = lineage["datasets"]
    assert (dataset["md5"], dataset["commit"], dataset["path"]) == (
        version.md5,
        version.commit,
        PRETRAINING,
    )
    registry = load_dataset(fetch_version(version, workspace())).sources
    assert {s["id"]: (s["kind"], s["license"]) for s in dataset["sources"]} == {
        sid: (s.kind.value, s.license) for sid, s in registry.items()
    }
    assert all(s["missing_evidence"] == [] and s["records"] > 0 for s in dataset["sources"])
    assert sum(s["records"] for s in dataset["sources"]) == dataset["scale"]["records"]
    findings = lineage["gate_runs"][0]["findings"]
    logged = json.loads(
        Path(
            mlflow_client().download_artifacts(
                gate["gate_run_id"], "findings.json", str(WORKDIR / "dl")
            )
        ).read_text()
    )
    assert findings == logged["findings"] and len(findings) > 20
    assert lineage["gate_runs"][0]["data_docs"].endswith("data_docs/index.html")
    assert lineage["waivers"] == [] and lineage["violations_fixed"] == []

    text = trainguard("lineage", MODEL_NAME, model_version)
    assert text.returncode == 0, text.stderr
    for source_id in registry:
        assert f"source {source_id}:" in text.stdout
    assert f"gate run {gate['gate_run_id']}: PASS" in text.stdout
    assert "Downloading artifacts" not in text.stderr  # no progress-bar noise


def test_the_stock_mlflow_ui_shows_the_same_walk(clean_run: Any, model_version: str) -> None:
    """Model version description links the runs; runs carry notes, inputs and tags."""
    client = mlflow_client()
    trained, gate = clean_run.xcom("train"), clean_run.xcom("gate")
    registered = client.get_model_version(MODEL_NAME, model_version)
    assert f"/runs/{trained['run_id']})" in registered.description
    assert f"/runs/{gate['gate_run_id']})" in registered.description
    training = client.get_run(trained["run_id"])
    assert f"/runs/{gate['gate_run_id']})" in training.data.tags["mlflow.note.content"]
    assert training.data.params["lib.scikit-learn"].startswith("1.9")
    gate_run = client.get_run(gate["gate_run_id"])
    assert gate_run.data.tags["mlflow.note.content"].startswith("Gate **PASS**")
    assert gate_run.data.tags["trainguard.waivers"] == "none"
    [dataset_input] = gate_run.inputs.dataset_inputs
    assert dataset_input.dataset.source_type == "dvc"
    logged_model = client.get_logged_model(registered.tags["trainguard.logged_model_id"])
    assert logged_model.tags["trainguard.gate_run_id"] == gate["gate_run_id"]


def evidence_digest(folder: Path) -> str:
    """sha256 of the manifest lines of every file but report.html: what the report's
    attestation names as the evidence (`grep -v '  report.html$' MANIFEST.sha256 | sha256sum`)."""
    import hashlib

    lines = (folder / "MANIFEST.sha256").read_bytes().splitlines(keepends=True)
    return hashlib.sha256(
        b"".join(x for x in lines if not x.endswith(b"  report.html\n"))
    ).hexdigest()


def test_the_bundle_is_complete_deterministic_and_verifies(
    bundle: Path, model_version: str
) -> None:
    """Two exports of one version hold the same evidence, byte for byte; only report.html's
    attestation (who exported it, when) and so the manifest and signature differ."""
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    again = WORKDIR / "exports" / "cli-2"
    assert trainguard("export", MODEL_NAME, model_version, "--out", str(again)).returncode == 0
    for name in BUNDLE_FILES - {"report.html", "MANIFEST.sha256", "MANIFEST.sig"}:
        assert (bundle / name).read_bytes() == (again / name).read_bytes(), name
    assert evidence_digest(bundle) == evidence_digest(again)
    assert evidence_digest(bundle) in (bundle / "report.html").read_text(encoding="utf-8")
    verified = trainguard("export", "verify", str(bundle))
    assert verified.returncode == 0, verified.stderr
    refused = trainguard("export", MODEL_NAME, model_version, "--out", str(bundle))
    assert refused.returncode == 2 and "is not empty" in refused.stderr


def test_every_one_byte_change_is_caught_and_named(bundle: Path, tmp_path: Path) -> None:
    for name in sorted(BUNDLE_FILES):
        copy = tmp_path / name
        shutil.copytree(bundle, copy)
        content = bytearray((copy / name).read_bytes())
        content[len(content) // 3] ^= 0x20
        (copy / name).write_bytes(bytes(content))
        done = trainguard("export", "verify", str(copy))
        assert done.returncode == 1, name
        named = SIGNATURE if name == MANIFEST else name
        assert f"{copy}/{named}:" in done.stderr, (name, done.stderr)


def test_the_disclosure_answers_article_17(bundle: Path, lineage: dict[str, Any]) -> None:
    disclosure = json.loads((bundle / "disclosure.json").read_text())
    [dataset] = disclosure["datasets"]
    assert dataset["version"]["dvc_md5"] == lineage["datasets"][0]["md5"]
    assert dataset["type"]["stage"] == "pretraining"
    assert set(dataset["type"]["records_by_detected_language"]) >= {"zh", "en"}
    assert dataset["scale"]["records"] > 20_000 and dataset["scale"]["bytes"] > 0
    for source in dataset["sources"]:
        assert set(source["scale"]) == {"records", "characters", "bytes"}
        assert {"harmful_rate", "pi_found", "near_duplicates"} <= set(source["quality"])
        # The traceability evidence its kind requires (synthetic data requires none).
        assert source["evidence"] or source["kind"] == "synthetic", source["id"]
    algorithm = disclosure["foundational_algorithm"]
    assert algorithm["model_class"] == "NearestNeighbourResponder"
    assert "scikit-learn" in algorithm["libraries"]
    assert disclosure["gate_decisions"][0]["decision"] == "pass"
    assert disclosure["gate_decisions"][0]["policy_profile"] == "development"
    assert disclosure["gate_decisions"][0]["deviations"] == []
    assert disclosure["provider"] == "Demo Generative Services Co. (fictitious)"
    checks = (bundle / "checks.csv").read_text().splitlines()
    assert len(checks) == 1 + len(lineage["gate_runs"][0]["findings"])
    html = (bundle / "report.html").read_text()
    assert "<svg" in html and "<script" not in html
    for heading in (
        "Findings by clause",
        "Data composition",
        "Annotation",
        "Violation history",
        "Records by licence",
        "Deviations from the standard",
    ):
        assert heading in html


def test_prov_reads_back_with_the_prov_package(bundle: Path, lineage: dict[str, Any]) -> None:
    from prov.model import ProvActivity, ProvAgent, ProvDocument, ProvEntity

    document = ProvDocument.deserialize(source=str(bundle / "prov.json"), format="json")
    records = document.get_records()
    entities = {str(r.identifier) for r in records if isinstance(r, ProvEntity)}
    activities = {str(r.identifier) for r in records if isinstance(r, ProvActivity)}
    agents = {str(r.identifier) for r in records if isinstance(r, ProvAgent)}
    model = lineage["model"]
    assert f"tg:model/{model['name']}/{model['version']}" in entities
    assert f"tg:dataset/{lineage['datasets'][0]['md5']}" in entities
    assert {f"tg:source/{s['id']}" for s in lineage["datasets"][0]["sources"]} <= entities
    assert f"tg:gate/{lineage['gate_runs'][0]['run_id']}" in activities
    assert f"tg:training/{lineage['training_run']['run_id']}" in activities
    assert "tg:airflow/pretraining_gate" in agents


def test_spdx_has_the_ai_and_dataset_profile_fields(bundle: Path) -> None:
    import io

    from spdx_python_model import v3_0_1 as spdx

    from trainguard.export.documents import AI_REQUIRED, DATASET_REQUIRED

    document = json.loads((bundle / "spdx.json").read_text())
    graph = {node.get("spdxId", node.get("@id")): node for node in document["@graph"]}
    [ai] = [n for n in graph.values() if n["type"] == "ai_AIPackage"]
    datasets = [n for n in graph.values() if n["type"] == "dataset_DatasetPackage"]
    assert all(field in ai for field in AI_REQUIRED)
    for dataset in datasets:
        assert all(field in dataset for field in DATASET_REQUIRED), dataset["name"]
        assert dataset["dataset_hasSensitivePersonalInformation"] in ("yes", "no")
    [version] = [d for d in datasets if d["spdxId"].split(":")[-2] == "dataset"]
    for field in (
        "dataset_dataCollectionProcess",
        "dataset_anonymizationMethodUsed",
        "dataset_knownBias",
    ):
        assert version[field], field
    relations = [n for n in graph.values() if n["type"] == "Relationship"]
    assert any(
        r["from"] == ai["spdxId"]
        and r["relationshipType"] == "trainedOn"
        and r["to"] == [version["spdxId"]]
        for r in relations
    )
    assert any(
        r["from"] == ai["spdxId"] and r["relationshipType"] == "hasConcludedLicense"
        for r in relations
    )
    # An independent reader: the SPDX 3.0.1 bindings parse it, resolve every reference
    # and serialise it again (which enforces every required property).
    objects = spdx.SHACLObjectSet()
    with (bundle / "spdx.json").open() as handle:
        spdx.JSONLDDeserializer().read(handle, objects)
    assert objects.link() == set()
    spdx.JSONLDSerializer().write(objects, io.BytesIO())


def test_the_export_dag_writes_the_same_bundle(bundle: Path, model_version: str) -> None:
    from trainguard.local.dagrun import run_dag

    out = WORKDIR / "exports" / "dag"
    result = run_dag(
        "provenance_export",
        {"model_name": MODEL_NAME, "model_version": model_version, "out": str(out)},
        log_file=WORKDIR / "task-logs.txt",
    )
    assert result.state == "success", result.summary()
    written = result.xcom("export_bundle")
    assert (
        written["manifest_sha256"] == json.loads((out / SIGNATURE).read_text())["manifest_sha256"]
    )
    assert evidence_digest(out) == evidence_digest(bundle)  # the same evidence as the CLI's
    assert (
        "exported by</th><td>Airflow provenance_export, run " in (out / "report.html").read_text()
    )
    assert trainguard("export", "verify", str(out)).returncode == 0


def test_export_fails_closed_with_clear_errors(model_version: str, tmp_path: Path) -> None:
    unknown = trainguard("export", MODEL_NAME, "999", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "no registered model" in unknown.stderr
    no_key = trainguard(
        "export",
        MODEL_NAME,
        model_version,
        "--out",
        str(tmp_path / "y"),
        env={"TRAINGUARD_EXPORT_KEY": ""},
    )
    assert no_key.returncode == 2 and "no signing key" in no_key.stderr
    down = trainguard(
        "lineage",
        MODEL_NAME,
        model_version,
        env={
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        },
    )
    assert down.returncode == 2 and "MLflow at http://127.0.0.1:9 could not" in down.stderr
    for done in (unknown, no_key, down):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_openlineage_events_carry_the_governance_facets(planted_run: Any, clean_run: Any) -> None:
    events = [json.loads(line) for line in OPENLINEAGE_EVENTS.read_text().splitlines()]
    gate_events = {
        e["run"]["facets"]["trainguard_gate"]["mlflowRunId"]: e
        for e in events
        if "trainguard_gate" in e["run"].get("facets", {})
    }
    failed = gate_events[planted_run.xcom("gate", "gate_failed")["gate_run_id"]]
    passed = gate_events[clean_run.xcom("gate")["gate_run_id"]]
    assert failed["eventType"] == "FAIL" and passed["eventType"] == "COMPLETE"
    assert failed["run"]["facets"]["trainguard_gate"]["decision"] == "fail"
    assert "Art. 7(3)" in failed["run"]["facets"]["trainguard_gate"]["failedClauses"]
    assert passed["run"]["facets"]["trainguard_gate"]["failedClauses"] == []
    version = clean_run.xcom("resolve_dataset_version")
    [dataset] = passed["inputs"]
    assert dataset["name"] == PRETRAINING
    assert dataset["facets"]["version"]["datasetVersion"] == f"{version['commit']}:{version['md5']}"
    governance = dataset["facets"]["trainguard_governance"]
    assert governance["licenses"]["zh-wiki"] == "CC-BY-SA-4.0"
    assert set(governance["piKindsCovered"]) <= set(governance["piKindsFound"])
    planted_governance = failed["inputs"][0]["facets"]["trainguard_governance"]
    assert sum(planted_governance["piKindsFound"].values()) > sum(
        planted_governance["piKindsCovered"].values()
    )  # the planted unconsented PI
    trained = clean_run.xcom("train")
    outputs = [
        o["name"] for e in events if e["eventType"] == "COMPLETE" for o in e.get("outputs", [])
    ]
    assert f"models/{MODEL_NAME}/{trained['model_version']}" in outputs


def test_a_waiver_admits_the_canary_revision_and_the_export_carries_no_pi(
    stack: Stack, small_repo: DemoRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waive the canary source's PI findings: the gate passes, the waiver reaches MLflow,
    the lineage and the bundle, and no canary PI value appears anywhere in the bundle."""
    store = tmp_path / "waivers.jsonl"
    monkeypatch.setenv("TRAINGUARD_WAIVERS", str(store))
    plant_canaries(small_repo.repo, "canary-waived")
    # The operator's policy with one listed deviation, which must travel with the decision.
    governance = small_repo.policy.parent
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        small_repo.policy.read_text(encoding="utf-8")
        .replace("classifier_examples.csv", str(governance / "classifier_examples.csv"))
        .replace("optout.jsonl", str(governance / "optout.jsonl"))
        + "keywords:\n  min_terms: 5000\ndeviations:\n"
        "  - {setting: keywords.min_terms, value: 5000, reason: lexicon under review}\n",
        encoding="utf-8",
    )
    blocked = stack.run_gate(
        "canary-waived",
        repo=small_repo.repo,
        policy=str(policy),
        model_name=WAIVED_MODEL,
    )
    failed = blocked.xcom("gate", "gate_failed")["failed"]
    assert any(f["check"] == "pi.consent" and f["source_id"] == "news-crawl" for f in failed)
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    for check, source in sorted({(f["check"], f["source_id"] or "") for f in failed}):
        granted = trainguard(
            "waiver",
            "add",
            "--check",
            check,
            "--source",
            source,
            "--by",
            "reviewer-li",
            "--reason",
            "subjects being contacted",
            "--until",
            until,
            "--policy",
            str(policy),
        )
        assert granted.returncode == 0, granted.stderr

    admitted = stack.run_gate(
        "canary-waived",
        repo=small_repo.repo,
        policy=str(policy),
        model_name=WAIVED_MODEL,
    )
    assert admitted.state == "success", admitted.summary()
    trained = admitted.xcom("train")
    gate_run = mlflow_client().get_run(admitted.xcom("gate")["gate_run_id"])
    assert gate_run.data.tags["trainguard.waivers"] != "none"
    assert "WAIVED" in gate_run.data.tags["mlflow.note.content"]
    assert gate_run.data.tags["trainguard.policy.profile"] == "development"
    assert gate_run.data.tags["trainguard.policy.deviations"] == "keywords.min_terms"

    lineage = json.loads(
        trainguard("lineage", WAIVED_MODEL, trained["model_version"], "--format", "json").stdout
    )
    assert {w["check"] for w in lineage["waivers"]} == {f["check"] for f in failed}
    waived = [f for f in lineage["gate_runs"][0]["findings"] if f["status"] == "waived"]
    assert {f["check"] for f in waived} == {f["check"] for f in failed}
    # In Chinese, the waived findings the tree lists read in Chinese, under the clauses'
    # official titles; the tree's own words and the check ids stay as written.
    chinese = trainguard("lineage", WAIVED_MODEL, trained["model_version"], "--lang", "zh")
    listed = [line for line in chinese.stdout.splitlines() if " WAIVED " in line]
    assert len(listed) == len(waived), chinese.stdout[-2000:]
    assert all("Art." not in line and re.search("[\u4e00-\u9fff]", line) for line in listed), listed
    assert any("《办法》第七条第（三）项" in line for line in listed), listed  # pi.consent
    [deviation] = lineage["gate_runs"][0]["deviations"]
    assert deviation == {
        "setting": "keywords.min_terms",
        "value": 5000,
        "standard": 10000,
        "reason": "lexicon under review",
        "clause": "TC260-003 8",
        "certainty": "S",
    }
    out = tmp_path / "bundle"
    exported = trainguard("export", WAIVED_MODEL, trained["model_version"], "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    disclosure = json.loads((out / "disclosure.json").read_text())
    assert len(disclosure["waivers"]) == len({(f["check"], f["source_id"]) for f in failed})
    assert disclosure["gate_decisions"][0]["waived"]
    assert disclosure["gate_decisions"][0]["policy_profile"] == "development"
    assert disclosure["gate_decisions"][0]["deviations"] == [deviation]
    report = (out / "report.html").read_text()
    assert "waiver" in report.lower()
    assert "keywords.min_terms" in report and "lexicon under review" in report
    outputs = {p.name: p.read_text() for p in out.iterdir()}
    assert "canary-0" in outputs["checks.csv"]  # the records are named by id ...
    assert_no_canary(outputs)  # ... and never by their values


def test_spdx_statements_follow_the_gates_findings(bundle: Path, lineage: dict[str, Any]) -> None:
    """Every PI statement in spdx.json and disclosure.json is what the gate found, read
    here independently from the gate run's metrics and per-source tables in MLflow."""
    [gate] = lineage["gate_runs"]
    sensitive = set(gate["policy"]["personal_info"]["sensitive_kinds"])
    by_kind: dict[str, int] = {}
    for key, value in gate["metrics"].items():
        if key.startswith(("gate.pi.covered.", "gate.pi.uncovered.")) and value:
            kind = key.rsplit(".", 1)[-1]
            by_kind[kind] = by_kind.get(kind, 0) + int(value)
    # The demo's pre-training data holds resident IDs and bank cards (with consent).
    assert {"resident_id", "bank_card"} <= set(by_kind) & sensitive
    sources = {row["source_id"]: row for row in gate["tables"]["sources"]}
    assert sum(by_kind.values()) == sum(row["pi_found"] for row in sources.values())

    document = json.loads((bundle / "spdx.json").read_text())
    nodes = [n for n in document["@graph"] if "type" in n]
    [ai] = [n for n in nodes if n["type"] == "ai_AIPackage"]
    assert ai["ai_useSensitivePersonalInformation"] == "yes"
    assert any(gate["run_id"] in s and "gate pass" in s for s in ai["ai_standardCompliance"])
    datasets = [n for n in nodes if n["type"] == "dataset_DatasetPackage"]
    [version] = [d for d in datasets if d["spdxId"].split(":")[-2] == "dataset"]
    assert version["dataset_hasSensitivePersonalInformation"] == "yes"
    [handling] = version["dataset_anonymizationMethodUsed"]
    assert f"of {sum(by_kind.values())} value(s) with valid consent" in handling
    for node in datasets:
        if node["spdxId"].split(":")[-3:-2] != ["source"]:
            continue
        row = sources[node["name"]]
        kinds = {item.rsplit(" ", 1)[0] for item in row["pi_found_kinds"].split(", ") if item}
        assert node["dataset_hasSensitivePersonalInformation"] == (
            "yes" if kinds & sensitive else "no"
        ), node["name"]
    [stated] = json.loads((bundle / "disclosure.json").read_text())["datasets"]
    assert stated["personal_information"]["found_by_kind"] == dict(sorted(by_kind.items()))
