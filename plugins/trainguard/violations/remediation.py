"""Optimization training that fixes a violation before its deadline (Art. 15), and proves it.

For a filtered violation, ``remediate`` walks these steps, each recorded as evidence on
the violation before the next starts, so a run killed midway resumes where it stopped:

1. **targets** - through lineage, the model versions whose training data holds the
   offending records: the exact or nearly duplicated output, a PI value by its HMAC, a
   withdrawn work's text, or a source named by a data finding;
2. **dataset** - a fixed dataset version: those records dropped (or, for PI, the values
   masked), and so is the content of every other reported violation every gate refuses
   (``checks/reported.py``), committed as a new DVC revision whose commit message and tag
   name the violation (an existing tag is reused: never a duplicate version);
3. **gate** - the gate on the fixed version, exactly as for any training run;
4. **model** - optimization training of the affected model on the fixed version, the new
   model version tagged with the violation it fixes;
5. **probe** - verification: the reported prompt no longer yields the violating output;
   the deleted PI is nowhere in the new dataset version nor in the model's answers to
   probe prompts; the withdrawn work is not reproduced.

Only a passing probe moves the violation to ``verified`` and ``closed``; the evidence
(digests, run ids, probe results) goes to the registry and, as ``violations.json`` and tags,
to the new model version's training run in MLflow.

Kept as one module (about 550 lines): the remediation of one violation in the order it
happens (targets, fixed revision, gate, optimization training, probe, evidence), so the
lifecycle reads top to bottom.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError, GateFailed, TrainguardError
from trainguard.tracking import TAG_PREFIX
from trainguard.versioning import DatasetVersion
from trainguard.violations.filtering import (
    NEAR_DUPLICATE_JACCARD,
    WORK_OVERLAP,
    char_grams,
    hashed_grams,
    normalise,
)

if TYPE_CHECKING:
    from collections.abc import Callable

ACTOR = "trainguard-remediation"
PROBE_PROMPTS = 20


class RemediationFailed(TrainguardError):
    """Raised when the verification probe fails: the violation stays open, with evidence."""


# ----------------------------------------------------------------------------- matching


class Matcher:
    """Which records of a dataset hold a violation's content, and what to do with them."""

    def __init__(self, violation: Any) -> None:
        self.kind = violation.kind
        subject = violation.subject
        if self.kind == "harmful_output":
            self.banned = normalise(subject["output"])
            self.banned_grams = char_grams(self.banned, 4)
        elif self.kind == "pi_request":
            self.hmacs = {item["hmac"] for item in subject["pi"]}
        elif self.kind == "ip_complaint":
            self.work = set(subject.get("work_grams") or [])
            if not self.work and not subject.get("source_id"):
                raise ContractError(
                    "the complaint names neither the text of a work nor a source to look for",
                    field="work-file",
                )
            if not self.work:
                self.kind = "source"  # a complaint about a whole source: drop its records
        if self.kind == "data_finding":
            self.kind = "source"
        self.source_id = subject.get("source_id")

    def text_offends(self, text: str) -> bool:
        normal = normalise(text)
        if self.kind == "harmful_output":
            if self.banned and self.banned in normal:
                return True
            grams = char_grams(normal, 4)
            union = len(grams | self.banned_grams) or 1
            return len(grams & self.banned_grams) / union >= NEAR_DUPLICATE_JACCARD
        if self.kind == "ip_complaint":
            hashed = hashed_grams(normal, 8)
            return len(hashed) >= 5 and len(hashed & self.work) / len(hashed) >= WORK_OVERLAP
        return False

    def pi_spans(self, text: str) -> list[tuple[int, int, str]]:
        from trainguard.personal_info import pi_hmac
        from trainguard.scanners.pi import find_pi

        return [
            (m.start, m.end, m.kind.value)
            for m in find_pi(text)
            if pi_hmac(m.kind, m.value) in self.hmacs
        ]

    def fix_batch(self, batch: Any, text_columns: tuple[str, ...]) -> tuple[Any, list[str]]:
        """The batch with offending rows dropped or masked, and the ids of those rows."""
        import pyarrow as pa

        from trainguard.personal_info import mask_text

        columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
        ids = columns["record_id"]
        keep, touched = [], []
        for row in range(batch.num_rows):
            if self.kind == "pi_request":
                changed = False
                for name in text_columns:
                    spans = self.pi_spans(columns[name][row])
                    if spans:
                        columns[name][row] = mask_text(columns[name][row], spans)
                        changed = True
                if changed:
                    touched.append(ids[row])
                keep.append(row)
                continue
            offends = (
                columns["source_id"][row] == self.source_id
                if self.kind == "source"
                else any(self.text_offends(columns[n][row]) for n in text_columns)
            )
            if offends:
                touched.append(ids[row])
            else:
                keep.append(row)
        table = pa.table(
            {
                name: pa.array([values[r] for r in keep], batch.schema.field(name).type)
                for name, values in columns.items()
            }
        )
        return table, touched

    def scan(self, dataset_dir: Path) -> list[str]:
        """Ids of the records of a dataset that hold the violation's content."""
        from trainguard.contract import load_dataset

        dataset = load_dataset(dataset_dir)
        found: list[str] = []
        for shard in dataset.shards:
            for _, _, batch in dataset.iter_batches_of(shard):
                found += self.fix_batch(batch, dataset.text_columns)[1]
        return found


