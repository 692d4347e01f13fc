"""Art. 7(1)(2): lawful, traceable sources under allowed licences (TC260-003 5.1 a, c).

These checks read the source registry (``sources.yaml``) and its evidence, not records, so
they are decided here rather than by a GX suite. A finding cites the clause of the policy
setting it applies (``licenses.allow`` / ``deny`` / ``unknown``, ``sources.blocked``,
``sources.require_evidence``); ``REGISTRY_CHECKS`` names the duty each check serves.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from trainguard.contract import Dataset, Source, SourceKind
from trainguard.findings import Finding, Status
from trainguard.i18n import Text
from trainguard.licenses import LicenceVerdict, judge_licence

if TYPE_CHECKING:
    from pathlib import Path

    from trainguard.policy import Policy

# Checks decided in Python on the registry (no suite): check id -> the clauses it serves.
REGISTRY_CHECKS = {
    "source.licence": "Art. 7(1), 7(2); TC260-003 5.1 a",
    "source.blocked": "Art. 7(1); TC260-003 5.1 a",
    "source.evidence": "Art. 7(1); TC260-003 5.1 c",
    "source.records": "TC260-003 5.1 c",
}
EVIDENCE_DIR = "evidence"


def check_sources(dataset: Dataset, policy: Policy, record_counts: dict[str, int]) -> list[Finding]:
    findings: list[Finding] = []
    for source in dataset.sources.values():
        records = record_counts.get(source.id, 0)
        findings.append(_licence_finding(source, policy))
        if source.id in policy.sources.blocked:
            findings.append(
                Finding(
                    check="source.blocked",
                    clauses=(policy.clause("sources.blocked"),),
                    status=Status.FAIL if records else Status.WARN,
                    message=Text(
                        "source is on the policy's blocked list and has {records:,} records",
                        {"records": records},
                    ),
                    source_id=source.id,
                    observed=records,
                    threshold=0,
                )
            )
        if policy.sources.require_evidence:
            findings.append(_evidence_finding(dataset.root, source, policy))
        if records == 0:
            findings.append(
                Finding(
                    check="source.records",
                    clauses=("TC260-003 5.1 c",),
                    status=Status.WARN,
                    message=Text("registered source has no records in this version"),
                    source_id=source.id,
                    observed=0,
                )
            )
    return findings


def _licence_finding(source: Source, policy: Policy) -> Finding:
    judgement = judge_licence(
        source.license,
        allow=policy.licenses.allow,
        deny=policy.licenses.deny,
        commercial=policy.service.commercial,
        allow_classes=policy.licenses.allow_classes,
        deny_classes=policy.licenses.deny_classes,
    )
    listed = {key.lower() for key in policy.licenses.allow}
    if judgement.verdict is LicenceVerdict.ALLOWED:
        by_class = sorted({judgement.class_of(key) for key in judgement.classes_of_allowed(listed)})
        status = Status.PASS
        message = (
            Text(
                "licence {licence} is allowed (class {classes})",
                {"licence": judgement.expression, "classes": ", ".join(by_class)},
            )
            if by_class
            else Text("licence {licence} is allowed", {"licence": judgement.expression})
        )
        clause = policy.clause("licenses.allow")
    elif judgement.verdict is LicenceVerdict.DENIED:
        reasons = []
        if set(judgement.denied) - set(judgement.non_commercial) - set(judgement.no_derivatives):
            reasons.append(Text("on the policy's deny list or of a denied class"))
        if judgement.non_commercial and policy.service.commercial:
            reasons.append(Text("non-commercial terms conflict with a commercial service"))
        if judgement.no_derivatives:
            reasons.append(Text("no-derivatives terms: a trained model is an adaptation"))
        status = Status.FAIL
        message = Text(
            "licence {licence} is forbidden ({reasons})",
            {
                "licence": ", ".join(judgement.denied),
                # One parameter per reason, so each renders in the reader's language.
                "reasons": _joined(reasons),
            },
        )
        clause = policy.clause("licenses.deny")
    else:
        status = Status.FAIL if policy.licenses.unknown == "fail" else Status.WARN
        described = _joined(
            [
                Text(
                    "{key} ({class_text})",
                    {"key": key, "class_text": _class_text(judgement.class_of(key))},
                )
                for key in judgement.unlisted
            ],
            separator=", ",
        )
        message = Text(
            "licence {described} is on neither the allow nor the deny list and its class is "
            "not allowed by the policy: a reviewer decides",
            {"described": described},
        )
        clause = policy.clause("licenses.unknown")
    return Finding(
        check="source.licence",
        clauses=(clause,),
        status=status,
        message=message,
        source_id=source.id,
        observed=judgement.expression,
        threshold={
            "allow": len(policy.licenses.allow),
            "deny": len(policy.licenses.deny),
            "verdict": judgement.verdict.value,
        },
    )


def _class_text(name: str) -> Text:
    return Text("no known class") if name == "unknown" else Text("class {name}", {"name": name})


def _joined(parts: list[Text], separator: str = "; ") -> Text:
    """Texts joined as one, each rendered in the reader's language."""
    fields = {f"part{index}": part for index, part in enumerate(parts)}
    return Text(separator.join("{" + name + "}" for name in fields), fields)


