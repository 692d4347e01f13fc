"""The gate and training steps on a DVC dataset version, as plain functions.

The Airflow operators are thin wrappers over these; they never import Airflow, so the
same steps run from a test, a notebook or another orchestrator.

Fail closed: ``gate_version`` either returns a passing report, raises ``GateFailed``
(a decision) or raises ``GateError`` (no decision could be reached: unreadable data,
missing DVC remote, MLflow down...). ``train_admitted_version`` re-reads the gate's
decision from MLflow and refuses to train unless it passed for this exact version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import (
    GateError,
    GateFailed,
    TrainguardError,
)
from trainguard.findings import Decision, GateReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from trainguard.policy import Policy
    from trainguard.versioning import DatasetVersion

GATE_DUTIES = "Art. 7 (lawful sources, licences, IP, consent, harmful content)"


def workspace() -> Path:
    """Where fetched dataset versions are cached: ``$TRAINGUARD_HOME/datasets``."""
    from trainguard.versioning import workspace as dataset_workspace

    return dataset_workspace()


@dataclass(frozen=True)
class GateOutcome:
    report: GateReport
    run_id: str

    def summary(self) -> dict[str, Any]:
        """JSON-safe, PI-free summary (for XCom and logs)."""
        return {
            "decision": self.report.decision.value,
            "gate_run_id": self.run_id,
            "dataset": self.report.to_dict()["dataset"],
            "failed": [
                {
                    "check": f.check,
                    "clauses": list(f.clauses),
                    "source_id": f.source_id,
                    "message": f.message,
                }
                for f in self.report.failed
            ],
        }


def governance_facts(
    report: GateReport, version: DatasetVersion, gate_run_id: str | None
) -> dict[str, Any]:
    """What lineage consumers need of a decision (PI-free): licences, PI kinds, clauses."""
    sources = report.composition.get("sources", [])
    found: dict[str, int] = {}
    covered: dict[str, int] = {}
    for key, value in report.metrics.items():
        if key.startswith(("pi.covered.", "pi.uncovered.")):
            kind = key.rsplit(".", 1)[-1]
            found[kind] = found.get(kind, 0) + int(value)
            if key.startswith("pi.covered."):
                covered[kind] = covered.get(kind, 0) + int(value)
    return {
        "decision": report.decision.value,
        "gate_run_id": gate_run_id or "",
        "failed_checks": sorted({f.check for f in report.failed}),
        "failed_clauses": sorted({c for f in report.failed for c in f.clauses}),
        "waived_checks": sorted({f.check for f in report.findings if f.waiver}),
        "licenses": {s["id"]: s["license"] for s in sources},
        "pi_kinds_found": dict(sorted(found.items())),
        "pi_kinds_covered": dict(sorted(covered.items())),
        "records": report.records,
        "dataset": {
            "repo": version.repo,
            "path": version.path,
            "commit": version.commit,
            "md5": version.md5,
        },
    }


def _fail_closed(step: Callable[[], Any]) -> Any:
    """Run a gate step; any error becomes a ``GateError`` naming its cause."""
    try:
        return step()
    except (GateFailed, GateError):
        raise
    except TrainguardError as exc:
        raise GateError(_blocked(exc)) from exc
    except Exception as exc:
        raise GateError(_blocked(exc, unexpected=True)) from exc


def scan_workdir(version: DatasetVersion, policy: Policy, lexicons: list[str]) -> Path:
    """Where the shard scans of one version under one policy and lexicon set are written."""
    key = hashlib.sha256("|".join([policy.digest, *sorted(lexicons)]).encode()).hexdigest()
    return workspace().parent / "scans" / f"{version.md5[:12]}-{key[:12]}"


def _resources(
    version: DatasetVersion, policy_path: str | None, lexicons: list[str]
) -> tuple[Any, Path]:
    from trainguard.gate.scan import ScanResources
    from trainguard.policy import load_policy
    from trainguard.versioning import fetch_version

    policy = load_policy(policy_path or None)
    local = fetch_version(version, workspace())
    return ScanResources.build(local, policy, lexicons), scan_workdir(version, policy, lexicons)


def list_shards(version: DatasetVersion, *, policy_path: str | None = None) -> list[str]:
    """Fetch the version, check its contract once, and name its shards (for task mapping)."""

    def step() -> list[str]:
        from trainguard.contract import load_dataset
        from trainguard.policy import load_policy
        from trainguard.versioning import fetch_version

        load_policy(policy_path or None)  # a bad policy fails here, not in every shard task
        dataset = load_dataset(fetch_version(version, workspace()))
        stats = dataset.validate_records()
        _write_source_records(version, dict(stats.by_source))
        return [shard.name for shard in dataset.shards]

    return _fail_closed(step)


def _source_records_path(version: DatasetVersion) -> Path:
    # By content (the DVC md5), so it holds for every policy and lexicon set.
    return workspace().parent / "scans" / f"{version.md5}-records.json"


def _write_source_records(version: DatasetVersion, counts: dict[str, int]) -> None:
    """Each source's record count, which lets the shard tasks score only what the samples
    can need. Written then renamed; a folder that cannot be written only costs scoring."""
    import os

    from trainguard.gate.shared import SharedFolder

    target = _source_records_path(version)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(counts, sort_keys=True), encoding="utf-8")
        os.replace(partial, target)
        SharedFolder.of(target.parent).push([target.name])
    except (OSError, TrainguardError):
        partial.unlink(missing_ok=True)


def _read_source_records(version: DatasetVersion) -> dict[str, int] | None:
    """What ``list_shards`` counted; None (score each shard's own samples) when absent."""
    from trainguard.gate.shared import SharedFolder

    path = _source_records_path(version)
    try:
        SharedFolder.of(path.parent).pull([path.name])
        counts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TrainguardError):
        return None
    valid = isinstance(counts, dict) and all(
        isinstance(k, str) and isinstance(v, int) for k, v in counts.items()
    )
    return counts if valid else None


