"""The provenance export of a model version (Art. 17): a signed bundle of deterministic evidence.

``export_bundle`` reads the model version's lineage from MLflow and writes:

=================  ==========================================================
disclosure.json    the Art. 17 fields: sources, scale, type, quality, annotation,
                   foundational algorithm, gate decisions, violations
prov.json          W3C PROV-JSON (datasets, model; gate, training, remediation; agents)
spdx.json          SPDX 3.0.1 JSON-LD with the AI and Dataset profiles
assessment.json    the release assessment (banks, samples, rates, failures by risk, alias)
report.html        the same for people: printable, charts inline, no scripts
checks.csv         every check of every gate run, one row each
violations.csv     the violations this version fixed
MANIFEST.sha256    sha256 of every file above (``sha256sum -c`` reads it)
MANIFEST.sig       signature over the manifest: HMAC-SHA256 or Ed25519
=================  ==========================================================

Deterministic evidence: every time in the bundle comes from the recorded runs, every list
is sorted, so exporting the same version twice gives byte-identical files, except the
attestation atop report.html (who exported it, when) and so the manifest and signature.
No file carries a raw personal-information value: findings carry record ids, and
annotator ids are replaced by keyed pseudonyms. Signing and verification are ``export.signing``.

Kept as one module: the files of a bundle are one deterministic contract with the
auditor, built from one lineage document and listed in one manifest.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ExportError
from trainguard.export.signing import (  # re-exported: callers import them from here too
    ED25519_KEY_ENV,
    HMAC_KEY_ENV,
    MANIFEST,
    SIGNATURE,
    Signer,
    generate_keypair,
    manifest_text,
    signer_from_env,
    verify_bundle,
)
from trainguard.i18n import N_
from trainguard.personal_info import pseudonym
from trainguard.settings import package_version

if TYPE_CHECKING:
    from trainguard.progress import Progress

DISCLOSURE_FORMAT = "trainguard.disclosure/1"
REGULATION = N_(
    "Measures for the Management of Generative AI Services (draft, April 2023), Art. 17"
)
CHECK_COLUMNS = [
    "gate_run_id",
    "check",
    "status",
    "clauses",
    "source_id",
    "entity",
    "observed",
    "threshold",
    "waiver_id",
    "record_ids",
    "message",
]
VIOLATION_COLUMNS = [
    "id",
    "kind",
    "status",
    "reported_at",
    "deadline",
    "closed_at",
    "dataset_version",
    "evidence",
]


@dataclass(frozen=True)
class ExportResult:
    out: Path
    files: list[str]
    manifest_sha256: str
    algorithm: str


def dumps(document: Any) -> bytes:
    """Canonical JSON for the bundle: sorted keys, UTF-8, one trailing newline."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _quality(gate: dict[str, Any], source_id: str) -> dict[str, Any]:
    rows = gate.get("tables", {}).get("sources", [])
    row: dict[str, Any] = next((r for r in rows if r.get("source_id") == source_id), {})
    return {key: value for key, value in sorted(row.items()) if key != "source_id"}


def personal_information(gate: dict[str, Any]) -> dict[str, Any]:
    """What a gate found of personal information: the facts the export states about it.

    From the gate run's metrics (``gate.pi.covered.<kind>``, ``gate.pi.uncovered.<kind>``),
    its policy's sensitive kinds and its findings (waived ``pi.consent``); nothing is
    assumed, so data without a finding is stated as holding none.
    """
    metrics = gate.get("metrics", {})
    sensitive = set(gate.get("policy", {}).get("personal_info", {}).get("sensitive_kinds", []))
    found: dict[str, int] = {}
    without_consent = 0
    for state in ("covered", "uncovered"):
        prefix = f"gate.pi.{state}."
        for key, value in metrics.items():
            if key.startswith(prefix) and value:
                kind = key.removeprefix(prefix)
                found[kind] = found.get(kind, 0) + int(value)
                without_consent += int(value) if state == "uncovered" else 0
    waived = {
        f["source_id"]
        for f in gate.get("findings", [])
        if f["check"] == "pi.consent" and f["status"] == "waived"
    }
    return {
        "values_found": sum(found.values()),
        "found_by_kind": dict(sorted(found.items())),
        "sensitive_kinds": sorted(sensitive),
        "sensitive_kinds_found": sorted(kind for kind in found if kind in sensitive),
        "values_without_consent": without_consent,
        "sources_with_consent_waived": sorted(waived),
    }