def _rewrite_dataset(dataset_dir: Path, matcher: Matcher) -> list[str]:
    """Rewrite every shard of ``dataset_dir`` in place; returns the ids changed or dropped."""
    import pyarrow as pa

    from trainguard.contract import load_dataset, rewrite_shard

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


def _trained_version(model_name: str, version: str) -> tuple[Any, DatasetVersion]:
    from trainguard.versioning import resolve_version

    model_version = _client().get_model_version(model_name, version)
    tags = model_version.tags
    try:
        dataset = resolve_version(
            tags[f"{TAG_PREFIX}dataset.repo"],
            tags[f"{TAG_PREFIX}dataset.path"],
            tags[f"{TAG_PREFIX}dataset.commit"],
        )
    except KeyError:
        raise ContractError(
            f"model {model_name} version {version} carries no trainguard dataset lineage",
            field="model",
        ) from None
    return model_version, dataset


def _candidate_models(violation: Any) -> list[tuple[str, str]]:
    client = _client()
    if violation.model_name:
        version = violation.model_version or max(
            (mv.version for mv in client.search_model_versions(f"name='{violation.model_name}'")),
            key=int,
            default=None,
        )
        if version is None:
            raise ContractError(f"no registered model '{violation.model_name}'", field="model")
        return [(violation.model_name, str(version))]
    found = []
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        latest = max(versions, key=lambda mv: int(mv.version), default=None)
        if latest is not None and f"{TAG_PREFIX}training_run_id" in latest.tags:
            found.append((model.name, str(latest.version)))
    return sorted(found)


def find_targets(violation: Any) -> list[dict[str, Any]]:
    """The model versions (and their dataset versions) whose data holds the content."""
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version

    matcher = Matcher(violation)
    targets = []
    for model_name, version in _candidate_models(violation):
        model_version, dataset = _trained_version(model_name, version)
        records = matcher.scan(fetch_version(dataset, workspace()))
        if records:
            targets.append(
                {
                    "model_name": model_name,
                    "model_version": version,
                    "stage": model_version.tags.get(f"{TAG_PREFIX}stage", ""),
                    "gate_run_id": model_version.tags.get(f"{TAG_PREFIX}gate_run_id"),
                    "dataset": dataset.to_dict(),
                    "records": len(records),
                    "record_ids": records[:100],
                }
            )
    return targets


def fix_tag(violation_id: str, path: str) -> str:
    return f"fix-{violation_id}-{path.strip('/').replace('/', '-')}"


