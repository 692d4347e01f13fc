"""The provenance export of a model version (Art. 17): a signed, deterministic bundle.

``export_bundle`` reads the model version's lineage from MLflow and writes:

=================  ==========================================================
disclosure.json    the Art. 17 fields: sources, scale, type, quality, annotation,
                   foundational algorithm, gate decisions, violations
prov.json          W3C PROV-JSON (datasets, model; gate, training, remediation; agents)
spdx.json          SPDX 3.0.1 JSON-LD with the AI and Dataset profiles
report.html        the same for people: printable, charts inline, no scripts
checks.csv         every check of every gate run, one row each
violations.csv     the violations this version fixed
MANIFEST.sha256    sha256 of every file above (``sha256sum -c`` reads it)
MANIFEST.sig       signature over the manifest: HMAC-SHA256 or Ed25519
=================  ==========================================================

Deterministic: every time in the bundle comes from the recorded runs, every list is
sorted, so exporting the same version twice gives byte-identical files. No file carries a
raw personal-information value: findings carry record ids, and annotator ids are
replaced by keyed pseudonyms.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainguard.exceptions import ExportError
from trainguard.personal_info import pseudonym
from trainguard.settings import env

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sig"
HMAC_KEY_ENV = "TRAINGUARD_EXPORT_KEY"
ED25519_KEY_ENV = "TRAINGUARD_EXPORT_SIGNING_KEY"  # path to an Ed25519 private key (PEM)
DISCLOSURE_FORMAT = "trainguard.disclosure/1"
REGULATION = "Measures for the Management of Generative AI Services (draft, April 2023), Art. 17"
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


# ----------------------------------------------------------------------------- signing


@dataclass(frozen=True)
class Signer:
    algorithm: str  # "hmac-sha256" | "ed25519"
    key_id: str
    secret: Any

    def sign(self, message: bytes) -> str:
        if self.algorithm == "hmac-sha256":
            return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
        return self.secret.sign(message).hex()  # Ed25519 signatures are deterministic


def _hmac_key_id(key: bytes) -> str:
    return hmac.new(key, b"trainguard export key id", hashlib.sha256).hexdigest()[:16]


def _public_key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read_key_file(path: str, kind: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot read the {kind} key {path}: {exc.strerror}") from None


def signer_from_env() -> Signer:
    """The configured signing key: Ed25519 (``TRAINGUARD_EXPORT_SIGNING_KEY``) or HMAC."""
    key_path = env(ED25519_KEY_ENV)
    if key_path:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            private = serialization.load_pem_private_key(
                _read_key_file(key_path, "Ed25519 private"), password=None
            )
        except ValueError as exc:
            raise ExportError(f"{key_path} is not a PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ExportError(f"{key_path} is not an Ed25519 private key")
        return Signer("ed25519", _public_key_id(private.public_key()), private)
    secret = env(HMAC_KEY_ENV)
    if not secret:
        raise ExportError(
            f"no signing key: set {ED25519_KEY_ENV} to an Ed25519 private key (PEM; "
            f"`trainguard export keygen` makes one) or {HMAC_KEY_ENV} to a shared secret"
        )
    return Signer("hmac-sha256", _hmac_key_id(secret.encode()), secret.encode())


def generate_keypair(private_out: Path) -> Path:
    """Write a new Ed25519 key pair: the private key (mode 600) and ``<name>.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if private_out.exists():
        raise ExportError(f"{private_out} exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    private_out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    public_out = private_out.with_name(private_out.name + ".pub")
    public_out.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public_out


# ----------------------------------------------------------------------------- bundle


def bundle_files(lineage: dict[str, Any]) -> dict[str, bytes]:
    """Every content file of the bundle, by name (manifest and signature excluded)."""
    from trainguard.export.documents import prov_document, spdx_document
    from trainguard.export.report import render_report

    document = disclosure(lineage)
    return {
        "disclosure.json": dumps(document),
        "prov.json": dumps(json.loads(prov_document(lineage).serialize(format="json"))),
        "spdx.json": dumps(spdx_document(lineage, document)),
        "report.html": render_report(lineage, document).encode(),
        "checks.csv": checks_csv(lineage),
        "violations.csv": violations_csv(lineage),
    }


def manifest_text(files: dict[str, bytes]) -> bytes:
    lines = [
        f"{hashlib.sha256(content).hexdigest()}  {name}" for name, content in sorted(files.items())
    ]
    return ("\n".join(lines) + "\n").encode()


def default_export_dir(model_name: str, version: str) -> Path:
    """``$TRAINGUARD_HOME/exports/<model>/v<version>``."""
    from trainguard.settings import trainguard_home

    return trainguard_home() / "exports" / model_name / f"v{version}"


def export_bundle(
    model_name: str,
    version: str | int,
    out: str | Path,
    *,
    signer: Signer | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the provenance bundle of ``model_name`` version ``version`` into ``out``."""
    from trainguard.export.lineage import model_lineage

    out = Path(out)
    signer = signer or signer_from_env()  # before any MLflow read: a missing key fails fast
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"{out} is not empty; choose a new folder (or --overwrite)")
    files = bundle_files(model_lineage(model_name, version))
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
        import shutil

        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, content in files.items():
        (staging / name).write_bytes(content)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    staging.rename(out)
    return ExportResult(out, sorted(files), signature["manifest_sha256"], signer.algorithm)


def verify_bundle(
    folder: str | Path, *, hmac_key: str | None = None, public_key: str | Path | None = None
) -> list[str]:
    """Every problem with the bundle at ``folder`` (empty when intact and signed)."""
    folder = Path(folder)
    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    if not folder.is_dir():
        raise ExportError(f"{folder} is not a folder")
    for path in (manifest_path, signature_path):
        if not path.exists():
            return [f"{path.name}: missing"]
    manifest = manifest_path.read_bytes()
    problems = []
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            problems.append(f"{MANIFEST}: line {number} is not '<sha256>  <file>'")
            continue
        listed[name] = digest
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for name in sorted(present - listed.keys() - {MANIFEST, SIGNATURE}):
        problems.append(f"{name}: not in the manifest (added after signing)")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: content changed (sha256 differs from the manifest)")
    problems += _verify_signature(manifest, signature_path, hmac_key, public_key)
    return problems


def _verify_signature(
    manifest: bytes, signature_path: Path, hmac_key: str | None, public_key: str | Path | None
) -> list[str]:
    try:
        signature = json.loads(signature_path.read_text(encoding="utf-8"))
        algorithm, value = signature["algorithm"], signature["signature"]
    except (ValueError, KeyError, TypeError):
        return [f"{SIGNATURE}: not a trainguard signature file"]
    if algorithm == "hmac-sha256":
        secret = hmac_key or env(HMAC_KEY_ENV)
        if not secret:
            raise ExportError(f"the bundle is HMAC-signed: set {HMAC_KEY_ENV} to verify it")
        expected = hmac.new(secret.encode(), manifest, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(value)):
            return [f"{SIGNATURE}: the signature does not match {MANIFEST} under this key"]
        return []
    if algorithm == "ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization

        if public_key is None:
            raise ExportError("the bundle is Ed25519-signed: pass --public-key PEM to verify it")
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

            key = serialization.load_pem_public_key(_read_key_file(str(public_key), "public"))
            if not isinstance(key, Ed25519PublicKey):
                raise ExportError(f"{public_key} is not an Ed25519 public key")
            key.verify(bytes.fromhex(str(value)), manifest)
        except (InvalidSignature, ValueError):
            return [f"{SIGNATURE}: the signature does not match {MANIFEST} under this key"]
        return []
    return [f"{SIGNATURE}: unknown algorithm '{algorithm}'"]
