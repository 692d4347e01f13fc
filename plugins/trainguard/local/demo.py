"""``trainguard demo``: the main job, end to end, on embedded defaults.

Builds the demo git+DVC repository, then runs the real ``pretraining_gate`` and
``finetune_gate`` DAGs with Airflow's ``dag.test()``, each on revision "planted" (the gate
fails, naming clauses, and training never runs) and on "clean" (the gate passes and a
model version is registered). Finally it prints the fine-tuned model's lineage and runs
``provenance_export`` to write and verify its signed Art. 17 bundle. Before that, the
violation lifecycle: the team's models declare their training DAGs (the training
contract) and a second model family, a word n-gram model, is trained by its own DAG; a
harmful output of the fine-tuned model and a personal-information deletion request (which
both pre-training model families hold) are filed
through ``violation_intake`` (filtered at once), fixed by ``violation_remediation`` (impact
analysis, fixed DVC revision, gate, each model's own training DAG, probe) and closed; an
artificially aged report shows as overdue and raises the SLA alert; and the pre-fix
revision, gated again, is refused by the registry checks (Art. 13, 15).

Kept as one module: the demo is one story printed step by step, and reads in that order.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import TrainguardError

if TYPE_CHECKING:
    from trainguard.local.demo_data import DemoRepo

NGRAM_MODEL = "trainguard-demo-ngram"
RUNS = (  # (DAG, dataset, revision, model)
    ("pretraining_gate", "datasets/pretraining", "planted", "trainguard-demo-pretrained"),
    ("pretraining_gate", "datasets/pretraining", "clean", "trainguard-demo-pretrained"),
    ("finetune_gate", "datasets/finetuning", "planted", "trainguard-demo-finetuned"),
    ("finetune_gate", "datasets/finetuning", "clean", "trainguard-demo-finetuned"),
    ("finetune_gate", "datasets/finetuning", "refusals", "trainguard-demo-finetuned"),
)
# What the release assessment of each trained version should conclude (None: either).
ASSESSMENT_EXPECTED = {"pretraining_gate": None, "clean": "fail", "refusals": "pass"}


def run_demo(workdir: Path, *, scale: float = 1.0) -> int:
    from trainguard.local.demo_data import DEMO_HASH_KEY, build_demo_repo
    from trainguard.local.embedded import apply_embedded_env
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
    print(f"  violations        {workdir / 'violations.db'}: {_fresh_registry(workdir)}")
    print(f"  task logs         {log_file}\n")

    steps = len(RUNS) + 3
    print(f"[1/{steps}] demo data: a git+DVC repository, revisions planted, clean, refusals")
    demo = build_demo_repo(workdir, scale=scale, progress=lambda m: print(f"      {m}"))
    config = _write_config(workdir, env, demo.policy)
    print(f"      settings for every trainguard command: {config}")

    from trainguard.local.dagrun import run_dag

    unexpected: list[str] = []
    last_model: dict[str, str] | None = None
    gates: dict[str, dict[str, Any]] = {}  # the passing gate of each DAG
    base_model = ""  # the pretrained model the fine-tuning runs continue
    for step, (dag_id, path, revision, model) in enumerate(RUNS, start=2):
        print(f"\n[{step}/{steps}] Airflow DAG {dag_id} on revision '{revision}' ...", flush=True)
        conf = {
            "repo": str(demo.repo),
            "path": path,
            "rev": revision,
            "policy": str(demo.policy),
            "model_name": model,
        }
        if dag_id == "finetune_gate" and base_model:
            conf["base_model"] = base_model
        result = run_dag(dag_id, conf, log_file=log_file)
        _print_outcome(result)
        expected_state = "failed" if revision == "planted" else "success"
        trained = result.states_of("train") == ["success"]
        if result.state != expected_state or trained != (revision != "planted"):
            unexpected.append(f"{dag_id} on {revision}: {result.state}")
        if trained:
            expected = ASSESSMENT_EXPECTED.get(dag_id, ASSESSMENT_EXPECTED.get(revision))
            unexpected += _print_assessment(result.xcom("train"), expected)
            last_model = result.xcom("train")
            if dag_id == "pretraining_gate":
                base_model = last_model["model_uri"]
            gates[dag_id] = {
                **result.xcom("gate"),
                "version": result.xcom("resolve_dataset_version"),
            }

    print(f"\n[{steps - 1}/{steps}] violations: intake, filter, remediation, deadlines", flush=True)
    if last_model is None:
        unexpected.append("no fine-tuned model, so no violation to report against it")
    else:
        problems, fixed_version = _violations(
            demo, last_model, gates.get("pretraining_gate", {}), log_file
        )
        unexpected += problems
        last_model = {**last_model, "model_version": fixed_version or last_model["model_version"]}

    print(f"\n[{steps}/{steps}] lineage and provenance export of the fine-tuned model", flush=True)
    if last_model is None:
        unexpected.append("no model was registered, so nothing to export")
    else:
        unexpected += _lineage_and_export(last_model, workdir, log_file)

    print(f"\nDone in {time.monotonic() - started:.0f} s. Browse the runs, inputs and models:")
    print(f"  .venv/bin/mlflow ui --backend-store-uri {env['MLFLOW_TRACKING_URI']} --port 5000")
    print(
        "  then open http://127.0.0.1:5000 (experiment 'trainguard'; models "
        "'trainguard-demo-pretrained' and 'trainguard-demo-finetuned')"
    )
    print("Review gates and violations and download exports in the Airflow UI:")
    print(
        f"  make ui   (or: .venv/bin/trainguard ui --workdir {workdir}), then open "
        "http://127.0.0.1:8080/plugin/governance"
    )
    if last_model is not None:
        print(f"Ask trainguard about them (each command reads {config}):")
        for command in follow_up_commands(workdir, last_model):
            print(f"  $ {command}")
    if unexpected:
        raise TrainguardError(
            f"the demo did not behave as expected ({'; '.join(unexpected)}); see {log_file}"
        )
    return 0


def _write_config(workdir: Path, env: dict[str, str], policy: Path) -> Path:
    """``trainguard.toml``: the stores and keys of this demo, for every later command."""
    from trainguard.export.bundle import ED25519_KEY_ENV, generate_keypair
    from trainguard.local.demo_data import DEMO_HASH_KEY
    from trainguard.settings import write_config

    key = _signing_key(workdir)
    if not key.exists():  # the demo's own key pair; a deployment configures its own
        generate_keypair(key)
    os.environ.setdefault(ED25519_KEY_ENV, str(key))
    settings = {
        "TRAINGUARD_HOME": env["TRAINGUARD_HOME"],
        "MLFLOW_TRACKING_URI": env["MLFLOW_TRACKING_URI"],
        "TRAINGUARD_ARTIFACT_ROOT": env["TRAINGUARD_ARTIFACT_ROOT"],
        "TRAINGUARD_MLFLOW_UI_URL": env["TRAINGUARD_MLFLOW_UI_URL"],
        "TRAINGUARD_POLICY": str(policy),
        "TRAINGUARD_HASH_KEY": DEMO_HASH_KEY,
        ED25519_KEY_ENV: os.environ[ED25519_KEY_ENV],
    }
    return write_config(
        workdir,
        settings,
        comment="Written by `trainguard demo`: the demo's stores and keys. Every trainguard\n"
        "command run with --workdir here (or from inside this folder) reads it;\n"
        "`trainguard env --workdir <this folder>` prints it as shell exports.",
    )


def _signing_key(workdir: Path) -> Path:
    return workdir / "keys" / "export-signing.pem"


def _cli() -> str:
    """How to call this trainguard from the current folder, as a person would type it."""
    import sys

    command = Path(sys.executable).parent / "trainguard"
    with contextlib.suppress(ValueError):
        return str(command.relative_to(Path.cwd()))
    return str(command)


def follow_up_commands(workdir: Path, model: dict[str, str]) -> list[str]:
    """The commands the demo suggests at its end; a test runs each exactly as printed."""
    import shlex

    cli, folder = _cli(), shlex.quote(str(workdir))
    name, version = model["model_name"], model["model_version"]
    bundle = shlex.quote(str(workdir / "exports" / name / f"v{version}"))
    public = shlex.quote(f"{_signing_key(workdir)}.pub")
    return [
        f"{cli} violations list --workdir {folder}",
        f"{cli} lineage {name} {version} --workdir {folder}",
        f"{cli} export verify {bundle} --public-key {public}",
        f'eval "$({cli} env --workdir {folder})" && {cli} violations list --overdue',
    ]


def _team_models(finetuned: dict[str, str], gate: dict[str, Any], log_file: Path) -> list[str]:
    """The team's own training: each model declares the DAG that trains it, and a second
    model family (a word n-gram model) gets its first version from its own DAG, on the
    pre-training data the gate admitted."""
    from trainguard.local.dagrun import run_dag
    from trainguard.training import TrainingRequest, declare_training

    for model in ("trainguard-demo-pretrained", finetuned["model_name"]):
        declare_training(model, dag_id="example_responder_training")
    request = TrainingRequest(
        model_name=NGRAM_MODEL,
        stage="pretraining",
        dataset=gate["version"],
        gate_run_id=gate["gate_run_id"],
    )
    result = run_dag("example_ngram_training", request.to_conf(), log_file=log_file)
    trained = result.xcom("train") or {}
    declare_training(NGRAM_MODEL, dag_id="example_ngram_training")
    print(
        f"      the team's models declare their training DAGs (training contract): "
        f"{finetuned['model_name']} -> example_responder_training; example_ngram_training "
        f"{result.state.upper()}: {NGRAM_MODEL} v{trained.get('model_version')} (a word "
        "n-gram model, MLflow pyfunc)"
    )
    return [] if result.state == "success" else ["example_ngram_training failed"]


def _violations(
    demo: DemoRepo, finetuned: dict[str, str], gate: dict[str, Any], log_file: Path
) -> tuple[list[str], str | None]:
    """File, filter, fix and close two violations (a harmful answer of the fine-tuned
    responder; a PI deletion that both pre-training model families learnt from, each
    retrained by its own DAG); age a third past its deadline."""
    import datetime as dt

    from trainguard.local.dagrun import run_dag
    from trainguard.personal_info import pi_hmac
    from trainguard.policy import load_policy
    from trainguard.violations import Registry
    from trainguard.violations.filtering import check_output
    from trainguard.violations.intake import intake_subject
    from trainguard.violations.probe import ask

    registry = Registry()
    problems = _team_models(finetuned, gate, log_file)
    name, version = finetuned["model_name"], finetuned["model_version"]
    prompt = _finetuning_prompt(demo)
    [answer] = ask(f"models:/{name}/{version}", [prompt])
    pi_kind, pi_value = _consented_pi_value(demo)
    print(
        f"      a user reports {name} v{version}'s answer to a prompt as harmful; a data "
        f"subject asks to delete their {pi_kind} (sent as its HMAC only), which both "
        f"pre-training models, the responder and {NGRAM_MODEL}, learnt from"
    )
    filed = []
    for conf in (
        {
            "kind": "harmful_output",
            "summary": "user report: harmful answer",
            "reported_by": "user-feedback",
            "prompt": prompt,
            "output": answer,
            "model_name": name,
            "model_version": version,
        },
        {
            "kind": "pi_request",
            "summary": "data subject asks for deletion",
            "reported_by": "privacy-desk",
            "owner": "privacy",
            "pi_hmacs": [f"{pi_kind}={pi_hmac(pi_kind, pi_value)}"],
        },
    ):
        result = run_dag(
            "violation_intake", {**conf, "policy": str(demo.policy)}, log_file=log_file
        )
        filed.append(result.xcom("file_violation") or {})
        print(
            f"      violation_intake {result.state.upper()}: {filed[-1].get('id')} "
            f"{filed[-1].get('status')}, deadline {filed[-1].get('deadline')} "
            f"({filed[-1].get('clause')})"
        )
    problems += [f"intake: {f}" for f in filed if f.get("status") != "filtered"]
    for label, text in (("the reported answer", answer), (f"the {pi_kind}", pi_value)):
        verdict = check_output(f"... {text} ...", registry)
        print(
            f"      output filter on {label}: "
            + ("BLOCKED (" + "; ".join(verdict.reasons) + ")" if not verdict.allowed else "allowed")
        )
        problems += [f"filter let {label} through"] if verdict.allowed else []
    aged = registry.report(
        kind="ip_complaint",
        summary="takedown request nobody triaged",
        reported_by="legal",
        owner="legal",
        policy=load_policy(demo.policy),
        subject=intake_subject("ip_complaint", work_id="W-demo-aged"),
        reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=60),
    )
    print(
        f"      an IP complaint {aged.id} is back-dated 60 days (deadline "
        f"{aged.deadline.isoformat()})"
    )

    print("      violation_remediation (daily; run now) ...", flush=True)
    result = run_dag("violation_remediation", {"policy": str(demo.policy)}, log_file=log_file)
    print(f"      DAG run {result.state.upper()} ({result.summary()})")
    for triggered in result.triggered:  # each fixed version's release assessment
        summary = triggered.xcom("assess") or triggered.xcom("assess", "assessment_failed") or {}
        print(
            f"      model_assessment of {summary.get('model_uri', '?')}: "
            f"{str(summary.get('decision', triggered.state)).upper()}"
            + (f", alias '{summary['alias']}' set" if summary.get("alias") else "")
        )
    for alert in result.xcom("check_deadlines") or []:
        from trainguard.violations.sla import alert_text

        print(f"      alert: {alert_text(alert)}")
    if aged.id not in [a["violation"] for a in result.xcom("check_deadlines") or []]:
        problems.append("the aged violation raised no overdue alert")
    fixed_version = None
    for item in filed:
        violation = registry.get(item["id"])
        print(
            f"      {violation.id} ({violation.kind}): {violation.status.upper()}"
            + (
                f" {violation.closed_at.isoformat()}, before its deadline"
                if violation.closed_at and violation.closed_at < violation.deadline
                else ""
            )
        )
        for target in violation.evidence.get("targets", []):
            model = target["model_name"]
            dataset = violation.evidence.get(f"{model}:dataset")
            trained = violation.evidence.get(f"{model}:model")
            probe = violation.evidence.get(f"{model}:probe")
            if not (dataset and trained and probe):
                failed = violation.evidence.get(f"{model}:gate_failed", {}).get("failed")
                print(
                    f"        {model}: not fixed yet"
                    + (f"; the fixed version fails the gate: {'; '.join(failed)}" if failed else "")
                )
                continue
            print(
                f"        {model}: {target['records']} record(s) in "
                f"{dataset['version']['path']}@{dataset['from_commit'][:12]} -> "
                f"{dataset['version']['rev']} (DVC md5 {dataset['version']['md5']}); gate "
                f"{violation.evidence[f'{model}:gate']['decision']}; retrained as version "
                f"{trained['model_version']} by "
                f"{violation.evidence[f'{model}:training']['trainer']}; probe "
                f"{'PASSED' if probe['passed'] else 'FAILED'} ({probe['prompts_asked']} "
                f"prompt(s) asked, {probe['prompts_of_touched_records']} of removed records, "
                f"{probe['answers_violating']} violating answer(s), "
                f"{probe['dataset_records_still_matching']} record(s) still matching)"
            )
            if model == name:
                fixed_version = trained["model_version"]
        if violation.status != "closed":
            problems.append(f"{violation.id} is {violation.status}")
    problems += _regate_prefix_revision(demo, log_file)
    audit = registry.audit()
    print(
        f"      event chain: {audit or 'intact'} "
        f"({len(registry.events())} events); `trainguard violations list --overdue` shows "
        f"{aged.id}"
    )
    return problems + audit, fixed_version


def _regate_prefix_revision(demo: DemoRepo, log_file: Path) -> list[str]:
    """Art. 13, 15: training again on the revision from before the fix is refused."""
    from trainguard.local.dagrun import run_dag
    from trainguard.local.demo_data import PRETRAINING

    print("      pretraining_gate on the pre-fix revision 'clean' again ...", flush=True)
    conf = {
        "repo": str(demo.repo),
        "path": PRETRAINING,
        "rev": "clean",
        "policy": str(demo.policy),
        "model_name": "trainguard-demo-pretrained",
    }
    result = run_dag("pretraining_gate", conf, log_file=log_file)
    failed = (result.xcom("gate", "gate_failed") or {}).get("failed", [])
    reported = [f for f in failed if f["check"].startswith("reported.")]
    for finding in reported:
        print(
            f"        x {finding['check']} [source {finding['source_id']}]: "
            f"{finding['message']} ({'; '.join(finding['clauses'])})"
        )
    if result.state != "failed" or not reported or result.states_of("train") == ["success"]:
        return ["the pre-fix revision was not refused by the registry checks"]
    return []


def _fresh_registry(workdir: Path) -> str:
    """The demo tells its story on an empty violation registry: the previous run's is kept
    beside it (reports from that run would rightly block this run's gates)."""
    database = workdir / "violations.db"
    if not database.exists():
        return "new"
    for suffix in ("", "-wal", "-shm"):
        old = workdir / f"violations.db{suffix}"
        if old.exists():
            old.replace(workdir / f"violations.previous.db{suffix}")
    return "new (the previous run's is kept as violations.previous.db)"


def _finetuning_prompt(demo: DemoRepo) -> str:
    return _finetuning_pairs(demo)[0][0]


def _finetuning_pairs(demo: DemoRepo) -> list[tuple[str, str]]:
    """(prompt, response) of the fine-tuning records the reported model version learnt
    (revision "refusals", the last fine-tuning run) that are not spot-checked."""
    from trainguard.contract import load_dataset
    from trainguard.local.demo_data import FINETUNING
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version, resolve_version

    dataset = load_dataset(
        fetch_version(resolve_version(demo.repo, FINETUNING, RUNS[-1][2]), workspace())
    )
    # Not a spot-checked record: dropping one would leave its batch short of the checks
    # the sampling plan needs, and the fixed version would (rightly) fail the gate.
    annotation = dataset.annotation
    if annotation is None:  # the demo's fine-tuning dataset always has annotation/
        raise TypeError(f"{dataset.root} has no annotation/")
    checked = {row.record_id for row in annotation.spot_checks}
    pairs = []
    for _, _, batch in dataset.iter_batches(["record_id", "prompt", "response"]):
        for record_id, prompt, response in zip(
            batch.column("record_id").to_pylist(),
            batch.column("prompt").to_pylist(),
            batch.column("response").to_pylist(),
            strict=True,
        ):
            if record_id not in checked:
                pairs.append((str(prompt), str(response)))
    if not pairs:
        raise TrainguardError("every fine-tuning record is spot-checked; none to report")
    return pairs


def _consented_pi_value(demo: DemoRepo) -> tuple[str, str]:
    """A PI value the clean pretraining data holds with consent (the subject withdraws)."""
    from trainguard.contract import load_dataset
    from trainguard.local.demo_data import PRETRAINING
    from trainguard.pipeline import workspace
    from trainguard.scanners.pi import scan_pi
    from trainguard.versioning import fetch_version, resolve_version

    dataset = load_dataset(
        fetch_version(resolve_version(demo.repo, PRETRAINING, "clean"), workspace())
    )
    for _, _, batch in dataset.iter_batches(["text"]):
        texts = batch.column("text")
        for row, matches in sorted(scan_pi(texts).items()):
            match = matches[0]
            return match.kind.value, texts[row].as_py()[match.start : match.end]
    raise TrainguardError("the demo data holds no personal information to request deleted")


def _lineage_and_export(model: dict[str, str], workdir: Path, log_file: Path) -> list[str]:
    """Print the model's lineage, run provenance_export, verify the bundle."""
    from trainguard.export.bundle import verify_bundle
    from trainguard.export.lineage import lineage_text, model_lineage
    from trainguard.local.dagrun import run_dag

    key = _signing_key(workdir)
    name, version = model["model_name"], model["model_version"]
    print(
        "\n".join(
            f"      {line}" for line in lineage_text(model_lineage(name, version)).splitlines()
        )
    )
    out = workdir / "exports" / name / f"v{version}"
    result = run_dag(
        "provenance_export",
        {"model_name": name, "model_version": version, "out": str(out)},
        log_file=log_file,
    )
    print(f"\n      DAG provenance_export {result.state.upper()} ({result.summary()})")
    if result.state != "success":
        return [f"provenance_export: {result.state}"]
    problems = verify_bundle(out, public_key=key.with_name(key.name + ".pub"))
    print(f"      bundle {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    print(f"      verified: {problems or 'intact and signed (Ed25519)'}")
    print(f"      auditors check it with: {_cli()} export verify {out} --public-key {key}.pub")
    return [f"export verify: {p}" for p in problems]


def _print_outcome(result: object) -> None:
    from trainguard.local.dagrun import DagRunResult

    if not isinstance(result, DagRunResult):
        raise TypeError(f"expected a DagRunResult, got {type(result).__name__}")
    version = result.xcom("resolve_dataset_version") or {}
    if version:
        print(
            f"      dataset {version['path']}@{version['rev']}: commit "
            f"{version['commit'][:12]}, DVC md5 {version['md5']}"
        )
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
        print(
            f"      gate PASSED on {gate['dataset']['records']:,} records "
            f"(MLflow run {gate['gate_run_id']})"
        )
    trained = result.xcom("train")
    if trained:
        print(
            f"      model {trained['model_name']} version {trained['model_version']} "
            "registered; its tags:"
        )
        for key, value in _model_version_tags(trained).items():
            print(f"        {key} = {value}")


def _print_assessment(trained: dict[str, str], expected: str | None) -> list[str]:
    """The release assessment the gate's ``assess`` task triggered (model_assessment)."""
    from trainguard.assessment.record import latest_assessment

    name, version = trained["model_name"], trained["model_version"]
    found = latest_assessment(name, version)
    if found is None:
        return [f"{name} v{version} was not assessed"]
    decision = found["decision"]
    samples = ", ".join(f"{n:,} {bank}" for bank, n in found["samples"].items())
    print(f"      model_assessment of {name} v{version}: {decision.upper()} ({samples} questions)")
    for measure_name, measure in found["measures"].items():
        print(
            f"        {measure_name.replace('_', ' ')} {measure['rate']:.1%} "
            f"({measure['confidence']:.0%} bound {measure['low']:.1%}-{measure['high']:.1%})"
        )
    for finding in found["findings"]:
        if finding["status"] == "fail":
            ids = ", ".join(finding["record_ids"][:3])
            print(f"        x {finding['check']}: {finding['message']} ({finding['clauses'][0]})")
            if ids:
                print(f"          e.g. questions {ids}")
    if found["alias"]:
        print(f"        alias '{found['alias']}' now points to {name} v{version}")
    elif expected is None:
        print("        (a base model is not released: no alias, as expected)")
    if expected is not None and decision != expected:
        return [f"the assessment of {name} v{version} gave {decision}, expected {expected}"]
    return []


def _model_version_tags(trained: dict[str, str]) -> dict[str, str]:
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version(trained["model_name"], trained["model_version"])
    wanted = (
        "trainguard.gate_run_id",
        "trainguard.dataset.digest",
        "trainguard.dataset.commit",
        "trainguard.training_run_id",
    )
    return {key: version.tags[key] for key in wanted if key in version.tags}


def serve_ui(workdir: Path, *, host: str, port: int) -> int:
    """``trainguard ui``: Airflow's API server (UI, REST API, Governance page) on the demo's
    folder, with one user per duty. Replaces this process; Ctrl-C stops it."""
    import shutil
    import subprocess
    import sys

    from trainguard.local.embedded import UI_USERS, ui_env, ui_passwords

    workdir = workdir.resolve()
    if not (workdir / "mlflow.db").exists():
        print(
            f"trainguard ui: {workdir} holds no demo yet; the page will be empty until "
            "`make demo` (or `trainguard demo`) has run",
            file=sys.stderr,
        )
    env = {
        **os.environ,
        **ui_env(workdir),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
    }
    airflow = shutil.which("airflow", path=str(Path(sys.executable).parent)) or "airflow"
    if not Path(env["AIRFLOW_HOME"], "airflow.db").exists():
        print("trainguard ui: creating the Airflow metadata database ...", flush=True)
        done = subprocess.run(
            [airflow, "db", "migrate"], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise TrainguardError(f"airflow db migrate failed: {done.stderr[-500:]}")
    passwords = ui_passwords(env)
    base = f"http://{host}:{port}"
    print(f"trainguard ui: Airflow on {base} - Governance page: {base}/plugin/governance")
    print(
        f"  sign in as (passwords from {env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']}):"
    )
    for user, (role, duty) in UI_USERS.items():
        print(f"    {user:9} {passwords[user]:14} role {role:6} - {duty}")
    print(
        f"  REST API schema: {base}/trainguard/openapi.json (Authorization: Bearer, "
        f"token from POST {base}/auth/token)",
        flush=True,
    )
    # Replaces this process, as a shell's `exec` would: Ctrl-C stops the server itself.
    os.execve(  # noqa: S606
        airflow,
        [
            airflow,
            "api-server",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env,
    )
    return 0  # not reached
