"""Violation tasks: intake, the SLA check, and remediation (thin wrappers over the core)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


def _pairs(values: list[str] | str | None, field: str) -> list[tuple[str, str]]:
    from trainguard.exceptions import ContractError

    pairs = []
    for value in [values] if isinstance(values, str) else values or []:
        kind, sep, rest = str(value).partition("=")
        if not sep:
            raise ContractError("not KIND=HMAC", field=field)
        pairs.append((kind.strip(), rest.strip()))
    return pairs


class ViolationIntakeOperator(BaseOperator):
    """Files a violation and, with ``triage=True``, filters its content at once (Art. 15).

    Personal information arrives as HMACs only (``pi_hmacs``: ``KIND=HMAC``), so no raw
    value is ever stored in Airflow's metadata database with the DAG run's conf.
    """

    template_fields = (
        "kind",
        "summary",
        "reported_by",
        "violation_owner",
        "prompt",
        "output_text",
        "pi_hmacs",
        "work_id",
        "source_id",
        "finding",
        "model_name",
        "model_version",
        "policy",
        "triage",
    )

    def __init__(
        self,
        *,
        kind: str,
        summary: str,
        reported_by: str,
        violation_owner: str = "compliance",
        prompt: str = "",
        output_text: str = "",
        pi_hmacs: list[str] | str | None = None,
        work_id: str = "",
        source_id: str = "",
        finding: str = "",
        model_name: str = "",
        model_version: str = "",
        policy: str = "",
        triage: bool | str = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kind, self.summary, self.reported_by = kind, summary, reported_by
        self.violation_owner = violation_owner  # not "owner": BaseOperator's own field
        # Not "output": BaseOperator.output is the task's XComArg.
        self.prompt, self.output_text, self.pi_hmacs = prompt, output_text, pi_hmacs
        self.work_id, self.source_id, self.finding = work_id, source_id, finding
        self.model_name, self.model_version, self.policy = model_name, model_version, policy
        self.triage = triage

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.exceptions import ContractError
        from trainguard.policy import load_policy
        from trainguard.violations import Registry
        from trainguard.violations.intake import file_violation

        try:
            violation = file_violation(
                Registry(),
                kind=self.kind,
                summary=self.summary,
                reported_by=self.reported_by,
                owner=self.violation_owner,
                policy=load_policy(self.policy or None),
                prompt=self.prompt,
                output=self.output_text,
                pi_hmacs=_pairs(self.pi_hmacs, "pi_hmacs"),
                work_id=self.work_id,
                source_id=self.source_id,
                finding=self.finding,
                model_name=self.model_name,
                model_version=self.model_version,
                triage=self.triage not in (False, "False", "false", ""),
            )
        except ContractError as exc:  # bad input: a retry cannot fix it
            raise AirflowFailException(str(exc)) from None
        self.log.info(
            "filed %s (%s, %s), %s; deadline %s",
            violation.id,
            violation.kind,
            violation.clause,
            violation.status,
            violation.deadline.isoformat(),
        )
        return {
            "id": violation.id,
            "status": violation.status,
            "deadline": violation.deadline.isoformat(),
            "clause": violation.clause,
        }


class DeadlineCheckOperator(BaseOperator):
    """Alerts every open violation newly at risk or overdue through ``on_alert``.

    ``on_alert`` defaults to ``trainguard.violations.sla.send_alert`` (always logs; emails
    and posts to a webhook when configured); any callable taking the alert dict will do.
    """

    template_fields = ("policy",)

    def __init__(self, *, policy: str = "", on_alert: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.on_alert = on_alert

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from trainguard.policy import load_policy
        from trainguard.violations import Registry
        from trainguard.violations.sla import check_deadlines, send_alert

        alerts = check_deadlines(
            Registry(), load_policy(self.policy or None), notify=self.on_alert or send_alert
        )
        self.log.info("%d SLA alert(s) raised", len(alerts))
        return alerts


class OpenViolationsOperator(BaseOperator):
    """The ids of violations to remediate (filtered, remediating or verified), or one id."""

    template_fields = ("violation_id",)

    def __init__(self, *, violation_id: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.violation_id = violation_id

    def execute(self, context: Any) -> list[str]:
        from trainguard.violations import Registry
        from trainguard.violations.kinds import TO_REMEDIATE

        registry = Registry()
        if self.violation_id:
            return [registry.get(self.violation_id).id]
        return [v.id for v in registry.list(open_only=True) if v.status in TO_REMEDIATE]


class RemediateViolationOperator(BaseOperator):
    """Fixes one violation: fixed dataset version, gate, optimization training, probe."""

    template_fields = ("violation_id",)
    ui_color = "#d65b5b"

    def __init__(self, *, violation_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.violation_id = violation_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.exceptions import ContractError
        from trainguard.operators.context import airflow_tags
        from trainguard.violations.remediation import RemediationFailed, remediate

        try:
            violation = remediate(
                self.violation_id, context_tags=airflow_tags(context), progress=self.log.info
            )
        except (RemediationFailed, ContractError) as exc:  # a retry would not change these
            raise AirflowFailException(str(exc)) from None
        return {
            "id": violation.id,
            "status": violation.status,
            "probes": violation.evidence.get("probes", {}),
        }