def _other_reported(violation: Any, registry: Any) -> list[Any]:
    """The other violations whose content every gate refuses (checks/reported.py): a
    fixed revision removes all of it, not only its own violation's, or its gate fails."""
    from trainguard.violations.filtering import gates_enforce

    return [o for o in registry.list() if o.id != violation.id and gates_enforce(o)]


def _fixed_dataset(violation: Any, target: dict[str, Any], registry: Any) -> dict[str, Any]:
    from trainguard.versioning import rewrite_revision

    source = DatasetVersion.from_dict(target["dataset"])
    matcher = Matcher(violation)
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
        tag=fix_tag(violation.id, source.path),
        rewrite=rewrite,
    )
    return {
        "version": fixed.to_dict(),
        "records_changed": len(touched),
        "also_removed": also,
        "from_md5": source.md5,
        "from_commit": source.commit,
    }


def _gate_settings(gate_run_id: str | None) -> tuple[str | None, list[str]]:
    """The policy file and lexicons the original gate used (when still readable)."""
    if not gate_run_id:
        return None, []
    run = _client().get_run(gate_run_id)
    policy = run.data.params.get("policy_source", "")
    lexicons = json.loads(run.data.tags.get(f"{TAG_PREFIX}lexicons", "[]"))
    return (policy if policy and Path(policy).is_file() else None), lexicons