def scan_version_shard(
    version: DatasetVersion,
    shard: str,
    *,
    policy_path: str | None = None,
    lexicons: list[str] | None = None,
) -> dict[str, Any]:
    """Scan one shard of the version (one mapped task); returns a PI-free summary."""
    from trainguard.gate.decide import SHARDS_DIR
    from trainguard.gate.scan import scan_shard
    from trainguard.gate.shared import SharedFolder

    def step() -> dict[str, Any]:
        resources, workdir = _resources(version, policy_path, lexicons or [])
        path = resources.dataset.root / "records" / shard
        if path not in resources.dataset.shards:
            raise GateError(f"shard {shard} is not part of {version.path}@{version.commit[:12]}")
        counts = _read_source_records(version)
        summary = scan_shard(resources, path, workdir / SHARDS_DIR, source_records=counts)
        SharedFolder.of(workdir / SHARDS_DIR).push(_scan_files(resources, [shard]))
        return summary

    return _fail_closed(step)


def _scan_files(resources: Any, shards: list[str] | None = None) -> list[str]:
    """The scan and partial file names of these shards (default: every shard)."""
    from pathlib import Path

    from trainguard.gate.reduce import partial_path
    from trainguard.gate.scan_files import SHARD_PREFIX, scan_files

    names = (
        scan_files(resources.dataset)
        if shards is None
        else [f"{SHARD_PREFIX}{shard}.parquet" for shard in shards]
    )
    return [f for n in names for f in (n, partial_path(Path(), n).name)]


def _pull_scans(resources: Any, scans: Path) -> None:
    """On a worker that does not share TRAINGUARD_HOME: fetch every shard's scan."""
    from trainguard.gate.shared import SharedFolder

    SharedFolder.of(scans).pull(_scan_files(resources))


def _staged_duplicates(workdir: Path, run_id: str) -> Path:
    """Where one run's mapped near-duplicate tasks share their files."""
    return workdir / "duplicates" / hashlib.sha256(run_id.encode()).hexdigest()[:16]


def plan_near_duplicates(
    version: DatasetVersion,
    *,
    run_id: str,
    policy_path: str | None = None,
    lexicons: list[str] | None = None,
) -> list[int]:
    """Spill the scans' band keys for the mapped near-duplicate stages (one task); returns
    the groups to map ``near_duplicate_stage`` over."""
    import shutil

    from trainguard.gate.decide import SHARDS_DIR
    from trainguard.gate.duplicates import MAX_GROUPS, plan_stages
    from trainguard.gate.reduce import merged_scans
    from trainguard.gate.shared import SharedFolder

    def step() -> list[int]:
        resources, workdir = _resources(version, policy_path, lexicons or [])
        scans = workdir / SHARDS_DIR
        _pull_scans(resources, scans)
        names, offsets, partial = merged_scans(resources, scans)
        folder = _staged_duplicates(workdir, run_id)
        shared = SharedFolder.of(folder)
        shutil.rmtree(folder, ignore_errors=True)  # a retry starts over
        shared.delete()
        folder.mkdir(parents=True, mode=0o700)
        try:
            plan = plan_stages(scans, names, offsets, partial.records, folder, groups=MAX_GROUPS)
            shared.push(["*"])
        finally:
            if shared.remote:  # the shared copy is the one the stages read
                shutil.rmtree(folder, ignore_errors=True)
        return list(range(plan.groups))

    return _fail_closed(step)


