"""Optimization training that fixes a violation before its deadline (Art. 15), and proves it.

For a filtered violation these steps run, each recorded as evidence on the violation
before the next starts, so a run killed midway resumes where it stopped:

1. **targets** - impact analysis over every dataset and model version
   (``violations/impact.py``): the latest version of each affected model is a target,
   superseded ones are listed as such. A reported output found in no training data is
   looked for by the harmful terms it holds (the records that taught them);
2. **dataset** - a fixed dataset version: those records dropped (or, for PI, the values
   masked), and so is the content of every other reported violation every gate refuses
   (``checks/reported.py``), committed as a new DVC revision whose commit message and tag
   name the violation (an existing tag is reused: never a duplicate version);
3. **gate** - the gate on the fixed version, exactly as for any training run;
4. **training** - optimization training by the model's own declared trainer (the
   training contract, ``training/contract.py``): an Airflow DAG that the remediation DAG
   triggers and waits for, or an entry point run in-process; the new version is tagged
   with the request id and the violation it fixes;
5. **probe** - ``violations/probe.py`` asks the new version the reported prompt and its
   perturbations and the inputs of the records removed, and screens every answer.

``prepare`` runs steps 1-3 and returns the training orders, the Airflow layer runs them
(step 4), ``verify`` finds what each registered and runs step 5; ``remediate`` chains all
of it in one process for entry-point trainers. Only a passing probe moves the violation
to ``verified`` and ``closed`` (with the time left before its deadline); a report with no
affected training data is still probed on the model it names, never closed unseen.

Kept as one module (about 700 lines): the remediation of one violation in the order it
happens (targets, fixed revision, gate, optimization training, probe, evidence), so the
lifecycle reads top to bottom.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError, GateFailed, TrainguardError
from trainguard.tracking import TAG_PREFIX
from trainguard.versioning import DatasetVersion
from trainguard.violations.matching import Matcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ACTOR = "trainguard-remediation"
PROBE_PROMPTS = 20


class RemediationFailed(TrainguardError):
    """Raised when the verification probe fails: the violation stays open, with evidence."""


def _rewrite_dataset(dataset_dir: Path, matcher: Matcher) -> list[str]:
    """Rewrite every shard of ``dataset_dir`` in place; returns the ids changed or dropped."""
    import pyarrow as pa

    from trainguard.contract import load_dataset, rewrite_shard

    matcher.prepare(dataset_dir)
    dataset = load_dataset(dataset_dir)
    touched: list[str] = []
    for shard in dataset.shards:
        tables, in_shard = [], []
        for _, _, batch in dataset.iter_batches_of(shard):
            table, ids = matcher.fix_batch(batch, dataset.text_columns)
            tables.append(table)
            in_shard += ids
        touched += in_shard
        if not in_shard:
            continue  # untouched shards keep their bytes (and their DVC cache entries)
        rewrite_shard(shard, pa.concat_tables(tables))
    if matcher.kind != "pi_request":  # dropped records leave the files that name them too
        for name in RECORD_FILES:
            _drop_rows(dataset_dir / name, set(touched))
    return touched


RECORD_FILES = ("review/manual_verdicts.csv", "annotation/spot_checks.csv")


def _drop_rows(path: Path, record_ids: set[str]) -> None:
    import csv
    import io

    if not path.exists() or not record_ids:
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0]) if rows else []
    kept = [row for row in rows if row.get("record_id") not in record_ids]
    if len(kept) == len(rows):
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    path.unlink()  # DVC may hard-link cache files: never write through the link
    path.write_text(buffer.getvalue(), encoding="utf-8")


# ----------------------------------------------------------------------------- steps


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def _impact_summary(impact: Any) -> dict[str, Any]:
    """What the evidence keeps of an impact analysis: versions and counts, no record ids."""
    return {
        "looked_for": impact.looked_for,
        "dataset_versions_scanned": impact.scanned,
        "datasets": [
            {k: d[k] for k in ("path", "commit", "md5", "revs", "records")}
            | {"gate_run_ids": [r["run_id"] for r in d["gate_runs"]]}
            for d in impact.datasets
        ],
        "models": [
            {
                k: m[k]
                for k in ("model_name", "model_version", "superseded", "superseded_by", "records")
            }
            for m in impact.models
        ],
    }


def find_targets(
    violation: Any, progress: Callable[[str], None] = lambda message: None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The latest affected version of each model (restricted to the model the violation
    names, if any), and the impact analysis they come from."""
    from trainguard.versioning import resolve_version
    from trainguard.violations.impact import find_impact
    from trainguard.violations.probe import gate_lexicon

    def concerned(found: Any) -> list[dict[str, Any]]:
        named = violation.model_name
        return [m for m in found.models if not named or m["model_name"] == named]

    impact = find_impact(Matcher(violation), progress=progress)
    how = "content"
    if violation.kind == "harmful_output" and not concerned(impact):
        # The model composed it: look for the harmful terms it holds instead, then for the
        # records it was copied from.
        named = _latest_version(violation.model_name) if violation.model_name else None
        lexicon = gate_lexicon(named.tags.get(f"{TAG_PREFIX}gate_run_id") if named else None)
        by_terms = Matcher(violation, lexicon=lexicon)
        if by_terms.terms:
            impact = find_impact(by_terms, progress=progress)
            how = f"{len(by_terms.terms)} harmful term(s) of the output"
        if not concerned(impact):
            impact = find_impact(Matcher(violation, attribute=True), progress=progress)
            how = "the records the output was copied from"
    if not impact.complete:
        missing = "; ".join(
            f"{u['path']}@{u['commit'][:12]}: {u['error']}" for u in impact.unreadable
        )
        raise RemediationFailed(
            f"{violation.id}: impact analysis is incomplete, {len(impact.unreadable)} dataset "
            f"version(s) unreadable ({missing}); nothing is fixed on a partial answer"
        )
    targets = []
    for model in impact.latest_affected():
        if violation.model_name and model["model_name"] != violation.model_name:
            continue
        dataset = model["dataset"]
        targets.append(
            {
                "model_name": model["model_name"],
                "model_version": model["model_version"],
                "stage": model["stage"],
                "gate_run_id": model["gate_run_id"],
                "dataset": resolve_version(
                    dataset["repo"], dataset["path"], dataset["commit"]
                ).to_dict(),
                "records": model["records"],
                "record_ids": model["record_ids"],
            }
        )
    return targets, {**_impact_summary(impact), "matched_by": how}