def _gate(fixed: DatasetVersion, target: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    from trainguard.pipeline import gate_version, list_shards, scan_version_shard

    policy, lexicons = _gate_settings(target.get("gate_run_id"))
    for shard in list_shards(fixed, policy_path=policy):
        scan_version_shard(fixed, shard, policy_path=policy, lexicons=lexicons)
    outcome = gate_version(
        fixed, stage=target["stage"], policy_path=policy, lexicons=lexicons, context_tags=tags
    )
    return {"gate_run_id": outcome.run_id, "decision": outcome.report.decision.value}


def _train(
    violation: Any,
    fixed: DatasetVersion,
    target: dict[str, Any],
    gate_run_id: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    from trainguard.pipeline import train_admitted_version

    registered = train_admitted_version(
        fixed,
        gate_run_id=gate_run_id,
        model_name=target["model_name"],
        stage=target["stage"],
        context_tags={**tags, f"{TAG_PREFIX}kind": "optimization_training"},
    )
    client = _client()
    for key, value in (
        (f"{TAG_PREFIX}fixes_violations", violation.id),
        (f"{TAG_PREFIX}fixed_from_version", target["model_version"]),
    ):
        client.set_model_version_tag(target["model_name"], registered["model_version"], key, value)
    return {"model_version": registered["model_version"], "run_id": registered["run_id"]}


def _probe(
    violation: Any, target: dict[str, Any], fixed: DatasetVersion, model_version: str
) -> dict[str, Any]:
    """The verification probe; ``passed`` only when every check holds."""
    import mlflow.sklearn

    from trainguard.contract import load_dataset
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version

    matcher = Matcher(violation)
    fixed_dir = fetch_version(fixed, workspace())
    remaining = matcher.scan(fixed_dir)
    model = mlflow.sklearn.load_model(f"models:/{target['model_name']}/{model_version}")
    prompts = _probe_prompts(violation, load_dataset(fixed_dir), target["record_ids"])
    answers = model.predict(prompts) if prompts else []
    if violation.kind == "pi_request":
        leaking = [i for i, answer in enumerate(answers) if matcher.pi_spans(answer)]
    elif matcher.kind == "source":
        leaking = []  # the dataset check above is the proof: no record of the source is left
    else:
        leaking = [i for i, answer in enumerate(answers) if matcher.text_offends(answer)]
    return {
        "passed": not remaining and not leaking,
        "dataset_records_still_matching": len(remaining),
        "probe_prompts": len(prompts),
        "answers_violating": len(leaking),
        "model_version": model_version,
        "dataset_md5": fixed.md5,
    }


def _probe_prompts(violation: Any, dataset: Any, record_ids: list[str]) -> list[str]:
    """The reported prompt, and the inputs of the records the fix touched (as they are now)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    prompts = [violation.subject["prompt"]] if violation.subject.get("prompt") else []
    wanted = pa.array(sorted(set(record_ids[:PROBE_PROMPTS])), pa.string())
    column = "prompt" if "prompt" in dataset.text_columns else "text"
    for _, _, batch in dataset.iter_batches(["record_id", column]):
        mask = pc.is_in(batch.column("record_id"), value_set=wanted)
        prompts += batch.filter(mask).column(column).to_pylist()
    if violation.kind in ("harmful_output", "ip_complaint") and len(prompts) < 2:
        prompts.append(violation.subject.get("output", "")[:200] or "")
    return [p for p in prompts if p][: PROBE_PROMPTS + 1]


# ----------------------------------------------------------------------------- driver


# The lifecycle reads top to bottom: each step records its evidence before the next.
def remediate(  # noqa: C901
    violation_id: str,
    *,
    registry: Any = None,
    context_tags: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Any:
    """Fix, verify and close one violation; resumes from the last recorded step."""
    from trainguard.violations import Registry

    registry = registry or Registry()
    violation = registry.get(violation_id)
    if violation.status in ("closed", "rejected"):
        return violation
    if violation.status in ("reported", "triaged"):
        raise ContractError(
            f"{violation_id} is {violation.status}: triage and filter it first "
            "(the immediate measure comes before the fix)",
            field="status",
        )
    if violation.status == "filtered":
        violation = registry.transition(violation_id, "remediating", actor=ACTOR)
    tags = {**(context_tags or {}), f"{TAG_PREFIX}violation": violation_id}
    if violation.status == "remediating":
        if "targets" not in violation.evidence:
            targets = find_targets(violation)
            progress(f"{violation_id}: {len(targets)} affected model version(s)")
            violation = registry.add_evidence(
                violation_id, {"targets": targets}, actor=ACTOR, action="step:targets"
            )
        probes = {}
        for target in violation.evidence["targets"]:
            name = target["model_name"]
            if f"{name}:dataset" not in violation.evidence:
                step = _fixed_dataset(violation, target, registry)
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
                    step = _gate(fixed, target, tags)
                except GateFailed as failed:
                    checks = [f.summary() for f in failed.failed]
                    registry.add_evidence(
                        violation_id,
                        {
                            f"{name}:gate_failed": {
                                "gate_run_id": failed.gate_run_id,
                                "failed": checks,
                            }
                        },
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
            if f"{name}:model" not in violation.evidence:
                step = _train(
                    violation,
                    fixed,
                    target,
                    violation.evidence[f"{name}:gate"]["gate_run_id"],
                    tags,
                )
                progress(f"{violation_id}: trained {name} version {step['model_version']}")
                violation = registry.add_evidence(
                    violation_id, {f"{name}:model": step}, actor=ACTOR, action="step:model"
                )
            probe = _probe(
                violation, target, fixed, violation.evidence[f"{name}:model"]["model_version"]
            )
            probes[name] = probe
            violation = registry.add_evidence(
                violation_id, {f"{name}:probe": probe}, actor=ACTOR, action="step:probe"
            )
        if not violation.evidence["targets"]:
            probes["none"] = {
                "passed": True,
                "note": "no dataset version of any affected model holds the content",
            }
        if not all(p["passed"] for p in probes.values()):
            raise RemediationFailed(
                f"{violation_id}: the verification probe failed ({json.dumps(probes)}); "
                "the violation stays open"
            )
        violation = registry.transition(
            violation_id, "verified", actor=ACTOR, evidence={"probes": probes}
        )
    violation = registry.transition(
        violation_id, "closed", actor=ACTOR, reason="verification probe passed"
    )
    _record_in_mlflow(violation)
    progress(f"{violation_id}: closed")
    return violation


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
            if key.startswith(target["model_name"]) or key == "probes"
        }
        client.log_dict(model["run_id"], {"violations": [entry]}, "violations.json")
        client.set_model_version_tag(
            target["model_name"],
            model["model_version"],
            f"{TAG_PREFIX}violation.{violation.id}",
            "closed",
        )
