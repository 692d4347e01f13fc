"""The installed package: the Airflow plugin entry point, and `trainguard demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import DemoFolder

pytestmark = pytest.mark.integration


def test_airflow_loads_the_plugin_from_its_entry_point() -> None:
    """`airflow plugins` lists trainguard with its MLflow-run operator link."""
    airflow = Path(sys.executable).parent / "airflow"
    done = subprocess.run(
        [str(airflow), "plugins", "--output", "json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert "trainguard" in plugins
    described = json.dumps(plugins["trainguard"])
    assert "MLflowRunLink" in described
    assert "/trainguard" in described and "trainguard governance" in described  # the API
    assert "Governance" in described and "governance" in described  # the UI page


def test_demo_runs_the_failed_then_passed_gate(demo_folder: DemoFolder) -> None:
    """`trainguard demo` exits 0 after a failed gate with clauses and a registered model."""
    assert demo_folder.returncode == 0, demo_folder.stdout[-3000:] + demo_folder.stderr[-3000:]
    out = demo_folder.stdout
    pretraining, finetuning = out.split("finetune_gate on revision 'planted'")
    planted, clean = pretraining.split("pretraining_gate on revision 'clean'")
    assert "gate FAILED - training never started" in planted
    assert "Art. 7(2)" in planted and "TC260-003 5.1 c" in planted and "Art. 7(3)" in planted
    assert "train upstream_failed" in planted and "scan_shard 4x success" in planted
    assert "gate PASSED" in clean and "version 1 registered" in clean
    assert "trainguard.gate_run_id = " in clean and "trainguard.dataset.digest = " in clean
    ft_planted, ft_clean = finetuning.split("finetune_gate on revision 'clean'")
    assert "[annotator L07]" in ft_planted and "[batch B04]" in ft_planted
    assert "Art. 8" in ft_planted
    assert "trainguard-demo-finetuned version 1 registered" in ft_clean
    # The release assessment: version 1 fails (it never declines), version 2, fine-tuned
    # through the same gate on the safety-tuning pairs, passes and gets the alias.
    ft_clean, ft_refusals = ft_clean.split("finetune_gate on revision 'refusals'")
    assert "model_assessment of trainguard-demo-finetuned v1: FAIL" in ft_clean
    assert "x assessment.refusal: refusal rate on should-refuse questions 0.0%" in ft_clean
    assert "alias 'assessed'" not in ft_clean
    assert "model_assessment of trainguard-demo-finetuned v2: PASS" in ft_refusals
    assert "alias 'assessed' now points to trainguard-demo-finetuned v2" in ft_refusals
    violations, export = ft_refusals.split("lineage and provenance export")
    violations = violations.split("violations: intake, filter, remediation, deadlines")[1]
    assert violations.count("filtered, deadline") == 2
    assert "output filter on the reported answer: BLOCKED" in violations
    assert "output filter on the mobile_phone: BLOCKED" in violations
    assert "alert: [trainguard] OVERDUE" in violations
    assert violations.count(", before its deadline") == 2
    # Each model family is fixed by its own training DAG (the training contract).
    assert "example_ngram_training SUCCESS: trainguard-demo-ngram v1" in violations
    assert "by dag:example_responder_training; probe PASSED" in violations
    assert "by dag:example_ngram_training; probe PASSED" in violations
    assert "probe FAILED" not in violations and "event chain: intact" in violations
    assert "model_assessment of models:/trainguard-demo-finetuned/3: PASS" in violations
    # The export is of the fine-tuned model's fixed version, which lists what it fixed.
    assert "model trainguard-demo-finetuned version 3" in export and "annotation:" in export
    assert "release assessment" in export and ": PASS, alias 'assessed'" in export
    assert "DAG provenance_export SUCCESS" in export
    assert "verified: intact and signed (Ed25519)" in export
    bundle = demo_folder.path / "exports" / "trainguard-demo-finetuned" / "v3"
    assessment = json.loads((bundle / "assessment.json").read_text())
    assert assessment["decision"] == "pass" and assessment["alias"] == "assessed"
    disclosure = json.loads((bundle / "disclosure.json").read_text())
    assert disclosure["annotation"]["rules"][0]["text"]  # the rules text itself
    [fixed] = disclosure["violations"]
    assert fixed["kind"] == "harmful_output" and fixed["status"] == "closed"
    assert (demo_folder.path / "mlflow.db").exists()


def test_the_commands_the_demo_prints_work_as_printed(demo_folder: DemoFolder) -> None:
    """Each `$ ...` line the demo ends with, run by a shell in a new environment (no
    MLflow or trainguard variables) from the folder the demo ran in: they find the demo's
    stores through its trainguard.toml, and none creates a store."""
    from conftest import clean_env

    assert demo_folder.returncode == 0, demo_folder.stdout[-2000:] + demo_folder.stderr[-2000:]
    commands = [
        line.strip().removeprefix("$ ")
        for line in demo_folder.stdout.splitlines()
        if line.startswith("  $ ")
    ]
    assert len(commands) == 4, demo_folder.stdout[-1500:]
    toml = demo_folder.path / "trainguard.toml"
    assert toml.stat().st_mode & 0o777 == 0o600
    before = sorted(p.name for p in Path.cwd().iterdir())
    outputs = {}
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-1000:]}\n{done.stderr[-1000:]}"
        outputs[command.split()[1]] = done.stdout
    assert "harmful_output" in outputs["violations"]  # the closed harmful answer is listed
    assert "ID" in outputs["violations"].splitlines()[0]  # a table with headers
    assert "model trainguard-demo-finetuned version 3" in outputs["lineage"]
    assert "intact; manifest and signature verify" in outputs["export"]
    assert sorted(p.name for p in Path.cwd().iterdir()) == before  # no mlflow.db here


def test_the_reports_attestation_verifies_with_standard_tools(demo_folder: DemoFolder) -> None:
    """report.html's "how to verify" commands, run as written with the provider's public
    key in the bundle's folder: sha256sum and openssl agree with what the report states."""
    import html
    import re

    assert demo_folder.returncode == 0, demo_folder.stdout[-2000:] + demo_folder.stderr[-2000:]
    bundle = demo_folder.path / "exports" / "trainguard-demo-finetuned" / "v3"
    public_key = demo_folder.path / "keys" / "export-signing.pem.pub"
    page = (bundle / "report.html").read_text(encoding="utf-8")
    attestation = page[: page.index("<h2>Gate decisions</h2>")]
    assert "Airflow provenance_export, run " in attestation  # who exported it
    assert "datasets/finetuning@planted" in attestation  # the earlier failed gate
    assert "probe passed: " in page and "closed on time" in page  # remediation evidence
    evidence = re.search(r"evidence sha256</th><td><code>([0-9a-f]{64})", attestation)
    key_id = re.search(r"key id <code>([0-9a-f]{16})", attestation)
    assert evidence and key_id
    commands = html.unescape(attestation.split("<pre>", 1)[1].split("</pre>", 1)[0])
    trainguard_cli = str(Path(sys.executable).parent / "trainguard")
    outputs = []
    for line in commands.strip().splitlines():
        command = line.replace("KEY.pub", str(public_key)).replace(
            "trainguard export", f"{trainguard_cli} export"
        )
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, cwd=bundle, check=False
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs.append(done.stdout + done.stderr)
    joined = "\n".join(outputs)
    assert evidence.group(1) in joined and key_id.group(1) in joined
    assert "Signature Verified Successfully" in joined
    assert "intact; manifest and signature verify" in joined


def test_airflow_reads_the_trainguard_options_from_the_provider_entry_point() -> None:
    """`airflow providers list` names trainguard and `airflow config get-value` finds the
    [trainguard] defaults it declares, with nothing in airflow.cfg."""
    airflow = Path(sys.executable).parent / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__TRAINGUARD__")}
    done = subprocess.run(
        [str(airflow), "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trainguard" in {p["package_name"] for p in json.loads(done.stdout)}
    value = subprocess.run(
        [str(airflow), "config", "get-value", "trainguard", "reviewer_roles"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert value.returncode == 0, value.stderr[-2000:]
    assert value.stdout.strip() == "op, admin"