def _evidence_finding(root: Path, source: Source, policy: Policy) -> Finding:
    problems = _evidence_problems(root, source)
    return Finding(
        check="source.evidence",
        clauses=(policy.clause("sources.require_evidence"),),
        status=Status.FAIL if problems else Status.PASS,
        message=(
            _joined(problems)
            if problems
            else Text("{kind} evidence is on file", {"kind": source.kind.value})
        ),
        source_id=source.id,
        observed=problems or None,
    )


def _evidence_problems(root: Path, source: Source) -> list[Text]:
    """What is wrong with the evidence a source cites (the contract ensured it cites some)."""
    problems: list[Text] = []

    def cited_file(field: str, reference: str | None) -> Path | None:
        if not reference:
            return None
        path = _resolve_evidence(root, reference)
        if path is None:
            problems.append(
                Text(
                    "{field} '{reference}' is not a file under {folder}/",
                    {"field": field, "reference": reference, "folder": EVIDENCE_DIR},
                )
            )
        return path

    if source.kind is SourceKind.OPEN_SOURCE:
        if source.license_url and not source.license_url.startswith(("https://", "http://")):
            problems.append(
                Text("license_url '{url}' is not an http(s) URL", {"url": source.license_url})
            )
        cited_file("license_text", source.license_text)
    elif source.kind is SourceKind.SELF_COLLECTED:
        cited_file("collection_record", source.collection_record)
        if source.robots_txt_respected is not True:
            problems.append(
                Text("collection did not respect robots.txt (robots_txt_respected false)")
            )
    elif source.kind is SourceKind.COMMERCIAL:
        contract = cited_file("contract_ref", source.contract_ref)
        if contract is not None:
            actual = hashlib.sha256(contract.read_bytes()).hexdigest()
            if actual != source.contract_sha256:
                problems.append(
                    Text(
                        "contract_sha256 does not match {contract} (file has {actual}…)",
                        {"contract": source.contract_ref, "actual": actual[:12]},
                    )
                )
    elif source.kind is SourceKind.USER_INPUT:
        cited_file("authorization_record", source.authorization_record)
    return problems


def _resolve_evidence(root: Path, reference: str) -> Path | None:
    evidence = (root / EVIDENCE_DIR).resolve()
    for candidate in (root / reference, evidence / reference):
        resolved = candidate.resolve()
        # Evidence must live inside the dataset's evidence/ folder, which DVC versions with it.
        if resolved.is_relative_to(evidence) and resolved.is_file():
            return resolved
    return None
