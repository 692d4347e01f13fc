"""Filing a violation: the one front door the CLI, the REST API and the intake operator use.

``file_violation`` masks personal information in every free-text field (summary, work id,
finding, prompt, output) and hashes PI values sent for deletion, so no door can store a
raw phone number, ID or email; then it files the violation and, when asked, triages it
and puts its content into the output filter at once (Art. 15's first measure).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError
from trainguard.personal_info import mask_pi, parse_pi_kind, pi_hmac
from trainguard.violations.filtering import hashed_grams, normalise, sha256
from trainguard.violations.kinds import ViolationKind, parse_kind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trainguard.policy import Policy
    from trainguard.violations.registry import Registry, Violation


def file_violation(
    registry: Registry,
    *,
    kind: ViolationKind | str,
    summary: str,
    reported_by: str,
    policy: Policy,
    owner: str = "compliance",
    prompt: str = "",
    output: str = "",
    pi: Sequence[tuple[str, str]] = (),
    pi_hmacs: Sequence[tuple[str, str]] = (),
    work_id: str = "",
    work_text: str = "",
    source_id: str = "",
    finding: str = "",
    model_name: str | None = None,
    model_version: str | None = None,
    triage: bool = False,
) -> Violation:
    """File a violation with its PI-free subject; ``triage`` also filters it at once."""
    kind = parse_kind(kind)
    subject = intake_subject(
        kind,
        prompt=prompt,
        output=output,
        pi=list(pi),
        pi_hmacs=list(pi_hmacs),
        work_id=work_id,
        work_text=work_text,
        source_id=source_id,
        finding=finding,
    )
    violation = registry.report(
        kind=kind,
        summary=_masked(summary),
        subject=subject,
        reported_by=reported_by,
        owner=owner,
        policy=policy,
        model_name=model_name or None,
        model_version=model_version or None,
    )
    if triage:
        from trainguard.violations.filtering import triage_and_filter

        violation = triage_and_filter(registry, violation.id, actor=reported_by)
    return violation


def _masked(text: str) -> str:
    return mask_pi(text)[0] if text else text


def intake_subject(
    kind: ViolationKind | str,
    *,
    prompt: str = "",
    output: str = "",
    pi: list[tuple[str, str]] | None = None,
    pi_hmacs: list[tuple[str, str]] | None = None,
    work_id: str = "",
    work_text: str = "",
    source_id: str = "",
    finding: str = "",
) -> dict[str, Any]:
    """The PI-free subject a violation stores: masked texts, HMACs, fingerprints."""
    kind = parse_kind(kind)
    work_id, finding = _masked(work_id), _masked(finding)
    if kind is ViolationKind.HARMFUL_OUTPUT:
        if not output.strip():
            raise ContractError("a harmful-output report needs the output", field="output")
        masked_prompt, prompt_pi = mask_pi(prompt)
        masked_output, output_pi = mask_pi(output)
        return {
            "prompt": masked_prompt,
            "output": masked_output,
            "pi_masked": prompt_pi + output_pi,
        }
    if kind is ViolationKind.PI_REQUEST:
        if not pi and not pi_hmacs:
            raise ContractError(
                "a PI request needs at least one value",
                field="pi",
                expected="KIND=VALUE, e.g. mobile_phone=139...",
            )
        items = []
        # Values are hashed here; callers that must not hold them pass HMACs instead.
        for pi_kind, value, hashed in [(k, v, False) for k, v in pi or []] + [
            (k, h, True) for k, h in pi_hmacs or []
        ]:
            known = parse_pi_kind(pi_kind, field="pi")
            if hashed and not re.fullmatch(r"[0-9a-f]{64}", value):
                raise ContractError(
                    "not an HMAC-SHA256 in hex",
                    field="pi_hmacs",
                    expected="64 hex digits (trainguard pi-hmac KIND VALUE)",
                )
            items.append({"kind": known.value, "hmac": value if hashed else pi_hmac(known, value)})
        return {"pi": items, "request": "delete"}
    if kind is ViolationKind.IP_COMPLAINT:
        if not (work_id or source_id):
            raise ContractError("an IP complaint names a work or a source", field="work")
        subject: dict[str, Any] = {"work_id": work_id, "source_id": source_id or None}
        if work_text:
            text = normalise(work_text)
            subject.update(work_sha256=sha256(text), work_grams=sorted(hashed_grams(text, 8)))
        return subject
    if not source_id:
        raise ContractError(
            "a data finding names the source whose records it concerns", field="source"
        )
    return {"finding": finding, "source_id": source_id}