def _latest_version(model_name: str) -> Any:
    versions = _client().search_model_versions(f"name='{model_name}'")
    if not versions:
        raise ContractError(f"no registered model '{model_name}'", field="model")
    return max(versions, key=lambda mv: int(mv.version))


def fix_tag(violation_id: str, path: str, source_md5: str) -> str:
    """One tag per violation and source version: two models trained on different versions
    of the same path each get their own fixed revision (one from each version)."""
    return f"fix-{violation_id}-{path.strip('/').replace('/', '-')}-{source_md5[:8]}"


def _other_reported(violation: Any, registry: Any) -> list[Any]:
    """The other violations whose content every gate refuses (checks/reported.py): a
    fixed revision removes all of it, not only its own violation's, or its gate fails."""
    from trainguard.violations.filtering import gates_enforce

    return [o for o in registry.list() if o.id != violation.id and gates_enforce(o)]


def _fixed_dataset(
    violation: Any, target: dict[str, Any], registry: Any, matcher: Matcher
) -> dict[str, Any]:
    from trainguard.versioning import rewrite_revision

    source = DatasetVersion.from_dict(target["dataset"])
    touched: list[str] = []
    also: dict[str, int] = {}

    def rewrite(dataset_dir: Path) -> str:
        touched.extend(_rewrite_dataset(dataset_dir, matcher))
        for other in _other_reported(violation, registry):
            changed = _rewrite_dataset(dataset_dir, Matcher(other))
            if changed:
                also[other.id] = len(changed)
        action = "Mask PI in" if violation.kind == "pi_request" else "Drop"
        others = "".join(
            f"\nAlso removed for violation {other_id}: {count} record(s)."
            for other_id, count in sorted(also.items())
        )
        return (
            f"{action} {len(touched)} record(s) for violation {violation.id} "
            f"({violation.kind}, {violation.clause}): {violation.summary[:80]}\n\n"
            f"Fixed from {source.path}@{source.commit[:12]} (DVC md5 {source.md5})." + others
        )

    fixed = rewrite_revision(
        source.repo,
        source.path,
        source.commit,
        tag=fix_tag(violation.id, source.path, source.md5),
        rewrite=rewrite,
    )
    return {
        "version": fixed.to_dict(),
        "records_changed": len(touched),
        "record_ids": touched[:PROBE_PROMPTS],
        "also_removed": also,
        "from_md5": source.md5,
        "from_commit": source.commit,
    }