def disclosure(lineage: dict[str, Any]) -> dict[str, Any]:
    """The Art. 17 disclosure document, built from the lineage only."""
    training = lineage["training_run"]
    gates = {gate["run_id"]: gate for gate in lineage["gate_runs"]}
    datasets = []
    for dataset in lineage["datasets"]:
        gate = gates.get(dataset["gate_run_id"] or "", {})
        manifest = dataset["manifest"]
        prefix = "gate.records.language."  # the gate run logs report metrics as gate.*
        language_records = {
            key.removeprefix(prefix): int(value)
            for key, value in sorted(gate.get("metrics", {}).items())
            if key.startswith(prefix)
        }
        corpus_rows = gate.get("tables", {}).get("corpus", [])
        datasets.append(
            {
                "name": dataset["name"],
                "version": {
                    "repo": dataset["repo"],
                    "path": dataset["path"],
                    "git_commit": dataset["commit"],
                    "git_rev": dataset["rev"],
                    "dvc_md5": dataset["md5"],
                    "dvc_remote": dataset["remote"],
                },
                "type": {
                    "stage": manifest.get("stage"),
                    "modality": manifest.get("modality"),
                    "languages_declared": manifest.get("languages", []),
                    "records_by_detected_language": language_records,
                    "description": manifest.get("description", ""),
                },
                "scale": dataset["scale"],
                "personal_information": personal_information(gate),
                "quality": {
                    "gate_run_id": gate.get("run_id"),
                    "corpus": corpus_rows[0] if corpus_rows else {},
                    "metrics": dict(sorted(gate.get("metrics", {}).items())),
                },
                "sources": [
                    {
                        "id": source["id"],
                        "kind": source["kind"],
                        "license": source["license"],
                        "origin": source["origin"],
                        "collected_at": source["collected_at"],
                        "contains_personal_info_declared": source["contains_personal_info"],
                        "evidence": {
                            key: source[key] for key in sorted(source) if key in _EVIDENCE
                        },
                        "missing_evidence": source.get("missing_evidence", []),
                        "scale": {
                            "records": source["records"],
                            "characters": source["characters"],
                            "bytes": source["bytes"],
                        },
                        "quality": _quality(gate, source["id"]),
                    }
                    for source in dataset["sources"]
                ],
            }
        )
    annotation = lineage["annotation"]
    annotation_rules = {}
    for gate in lineage["gate_runs"]:
        annotation_rules.update(gate.get("annotation_rules", {}))
    return {
        "format": DISCLOSURE_FORMAT,
        "regulation": REGULATION,
        # A fine-tuned model's data includes its base model's: the chain, nearest first.
        "base_models": lineage.get("base_chain", []),
        "provider": _provider(lineage),
        "model": {
            key: lineage["model"][key]
            for key in ("name", "version", "uri", "registered_at", "description")
        },
        "foundational_algorithm": {
            "model_class": training["params"].get("model_class"),
            "hyperparameters": {
                k: v
                for k, v in training["params"].items()
                if not k.startswith("lib.") and k != "model_class"
            },
            "libraries": {
                k.removeprefix("lib."): v
                for k, v in training["params"].items()
                if k.startswith("lib.")
            },
            "training_run_id": training["run_id"],
            "trained_from": training["started_at"],
            "trained_until": training["ended_at"],
            "training_metrics": training["metrics"],
        },
        "datasets": datasets,
        "annotation": None
        if not annotation
        else {
            "rules": [
                {
                    "version": version,
                    "sha256": sha256,
                    "text": annotation_rules.get(f"{version}.md"),
                }
                for version, sha256 in sorted(annotation["rules"].items())
            ],
            "scale": {"records": annotation["records"], "by_type": annotation["types"]},
            "annotators": {
                "labelers": annotation["annotators"]["labelers"],
                "reviewers": annotation["annotators"]["reviewers"],
                "untrained": annotation["annotators"]["untrained"],
                "training": {
                    pseudonym(person): versions
                    for person, versions in sorted(annotation["annotators"]["trained_on"].items())
                },
            },
            "spot_checks": annotation["spot_checks"],
            "kappa_mean": annotation.get("kappa_mean"),
        },
        "gate_decisions": [
            {
                "run_id": gate["run_id"],
                "stage": gate["stage"],
                "decision": gate["decision"],
                "decided_at": gate["ended_at"],
                "policy_digest": gate["policy_digest"],
                "policy_profile": gate["policy_profile"],
                "deviations": gate["deviations"],
                "refused_waivers": gate["refused_waivers"],
                "failed_clauses": gate["failed_clauses"],
                "checks": len(gate["findings"]),
                "failed": [_finding_ref(f) for f in gate["findings"] if f["status"] == "fail"],
                "waived": [_finding_ref(f) for f in gate["findings"] if f["status"] == "waived"],
            }
            for gate in lineage["gate_runs"]
        ],
        "waivers": lineage["waivers"],
        "violations": lineage["violations_fixed"],
    }


