"""Impact analysis (Art. 13, 15): every dataset version and model version that holds it.

``find_impact`` looks at every dataset version a gate ever decided on (the gate runs in
MLflow) and every registered model version trained with trainguard's lineage tags, not
only the latest, and scans each distinct dataset version once for the content: a PI
value by its HMAC, a withdrawn work, a text, or record ids. A model version is affected
when the dataset version it was trained on holds the content; it is ``superseded`` when
a later version of the same registered model exists.

A dataset version that cannot be read (its repository or DVC remote gone) is listed with
the cause, and the answer is marked incomplete: remediation refuses to act on an
incomplete answer (fail closed), the CLI exits 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError, TrainguardError
from trainguard.tracking import TAG_PREFIX, mlflow_errors
from trainguard.violations.matching import Lookup, Matcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

RECORD_IDS_SHOWN = 100


def impact_lookup(
    *,
    pi: list[tuple[str, str]] | None = None,
    work_text: str = "",
    text: str = "",
    record_ids: list[str] | None = None,
) -> Lookup:
    """What to look for: exactly one of PI (kind, HMAC) pairs, a work's text, a text, or
    record ids. The one front door of the CLI and the API."""
    from trainguard.personal_info import parse_pi_kind
    from trainguard.violations.filtering import hashed_grams, normalise

    given = [value for value in (pi, work_text.strip(), text.strip(), record_ids) if value]
    if len(given) != 1:
        raise ContractError(
            "give exactly one of: PI HMACs, a work's text, a text, record ids", field="lookup"
        )
    if pi:
        items = []
        for kind, digest in pi:
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ContractError(
                    "not an HMAC-SHA256 in hex",
                    field="pi-hmac",
                    expected="64 hex digits (trainguard pi-hmac KIND VALUE)",
                )
            items.append({"kind": parse_pi_kind(kind, field="pi-hmac").value, "hmac": digest})
        return Lookup("pi_request", {"pi": items})
    if record_ids:
        return Lookup("record", {"record_ids": sorted(set(record_ids))})
    if work_text.strip():
        return Lookup("ip_complaint", {"work_grams": sorted(hashed_grams(normalise(work_text), 8))})
    return Lookup("harmful_output", {"output": text})


def lookup(
    *,
    pi_hmac: list[str] | None = None,
    work_file: Path | None = None,
    text_file: Path | None = None,
    record_id: list[str] | None = None,
) -> Lookup:
    """``trainguard impact``'s options: ``KIND:HMAC`` strings, files, record ids."""
    from trainguard.contract import read_text

    pairs = []
    for value in pi_hmac or []:
        separator = ":" if ":" in value else "="  # pi-hmac prints KIND=HMAC
        kind, sep, digest = value.partition(separator)
        if not sep:
            raise ContractError("not KIND:HMAC", field="pi-hmac", expected="KIND:64 hex digits")
        pairs.append((kind.strip(), digest.strip()))
    texts = {"work": "", "text": ""}
    for name, path in (("work", work_file), ("text", text_file)):
        if path is None:
            continue
        texts[name] = read_text(path, field=f"{name}-file")
        if not texts[name].strip():
            raise ContractError("the file is empty", file=str(path))
    return impact_lookup(
        pi=pairs, work_text=texts["work"], text=texts["text"], record_ids=record_id or []
    )