def _target_matcher(violation: Any, target: dict[str, Any], evidence: dict[str, Any]) -> Matcher:
    """The matcher the targets were found with (content, or the output's harmful terms)."""
    from trainguard.violations.probe import gate_lexicon

    how = evidence.get("impact", {}).get("matched_by", "content")
    if how == "content":
        return Matcher(violation)
    if how.endswith("copied from"):
        return Matcher(violation, attribute=True)
    return Matcher(violation, lexicon=gate_lexicon(target.get("gate_run_id")))


def _gate(fixed: DatasetVersion, target: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    from trainguard.pipeline import gate_version, list_shards, scan_version_shard
    from trainguard.tracking import gate_run_settings

    policy, lexicons = gate_run_settings(target.get("gate_run_id"))
    for shard in list_shards(fixed, policy_path=policy):
        scan_version_shard(fixed, shard, policy_path=policy, lexicons=lexicons)
    outcome = gate_version(
        fixed, stage=target["stage"], policy_path=policy, lexicons=lexicons, context_tags=tags
    )
    return {"gate_run_id": outcome.run_id, "decision": outcome.report.decision.value}


def _same_version_gate(evidence: dict[str, Any], fixed: DatasetVersion) -> dict[str, Any] | None:
    """The passing gate of another target on the very same fixed version (one dataset, two
    models trained on it): gated once, not twice."""
    for key, step in evidence.items():
        if not key.endswith(":gate"):
            continue
        other = evidence.get(key.removesuffix(":gate") + ":dataset", {}).get("version", {})
        if other.get("md5") == fixed.md5 and other.get("commit") == fixed.commit:
            return dict(step)
    return None


def training_request(violation: Any, target: dict[str, Any]) -> Any:
    """The optimization-training request of one target (the same on every retry)."""
    from trainguard.training import TrainingRequest

    name = target["model_name"]
    return TrainingRequest(
        model_name=name,
        stage=target["stage"],
        dataset=violation.evidence[f"{name}:dataset"]["version"],
        gate_run_id=violation.evidence[f"{name}:gate"]["gate_run_id"],
        violation_ids=[violation.id],
        base_model_uri=f"models:/{name}/{target['model_version']}",
    )


# ----------------------------------------------------------------------------- the steps


def _start(registry: Any, violation_id: str) -> Any:
    violation = registry.get(violation_id)
    if violation.status in ("reported", "triaged"):
        raise ContractError(
            f"{violation_id} is {violation.status}: triage and filter it first "
            "(the immediate measure comes before the fix)",
            field="status",
        )
    if violation.status == "filtered":
        violation = registry.transition(violation_id, "remediating", actor=ACTOR)
    return violation


def prepare(
    violation_id: str,
    *,
    registry: Any = None,
    context_tags: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> list[dict[str, Any]]:
    """Steps 1-3 for every target; returns the training orders still to run, each
    ``{"violation_id", "model_name", "trainer", "conf"}`` (``conf``: the request)."""
    from trainguard.training import declared_trainer
    from trainguard.violations import Registry

    registry = registry or Registry()
    violation = _start(registry, violation_id)
    if violation.status != "remediating":
        return []
    tags = {**(context_tags or {}), f"{TAG_PREFIX}violation": violation_id}
    if "targets" not in violation.evidence:
        targets, impact = find_targets(violation, progress)
        progress(f"{violation_id}: {len(targets)} affected model version(s)")
        violation = registry.add_evidence(
            violation_id, {"targets": targets, "impact": impact}, actor=ACTOR, action="step:targets"
        )
    orders = []
    for target in violation.evidence["targets"]:
        name = target["model_name"]
        if f"{name}:dataset" not in violation.evidence:
            matcher = _target_matcher(violation, target, violation.evidence)
            step = _fixed_dataset(violation, target, registry, matcher)
            progress(
                f"{violation_id}: fixed dataset {step['version']['rev']} "
                f"({step['records_changed']} record(s))"
            )
            violation = registry.add_evidence(
                violation_id, {f"{name}:dataset": step}, actor=ACTOR, action="step:dataset"
            )
        fixed = DatasetVersion.from_dict(violation.evidence[f"{name}:dataset"]["version"])
        if f"{name}:gate" not in violation.evidence:  # recorded only once passed
            try:
                step = _same_version_gate(violation.evidence, fixed) or _gate(fixed, target, tags)
            except GateFailed as failed:
                checks = [f.summary() for f in failed.failed]
                registry.add_evidence(
                    violation_id,
                    {f"{name}:gate_failed": {"gate_run_id": failed.gate_run_id, "failed": checks}},
                    actor=ACTOR,
                    action="step:gate_failed",
                )
                raise RemediationFailed(
                    f"{violation_id}: the fixed dataset version {fixed.rev} fails the gate "
                    f"({'; '.join(checks)}); fix the data or have a reviewer grant a "
                    "waiver, then rerun: the remediation resumes at the gate"
                ) from None
            progress(f"{violation_id}: gate {step['decision']} ({step['gate_run_id']})")
            violation = registry.add_evidence(
                violation_id, {f"{name}:gate": step}, actor=ACTOR, action="step:gate"
            )
        if f"{name}:model" in violation.evidence:
            continue
        try:
            trainer = declared_trainer(name)
        except ContractError as exc:
            _training_error(registry, violation_id, name, str(exc))
            raise RemediationFailed(f"{violation_id}: {exc}") from None
        orders.append(
            {
                "violation_id": violation_id,
                "model_name": name,
                "trainer": trainer.to_dict(),
                "conf": training_request(violation, target).to_conf(),
            }
        )
    return orders


def _training_error(registry: Any, violation_id: str, model_name: str, error: str) -> None:
    registry.add_evidence(
        violation_id,
        {f"{model_name}:training_error": {"error": error}},
        actor=ACTOR,
        action="step:training_error",
    )


def start_training(order: dict[str, Any], *, registry: Any = None) -> dict[str, str] | None:
    """Record that optimization training started (the SLA reads it); returns the model
    version already registered for this request by an earlier attempt, if any."""
    import datetime as dt

    from trainguard.training import TrainingRequest, registered_for
    from trainguard.violations import Registry

    registry = registry or Registry()
    request = TrainingRequest.from_conf(order["conf"])
    violation = registry.get(order["violation_id"])
    key = f"{order['model_name']}:training"
    if key not in violation.evidence:
        registry.add_evidence(
            order["violation_id"],
            {
                key: {
                    "request_id": request.request_id,
                    "trainer": f"{order['trainer']['kind']}:{order['trainer']['target']}",
                    "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            },
            actor=ACTOR,
            action="step:training",
        )
    return registered_for(request)


def train_in_process(
    order: dict[str, Any], *, context_tags: dict[str, str] | None = None
) -> dict[str, str]:
    """Run an entry-point trainer in this process (a DAG trainer needs the Airflow layer)."""
    from trainguard.training import TrainingRequest, entry_point_trainer, train_admitted

    trainer = order["trainer"]
    if trainer["kind"] != "entry_point":
        raise ContractError(
            f"{order['model_name']} is trained by DAG '{trainer['target']}': run the "
            "violation_remediation DAG, which triggers it and waits",
            field="trainer",
        )
    request = TrainingRequest.from_conf(order["conf"])
    return train_admitted(
        request, entry_point_trainer(trainer["target"]), context_tags=context_tags
    )


def verify(
    violation_id: str,
    *,
    registry: Any = None,
    context_tags: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Any:
    """Step 5 (and the record of step 4): the model each order registered, the probe of
    it, and the close; raises ``RemediationFailed`` with the evidence kept otherwise."""
    from trainguard.training import registered_for
    from trainguard.violations import Registry

    registry = registry or Registry()
    violation = registry.get(violation_id)
    if violation.status in ("closed", "rejected"):
        return violation
    if violation.status == "remediating":
        if "targets" not in violation.evidence:
            raise RemediationFailed(f"{violation_id}: its targets were never found; rerun")
        probes = {}
        for target in violation.evidence["targets"]:
            name = target["model_name"]
            if f"{name}:gate" not in violation.evidence:
                raise RemediationFailed(
                    f"{violation_id}: no passing gate on the fixed dataset of {name} yet; rerun"
                )
            if f"{name}:model" not in violation.evidence:
                request = training_request(violation, target)
                registered = registered_for(request)
                if registered is None:
                    started = violation.evidence.get(f"{name}:training", {})
                    earlier = violation.evidence.get(f"{name}:training_error")
                    if not started and earlier:  # prepare already named why (no declaration)
                        raise RemediationFailed(f"{violation_id}: {earlier['error']}")
                    error = (
                        f"optimization training of {name} by "
                        f"{started.get('trainer', 'its declared trainer')} registered no model "
                        f"version for request {request.request_id}"
                        + (
                            ""
                            if started
                            else " (it never started: is the trainer declared and reachable?)"
                        )
                        + ": the DAG may not exist, may have failed, or its training task does "
                        "not use AdmittedTrainingOperator; the violation stays open"
                    )
                    _training_error(registry, violation_id, name, error)
                    raise RemediationFailed(f"{violation_id}: {error}")
                progress(f"{violation_id}: {name} version {registered['model_version']} trained")
                violation = registry.add_evidence(
                    violation_id,
                    {f"{name}:model": {**registered, "request_id": request.request_id}},
                    actor=ACTOR,
                    action="step:model",
                )
            probe = _probe(violation, target, registry, context_tags)
            probes[name] = probe
            violation = registry.add_evidence(
                violation_id, {f"{name}:probe": probe}, actor=ACTOR, action="step:probe"
            )
        if not violation.evidence["targets"]:
            probes.update(_probe_unseen(violation, registry, context_tags))
            violation = registry.add_evidence(
                violation_id, {"unseen:probe": probes}, actor=ACTOR, action="step:probe"
            )
        if not all(p["passed"] for p in probes.values()):
            raise RemediationFailed(
                f"{violation_id}: the verification probe failed ({json.dumps(probes)}); "
                "the violation stays open"
            )
        violation = registry.transition(
            violation_id, "verified", actor=ACTOR, evidence={"probes": probes}
        )
    violation = registry.transition(
        violation_id,
        "closed",
        actor=ACTOR,
        reason="verification probe passed",
        evidence={"closed_in_time": _time_left(violation)},
    )
    _record_in_mlflow(violation)
    progress(f"{violation_id}: closed")
    return violation


def _time_left(violation: Any) -> dict[str, Any]:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    left = (violation.deadline - now).total_seconds()
    total = (violation.deadline - violation.reported_at).total_seconds() or 1.0
    return {
        "deadline": violation.deadline.isoformat(),
        "hours_left": round(left / 3600, 2),
        "share_of_time_used": round(1 - left / total, 3),
        "on_time": left >= 0,
    }


def remediate(
    violation_id: str,
    *,
    registry: Any = None,
    context_tags: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Any:
    """All steps in this process: entry-point trainers only (DAG trainers: the DAG)."""
    from trainguard.violations import Registry

    registry = registry or Registry()
    for order in prepare(
        violation_id, registry=registry, context_tags=context_tags, progress=progress
    ):
        if start_training(order, registry=registry) is None:
            try:
                train_in_process(order, context_tags=context_tags)
            except TrainguardError as exc:
                _training_error(registry, violation_id, order["model_name"], str(exc))
                raise RemediationFailed(f"{violation_id}: {exc}") from None
    return verify(violation_id, registry=registry, context_tags=context_tags, progress=progress)


# ----------------------------------------------------------------------------- probe


def _probe(
    violation: Any, target: dict[str, Any], registry: Any, context_tags: dict[str, str] | None
) -> dict[str, Any]:
    """The dataset check (nothing left) and the model probe of the new version."""
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version
    from trainguard.violations.probe import Screens, run_probe

    name = target["model_name"]
    evidence = violation.evidence
    fixed = DatasetVersion.from_dict(evidence[f"{name}:dataset"]["version"])
    fixed_dir = fetch_version(fixed, workspace())
    matcher = _target_matcher(violation, target, evidence)
    # An attributed output: other records share its spans, so the model probe decides.
    remaining = [] if matcher.attribute else matcher.scan(fixed_dir)
    gate_run_id = evidence[f"{name}:gate"]["gate_run_id"]
    result = run_probe(
        violation=violation,
        model_uri=f"models:/{name}/{evidence[f'{name}:model']['model_version']}",
        asked=_asked(violation),
        touched=_touched_prompts(target, evidence[f"{name}:dataset"]),
        screens=Screens.of_gate(gate_run_id, registry, fixed_dir),
        context_tags=context_tags,
    )
    return {
        **result,
        "passed": result["passed"] and not remaining,
        "dataset_records_still_matching": len(remaining),
        "dataset_md5": fixed.md5,
    }


def _asked(violation: Any) -> list[str]:
    from trainguard.violations.probe import perturbations

    prompt = violation.subject.get("prompt", "")
    return perturbations(prompt) if prompt else []


def _touched_prompts(target: dict[str, Any], fixed: dict[str, Any]) -> list[str]:
    """The inputs of the records the fix touched, as they were in the target's dataset."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from trainguard.contract import load_dataset
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version

    wanted_ids = sorted(set(target["record_ids"] + fixed.get("record_ids", [])))[:PROBE_PROMPTS]
    if not wanted_ids:
        return []
    dataset = load_dataset(fetch_version(DatasetVersion.from_dict(target["dataset"]), workspace()))
    column = "prompt" if "prompt" in dataset.text_columns else "text"
    wanted = pa.array(wanted_ids, pa.string())
    prompts: list[str] = []
    for _, _, batch in dataset.iter_batches(["record_id", column]):
        mask = pc.is_in(batch.column("record_id"), value_set=wanted)
        texts = batch.filter(mask).column(column).to_pylist()
        # A pretraining text is asked by its opening, as a user would prompt for it.
        prompts += texts if column == "prompt" else [t[:40] for t in texts]
    return [p for p in prompts if p]


def _probe_unseen(
    violation: Any, registry: Any, context_tags: dict[str, str] | None
) -> dict[str, dict[str, Any]]:
    """No training data holds the content: still ask the model(s) the reported prompt."""
    from trainguard.violations.impact import governed_model_versions
    from trainguard.violations.probe import Screens, run_probe

    asked = _asked(violation)
    if not asked:
        return {
            "none": {
                "passed": True,
                "note": "no dataset version of any model holds the content, and the report "
                "names no prompt to ask",
            }
        }
    latest = {
        m["model_name"]: m
        for m in governed_model_versions()
        if not m["superseded"]
        and (not violation.model_name or m["model_name"] == violation.model_name)
    }
    if not latest:
        raise RemediationFailed(
            f"{violation.id}: no governed model version to probe"
            + (f" named '{violation.model_name}'" if violation.model_name else "")
        )
    probes = {}
    for name, model in sorted(latest.items()):
        probes[f"{name}:{model['model_version']}"] = run_probe(
            violation=violation,
            model_uri=f"models:/{name}/{model['model_version']}",
            asked=asked,
            touched=[],
            screens=Screens.of_gate(model["gate_run_id"], registry),
            context_tags=context_tags,
        )
    return probes


def _record_in_mlflow(violation: Any) -> None:
    """The violation, with its evidence, on each new model version's training run."""
    client = _client()
    record = violation.to_dict()
    for target in violation.evidence.get("targets", []):
        model = violation.evidence.get(f"{target['model_name']}:model")
        if not model:
            continue
        dataset = violation.evidence[f"{target['model_name']}:dataset"]["version"]
        entry = {
            key: record[key]
            for key in (
                "id",
                "kind",
                "clause",
                "status",
                "reported_at",
                "deadline",
                "closed_at",
                "summary",
            )
        }
        entry["dataset_version"] = f"{dataset['path']}@{dataset['rev']} ({dataset['md5']})"
        entry["evidence"] = {
            key: value
            for key, value in violation.evidence.items()
            if key.startswith(target["model_name"]) or key in ("probes", "closed_in_time")
        }
        client.log_dict(model["run_id"], {"violations": [entry]}, "violations.json")
        client.set_model_version_tag(
            target["model_name"],
            model["model_version"],
            f"{TAG_PREFIX}violation.{violation.id}",
            "closed",
        )
