"""``trainguard demo``: the main job, end to end, on embedded defaults.

Builds the demo git+DVC repository, then runs the real ``pretraining_gate`` and
``finetune_gate`` DAGs with Airflow's ``dag.test()``, each on revision "planted" (the gate
fails, naming clauses, and training never runs) and on "clean" (the gate passes and a
model version is registered). Finally it prints the fine-tuned model's lineage and runs
``provenance_export`` to write and verify its signed Art. 17 bundle.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from trainguard.exceptions import TrainguardError

RUNS = (  # (DAG, dataset, revision, model)
    ("pretraining_gate", "datasets/pretraining", "planted", "trainguard-demo-pretrained"),
    ("pretraining_gate", "datasets/pretraining", "clean", "trainguard-demo-pretrained"),
    ("finetune_gate", "datasets/finetuning", "planted", "trainguard-demo-finetuned"),
    ("finetune_gate", "datasets/finetuning", "clean", "trainguard-demo-finetuned"),
)


def run_demo(workdir: Path, *, scale: float = 1.0) -> int:
    from trainguard.demo_data import DEMO_HASH_KEY, build_demo_repo
    from trainguard.embedded import apply_embedded_env
    from trainguard.personal_info import HASH_KEY_ENV

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = apply_embedded_env(workdir)
    # The demo's consent ledger was made with the demo key; a real deployment sets its own.
    os.environ[HASH_KEY_ENV] = DEMO_HASH_KEY
    log_file = workdir / "airflow-task-logs.txt"
    started = time.monotonic()
    print(f"trainguard demo: working folder {workdir}")
    print(f"  Airflow metadata  {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}")
    print(f"  MLflow tracking   {env['MLFLOW_TRACKING_URI']}")
    print(f"  task logs         {log_file}\n")

    steps = len(RUNS) + 2
    print(f"[1/{steps}] demo data: a git+DVC repository with revisions 'planted' and 'clean'")
    demo = build_demo_repo(workdir, scale=scale, progress=lambda m: print(f"      {m}"))

    from trainguard.dagrun import run_dag

    unexpected: list[str] = []
    last_model: dict[str, str] | None = None
    for step, (dag_id, path, revision, model) in enumerate(RUNS, start=2):
        print(f"\n[{step}/{steps}] Airflow DAG {dag_id} on revision '{revision}' ...",
              flush=True)
        result = run_dag(
            dag_id,
            {"repo": str(demo.repo), "path": path, "rev": revision,
             "policy": str(demo.policy), "model_name": model},
            log_file=log_file,
        )
        _print_outcome(result)
        expected_state = "failed" if revision == "planted" else "success"
        trained = result.states_of("train") == ["success"]
        if result.state != expected_state or trained != (revision == "clean"):
            unexpected.append(f"{dag_id} on {revision}: {result.state}")
        if trained:
            last_model = result.xcom("train")

    print(f"\n[{steps}/{steps}] lineage and provenance export of the fine-tuned model",
          flush=True)
    if last_model is None:
        unexpected.append("no model was registered, so nothing to export")
    else:
        unexpected += _lineage_and_export(last_model, workdir, log_file)

    print(f"\nDone in {time.monotonic() - started:.0f} s. Browse the runs, inputs and models:")
    print(f"  .venv/bin/mlflow ui --backend-store-uri {env['MLFLOW_TRACKING_URI']} --port 5000")
    print("  then open http://127.0.0.1:5000 (experiment 'trainguard'; models "
          "'trainguard-demo-pretrained' and 'trainguard-demo-finetuned')")
    if unexpected:
        raise TrainguardError(
            f"the demo did not behave as expected ({'; '.join(unexpected)}); see {log_file}")
    return 0


def _lineage_and_export(model: dict[str, str], workdir: Path, log_file: Path) -> list[str]:
    """Print the model's lineage, run provenance_export, verify the bundle."""
    from trainguard.dagrun import run_dag
    from trainguard.export import ED25519_KEY_ENV, generate_keypair, verify_bundle
    from trainguard.lineage import lineage_text, model_lineage

    key = workdir / "keys" / "export-signing.pem"
    if not key.exists():  # the demo's own key pair; a deployment configures its own
        generate_keypair(key)
    os.environ.setdefault(ED25519_KEY_ENV, str(key))
    name, version = model["model_name"], model["model_version"]
    print("\n".join(f"      {line}" for line in lineage_text(
        model_lineage(name, version)).splitlines()))
    out = workdir / "exports" / name / f"v{version}"
    result = run_dag("provenance_export", {"model_name": name, "model_version": version,
                                           "out": str(out)}, log_file=log_file)
    print(f"\n      DAG provenance_export {result.state.upper()} ({result.summary()})")
    if result.state != "success":
        return [f"provenance_export: {result.state}"]
    problems = verify_bundle(out, public_key=key.with_name(key.name + ".pub"))
    print(f"      bundle {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    print(f"      verified: {'intact and signed (Ed25519)' if not problems else problems}")
    print(f"      auditors check it with: trainguard export verify {out} --public-key "
          f"{key}.pub")
    return [f"export verify: {p}" for p in problems]


def _print_outcome(result: object) -> None:
    from trainguard.dagrun import DagRunResult

    assert isinstance(result, DagRunResult)
    version = result.xcom("resolve_dataset_version") or {}
    if version:
        print(f"      dataset {version['path']}@{version['rev']}: commit "
              f"{version['commit'][:12]}, DVC md5 {version['md5']}")
    print(f"      DAG run {result.state.upper()} ({result.summary()})")
    error = result.xcom("gate", "gate_error")
    if error:
        print(f"      gate ERROR - training blocked: {error}")
        return
    failed = result.xcom("gate", "gate_failed")
    if failed:
        print(f"      gate FAILED - training never started. {len(failed['failed'])} reason(s):")
        for finding in failed["failed"]:
            where = f" [source {finding['source_id']}]" if finding["source_id"] else ""
            where += f" [{finding['entity']}]" if finding.get("entity") else ""
            print(f"        x {finding['check']}{where}: {finding['message']}")
            print(f"          clause: {'; '.join(finding['clauses'])}")
        print(f"      gate run in MLflow: {failed['gate_run_id']}")
        return
    gate = result.xcom("gate") or {}
    if gate:
        print(f"      gate PASSED on {gate['dataset']['records']:,} records "
              f"(MLflow run {gate['gate_run_id']})")
    trained = result.xcom("train")
    if trained:
        print(f"      model {trained['model_name']} version {trained['model_version']} "
              "registered; its tags:")
        for key, value in _model_version_tags(trained).items():
            print(f"        {key} = {value}")


def _model_version_tags(trained: dict[str, str]) -> dict[str, str]:
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version(trained["model_name"], trained["model_version"])
    wanted = ("trainguard.gate_run_id", "trainguard.dataset.digest", "trainguard.dataset.commit",
              "trainguard.training_run_id")
    return {key: version.tags[key] for key in wanted if key in version.tags}