_EVIDENCE = (
    "license_url",
    "license_text",
    "collection_record",
    "robots_txt_respected",
    "contract_ref",
    "contract_sha256",
    "authorization_record",
)


def _provider(lineage: dict[str, Any]) -> str:
    for gate in lineage["gate_runs"]:
        provider = gate.get("policy", {}).get("service", {}).get("provider")
        if provider:
            return provider
    return "provider not named"


def _finding_ref(finding: dict[str, Any]) -> dict[str, Any]:
    ref = {
        "check": finding["check"],
        "clauses": finding["clauses"],
        "source_id": finding["source_id"],
        "message": finding["message"],
    }
    if finding.get("waiver"):
        ref["waiver_id"] = finding["waiver"]["id"]
    return ref


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def checks_csv(lineage: dict[str, Any]) -> bytes:
    rows = []
    for gate in lineage["gate_runs"]:
        for finding in gate["findings"]:
            rows.append(
                {
                    "gate_run_id": gate["run_id"],
                    "check": finding["check"],
                    "status": finding["status"],
                    "clauses": "; ".join(finding["clauses"]),
                    "source_id": _cell(finding["source_id"]),
                    "entity": _cell(finding.get("entity")),
                    "observed": _cell(finding["observed"]),
                    "threshold": _cell(finding["threshold"]),
                    "waiver_id": (finding.get("waiver") or {}).get("id", ""),
                    "record_ids": " ".join(finding["record_ids"]),
                    "message": finding["message"],
                }
            )
    return _csv(CHECK_COLUMNS, rows)


def violations_csv(lineage: dict[str, Any]) -> bytes:
    return _csv(
        VIOLATION_COLUMNS,
        [
            {key: _cell(v.get(key)) for key in VIOLATION_COLUMNS}
            for v in lineage["violations_fixed"]
        ],
    )


# ----------------------------------------------------------------------------- bundle