def near_duplicate_stage(
    version: DatasetVersion,
    stage: str,
    group: int,
    *,
    run_id: str,
    policy_path: str | None = None,
    lexicons: list[str] | None = None,
) -> dict[str, Any]:
    """One group of the ``pairs`` or ``windows`` near-duplicate stage (a mapped task)."""
    import shutil

    from trainguard.gate.duplicates import PLAN, Plan, stage_files
    from trainguard.gate.shared import SharedFolder
    from trainguard.policy import load_policy

    def step() -> dict[str, Any]:
        if stage not in ("pairs", "windows"):
            raise GateError(f"unknown near-duplicate stage {stage!r}: expected pairs or windows")
        # Only the policy: these stages read the staged folder, never the dataset, so
        # they skip fetching it and building the scanners (seconds per mapped task).
        policy = load_policy(policy_path or None)
        folder = _staged_duplicates(scan_workdir(version, policy, lexicons or []), run_id)
        shared = SharedFolder.of(folder)
        if shared.remote:  # what this worker may hold of an earlier attempt is not trusted
            shutil.rmtree(folder, ignore_errors=True)
        try:
            shared.pull([PLAN])
            plan = Plan.read(folder)
            if plan is None:
                raise GateError(
                    f"no near-duplicate plan in {shared.url or folder}: "
                    "plan_near_duplicates runs first"
                )
            reads, writes, used_up = stage_files(plan, stage, group)
            shared.pull(reads)
            _run_stage(policy, folder, plan, stage, group)
            shared.push(writes)
            shared.delete(used_up)
        finally:
            if shared.remote:
                shutil.rmtree(folder, ignore_errors=True)
        return {"stage": stage, "group": group, "groups": plan.groups}

    return _fail_closed(step)


def _run_stage(policy: Policy, folder: Path, plan: Any, stage: str, group: int) -> None:
    from trainguard.gate.duplicates import pairs_stage, windows_stage
    from trainguard.scanners.minhash import ESTIMATE_MARGIN

    if stage == "pairs":
        pairs_stage(folder, plan, group)
    else:
        cutoff = policy.quality.near_duplicate_similarity - ESTIMATE_MARGIN
        windows_stage(folder, plan, group, cutoff)


def gate_version(
    version: DatasetVersion,
    *,
    stage: str,
    policy_path: str | None = None,
    lexicons: list[str] | None = None,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
    dag_run_id: str | None = None,
) -> GateOutcome:
    """Decide on a version whose shards were scanned, record it; raise unless it passes.

    ``dag_run_id``: the DAG run whose mapped near-duplicate tasks (if any) staged files.
    """
    from trainguard.gate.decide import SHARDS_DIR, decide
    from trainguard.tracking import log_gate_run

    def step() -> tuple[GateReport, str]:
        import resource
        import time

        from trainguard.gate.duplicates import PLAN
        from trainguard.gate.shared import SharedFolder
        from trainguard.gate.waivers import WaiverStore

        started = time.perf_counter()
        resources, workdir = _resources(version, policy_path, lexicons or [])
        _pull_scans(resources, workdir / SHARDS_DIR)
        staged = _staged_duplicates(workdir, dag_run_id) if dag_run_id else None
        shared = SharedFolder.of(staged) if staged else None
        try:
            if shared is not None:
                shared.pull([PLAN, "close-*.bin"])
            report = decide(
                resources,
                workdir,
                digest=version.md5,
                waivers=WaiverStore().waivers(),
                staged_duplicates=staged,
            )
        finally:
            if shared is not None:
                shared.delete()  # the stages' files are of this run only
        # The lexicons are recorded so a later re-gate (remediation) uses the same ones.
        tags = {**(context_tags or {}), "trainguard.lexicons": json.dumps(lexicons or [])}
        run_id = log_gate_run(
            report,
            version,
            resources.policy,
            stage=stage,
            context_tags=tags,
            experiment=experiment,
            task_metrics={
                "seconds": time.perf_counter() - started,
                # ru_maxrss is in KiB on Linux: what sizes a gate worker
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
        )
        return report, run_id

    report, run_id = _fail_closed(step)
    outcome = GateOutcome(report, run_id)
    if report.decision is Decision.FAIL:
        raise GateFailed(report.failed, gate_run_id=run_id, report=report)
    return outcome


def _blocked(exc: BaseException, *, unexpected: bool = False) -> str:
    kind = f"unexpected {type(exc).__name__}: " if unexpected else ""
    return (
        f"gate could not decide, training blocked (fail closed; {GATE_DUTIES} "
        f"unverified): {kind}{exc}"
    )


def train_admitted_version(
    version: DatasetVersion,
    *,
    gate_run_id: str,
    model_name: str,
    stage: str,
    context_tags: dict[str, str] | None = None,
    experiment: str | None = None,
    base_model_uri: str = "",
) -> dict[str, str]:
    """Train the demo responder on a version the gate admitted (the training contract:
    the decision is re-checked for that exact commit and md5), and register it; a
    fine-tuning names its base model (``models:/NAME/VERSION``)."""
    from trainguard.training import TrainingRequest, train_admitted
    from trainguard.training.responder import train

    request = TrainingRequest(
        model_name=model_name,
        stage=stage,
        dataset=version.to_dict(),
        gate_run_id=gate_run_id,
        base_model_uri=base_model_uri,
    )
    return train_admitted(request, train, context_tags=context_tags, experiment=experiment)