@dataclass
class Impact:
    """The dataset versions and model versions that hold the content."""

    looked_for: dict[str, Any]
    datasets: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    scanned: int = 0
    unreadable: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unreadable

    def latest_affected(self) -> list[dict[str, Any]]:
        return [m for m in self.models if not m["superseded"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "looked_for": self.looked_for,
            "complete": self.complete,
            "dataset_versions_scanned": self.scanned,
            "datasets": self.datasets,
            "models": self.models,
            "unreadable": self.unreadable,
        }


def _key(tags: dict[str, str]) -> tuple[str, str, str, str]:
    return (
        tags.get(f"{TAG_PREFIX}dataset.repo", ""),
        tags.get(f"{TAG_PREFIX}dataset.path", ""),
        tags.get(f"{TAG_PREFIX}dataset.commit", ""),
        tags.get(f"{TAG_PREFIX}dataset.digest", ""),
    )


def gate_runs() -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    """Every gate run in every experiment, by the dataset version it decided on."""
    import mlflow
    from mlflow import MlflowClient

    found: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    with mlflow_errors("list the gate runs"):
        experiments = [e.experiment_id for e in MlflowClient().search_experiments()]
        runs = mlflow.search_runs(
            experiments,
            filter_string=f"tags.`{TAG_PREFIX}kind` = 'gate'",
            order_by=["attributes.start_time ASC"],
            output_format="list",
        )
    for run in runs:
        tags = run.data.tags
        key = _key(tags)
        if not all(key):
            continue
        found.setdefault(key, []).append(
            {
                "run_id": run.info.run_id,
                "decision": tags.get(f"{TAG_PREFIX}decision", ""),
                "status": run.info.status,
                "stage": tags.get(f"{TAG_PREFIX}stage", ""),
                "rev": tags.get(f"{TAG_PREFIX}dataset.rev", ""),
            }
        )
    return found


def governed_model_versions() -> list[dict[str, Any]]:
    """Every registered model version with trainguard lineage, each marked latest or not."""
    from mlflow import MlflowClient

    client = MlflowClient()
    versions: list[Any] = []
    with mlflow_errors("list the registered model versions"):
        page = client.search_model_versions(max_results=1000)
        versions += list(page)
        while page.token:
            page = client.search_model_versions(max_results=1000, page_token=page.token)
            versions += list(page)
    governed = [v for v in versions if f"{TAG_PREFIX}training_run_id" in (v.tags or {})]
    numbers: dict[str, list[int]] = {}
    for version in governed:
        numbers.setdefault(version.name, []).append(int(version.version))
    models = []
    for version in governed:
        tags = version.tags
        later = sorted(n for n in numbers[version.name] if n > int(version.version))
        models.append(
            {
                "model_name": version.name,
                "model_version": str(version.version),
                "superseded": bool(later),
                "superseded_by": str(later[-1]) if later else None,
                "stage": tags.get(f"{TAG_PREFIX}stage", ""),
                "gate_run_id": tags.get(f"{TAG_PREFIX}gate_run_id"),
                "training_run_id": tags[f"{TAG_PREFIX}training_run_id"],
                "fixes_violations": tags.get(f"{TAG_PREFIX}fixes_violations", ""),
                "key": _key(tags),
            }
        )
    return sorted(models, key=lambda m: (m["model_name"], int(m["model_version"])))


def find_impact(
    matcher: Matcher, *, progress: Callable[[str], None] = lambda message: None
) -> Impact:
    """Scan every gated or trained-on dataset version once; list what holds the content."""
    from trainguard.pipeline import workspace
    from trainguard.versioning import fetch_version, resolve_version

    gated = gate_runs()
    models = governed_model_versions()
    keys = list(dict.fromkeys([*gated, *(m["key"] for m in models if all(m["key"]))]))
    impact = Impact(looked_for=matcher.describe())
    held: dict[tuple[str, str, str, str], list[str]] = {}
    for number, key in enumerate(keys, 1):
        repo, path, commit, md5 = key
        progress(f"impact: dataset version {number}/{len(keys)}: {path}@{commit[:12]}")
        try:
            version = resolve_version(repo, path, commit)
            if version.md5 != md5:
                raise TrainguardError(f"{path}@{commit[:12]} has md5 {version.md5}, not {md5}")
            records = matcher.scan(fetch_version(version, workspace()))
        except TrainguardError as exc:
            impact.unreadable.append(
                {"repo": repo, "path": path, "commit": commit, "md5": md5, "error": str(exc)}
            )
            continue
        impact.scanned += 1
        if records:
            held[key] = records
            runs = gated.get(key, [])
            impact.datasets.append(
                {
                    "repo": repo,
                    "path": path,
                    "commit": commit,
                    "md5": md5,
                    "revs": sorted({r["rev"] for r in runs if r["rev"]}),
                    "gate_runs": runs,
                    "records": len(records),
                    "record_ids": records[:RECORD_IDS_SHOWN],
                }
            )
    for model in models:
        affected = held.get(model["key"])
        if affected:
            repo, path, commit, md5 = model.pop("key")
            impact.models.append(
                {
                    **model,
                    "dataset": {"repo": repo, "path": path, "commit": commit, "md5": md5},
                    "records": len(affected),
                    "record_ids": affected[:RECORD_IDS_SHOWN],
                }
            )
    return impact


def impact_text(impact: Impact) -> str:
    """The impact as a reader scans it: dataset versions, then model versions."""
    lines = [f"looked for: {impact.looked_for['kind']}"]
    lines.append(
        f"dataset versions scanned: {impact.scanned:,}; holding it: {len(impact.datasets):,}"
    )
    for dataset in impact.datasets:
        runs = ", ".join(
            f"{r['run_id'][:12]} ({r['decision'] or r['status']})" for r in dataset["gate_runs"]
        )
        revs = ", ".join(dataset["revs"]) or dataset["commit"][:12]
        lines.append(
            f"  {dataset['path']}@{revs} (commit {dataset['commit'][:12]}, DVC md5 "
            f"{dataset['md5']}): {dataset['records']:,} record(s); gate runs: {runs or 'none'}"
        )
    lines.append(f"model versions holding it: {len(impact.models):,}")
    for model in impact.models:
        state = (
            f"superseded by version {model['superseded_by']}" if model["superseded"] else "latest"
        )
        lines.append(
            f"  {model['model_name']} version {model['model_version']} ({state}): trained on "
            f"{model['dataset']['path']}@{model['dataset']['commit'][:12]}, gate run "
            f"{(model['gate_run_id'] or 'none')[:12]}, {model['records']:,} record(s)"
        )
    for missing in impact.unreadable:
        lines.append(
            f"UNREADABLE {missing['path']}@{missing['commit'][:12]}: {missing['error']} "
            "(the answer is incomplete)"
        )
    return "\n".join(lines)