def bundle_files(
    lineage: dict[str, Any], attestation: dict[str, Any] | None = None
) -> dict[str, bytes]:
    """Every content file of the bundle, by name (manifest and signature excluded).

    report.html opens with the attestation: who exported it, when, under which key, and
    the sha256 of the manifest lines of every other file (the evidence). The report cannot
    name the hash of a manifest that lists the report itself; the signature covers both.
    """
    from trainguard.export.documents import prov_document, spdx_document
    from trainguard.export.lineage import assessment_document
    from trainguard.export.report import render_report

    document = disclosure(lineage)
    files = {
        "disclosure.json": dumps(document),
        "prov.json": dumps(json.loads(prov_document(lineage).serialize(format="json"))),
        "spdx.json": dumps(spdx_document(lineage, document)),
        "assessment.json": dumps(assessment_document(lineage)),
        "checks.csv": checks_csv(lineage),
        "violations.csv": violations_csv(lineage),
    }
    evidence = {
        **(attestation or {}),
        "evidence_sha256": hashlib.sha256(manifest_text(files)).hexdigest(),
        "evidence_files": sorted(files),
    }
    files["report.html"] = render_report(
        lineage, document, evidence, language=evidence.get("language", "en")
    ).encode()
    return files


def exported_by_default() -> str:
    """Who runs the export, for the attestation: the operating-system user."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown user"


def default_export_dir(model_name: str, version: str) -> Path:
    """``$TRAINGUARD_HOME/exports/<model>/v<version>``."""
    from trainguard.settings import trainguard_home

    return trainguard_home() / "exports" / model_name / f"v{version}"


def require_replaceable(out: Path) -> None:
    """``--overwrite`` replaces a bundle, never any other folder (a home, a dataset)."""
    if out.is_file() or (out.is_symlink() and not out.is_dir()):
        raise ExportError(f"{out} is a file, not a bundle folder; choose a new folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not ((out / MANIFEST).is_file() and (out / SIGNATURE).is_file()):
        raise ExportError(
            f"{out} is not a trainguard bundle (no {MANIFEST} and {SIGNATURE}): --overwrite "
            "replaces only a bundle; choose a new folder"
        )


def export_bundle(
    model_name: str,
    version: str | int,
    out: str | Path,
    *,
    signer: Signer | None = None,
    overwrite: bool = False,
    exported_by: str | None = None,
    language: str | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the provenance bundle of ``model_name`` version ``version`` into ``out``;
    ``exported_by`` names who asked (an API user, a DAG run; default the OS user);
    ``language`` is report.html's (default: TRAINGUARD_LANGUAGE, else English)."""
    import shutil

    from trainguard.export.lineage import model_lineage
    from trainguard.i18n import resolve
    from trainguard.progress import Progress

    progress = progress or Progress.lines_to(None)  # silent unless the caller shows it
    out = Path(out)
    signer = signer or signer_from_env()  # before any MLflow read: a missing key fails fast
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"{out} is not empty; choose a new folder (or --overwrite)")
    require_replaceable(out)
    attestation = {
        "exported_by": exported_by or exported_by_default(),
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "algorithm": signer.algorithm,
        "key_id": signer.key_id,
        "trainguard": package_version(),
        "language": resolve(language),
    }
    progress.phase(f"read the lineage of {model_name} v{version} from MLflow")
    lineage = model_lineage(model_name, version)
    progress.phase("write disclosure, PROV, SPDX, checks, violations and report.html")
    files = bundle_files(lineage, attestation)
    progress.phase(f"sign the manifest ({signer.algorithm}) and write {len(files) + 2} files")
    manifest = manifest_text(files)
    signature = {
        "algorithm": signer.algorithm,
        "key_id": signer.key_id,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "signature": signer.sign(manifest),
    }
    files[MANIFEST] = manifest
    files[SIGNATURE] = dumps(signature)
    # Written to a sibling folder and renamed: a crash never leaves half a bundle.
    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, content in files.items():
        (staging / name).write_bytes(content)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    progress.finish()
    return ExportResult(out, sorted(files), signature["manifest_sha256"], signer.algorithm)


__all__ = [
    "ED25519_KEY_ENV",
    "HMAC_KEY_ENV",
    "MANIFEST",
    "SIGNATURE",
    "ExportResult",
    "Signer",
    "bundle_files",
    "checks_csv",
    "default_export_dir",
    "disclosure",
    "dumps",
    "export_bundle",
    "generate_keypair",
    "manifest_text",
    "require_replaceable",
    "signer_from_env",
    "verify_bundle",
    "violations_csv",
]
