"""Violation tasks: intake, the SLA check, and remediation (thin wrappers over the core)."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
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
    """Fixes one violation in one task: fixed dataset version, gate, optimization training
    by an entry-point trainer, probe. A model trained by a DAG needs the split steps of
    the ``violation_remediation`` DAG (prepare, optimization_training, verify)."""

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


def _remediation_errors() -> tuple[type[Exception], ...]:
    from trainguard.exceptions import ContractError
    from trainguard.violations.remediation import RemediationFailed

    return (RemediationFailed, ContractError)


class PrepareRemediationOperator(BaseOperator):
    """Steps 1-3 of one violation: impact, fixed dataset version, its gate. Returns the
    optimization-training orders (one per affected model) still to run."""

    template_fields = ("violation_id",)
    ui_color = "#d65b5b"

    def __init__(self, *, violation_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.violation_id = violation_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.operators.context import airflow_tags
        from trainguard.violations.remediation import prepare

        try:
            return prepare(
                self.violation_id, context_tags=airflow_tags(context), progress=self.log.info
            )
        except _remediation_errors() as exc:  # a retry would not change these
            raise AirflowFailException(str(exc)) from None


class TrainingOrdersOperator(BaseOperator):
    """Flattens the orders of every prepared violation into one list (for task mapping)."""

    def __init__(self, *, prepare_task_id: str = "prepare", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prepare_task_id = prepare_task_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        pulled = list(context["ti"].xcom_pull(task_ids=self.prepare_task_id) or [])
        # One mapped instance comes back as its own list of orders, several as a list of
        # lists (a failed instance as None).
        batches = [pulled] if pulled and isinstance(pulled[0], dict) else pulled
        orders = [order for batch in batches if batch for order in batch]
        self.log.info("%d optimization-training order(s)", len(orders))
        return orders


class OptimizationTrainingOperator(TriggerDagRunOperator):
    """Step 4: runs one order with the model's declared trainer.

    A ``dag:`` trainer is triggered with the request as its conf and waited for (this is
    Airflow's ``TriggerDagRunOperator``: deferrable when ``[operators]
    default_deferrable`` is on); the DAG run id is derived from the request id, so a retry
    resets that run instead of starting a second one. An ``entry_point:`` trainer runs in
    this task. An order whose model version is already registered is not trained again.
    """

    template_fields = (*TriggerDagRunOperator.template_fields, "order")
    ui_color = "#e8a33d"

    def __init__(self, *, order: Any, poke_interval: int = 5, **kwargs: Any) -> None:
        super().__init__(
            trigger_dag_id="declared-by-the-model",
            wait_for_completion=True,
            reset_dag_run=True,
            poke_interval=poke_interval,
            **kwargs,
        )
        self.order = order

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.operators.context import airflow_tags
        from trainguard.training import TrainingRequest
        from trainguard.violations.remediation import start_training, train_in_process

        order = self.order
        try:
            registered = start_training(order)
            if registered is not None:
                self.log.info("already registered for this request: %s", registered)
                return registered
            trainer = order["trainer"]
            if trainer["kind"] == "entry_point":
                return train_in_process(order, context_tags=airflow_tags(context))
            request = TrainingRequest.from_conf(order["conf"])
        except _remediation_errors() as exc:
            raise AirflowFailException(str(exc)) from None
        self.trigger_dag_id = trainer["target"]
        self.conf = order["conf"]
        self.trigger_run_id = f"trainguard__{request.request_id}"
        self.log.info(
            "optimization training of %s by DAG %s, run %s, for %s",
            order["model_name"],
            self.trigger_dag_id,
            self.trigger_run_id,
            order["violation_id"],
        )
        return super().execute(context)


class VerifyRemediationOperator(BaseOperator):
    """Step 5 of one violation: the model each order registered, the probe, the close."""

    template_fields = ("violation_id",)
    ui_color = "#5bd68a"

    def __init__(self, *, violation_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.violation_id = violation_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.operators.context import airflow_tags
        from trainguard.violations.remediation import verify

        try:
            violation = verify(
                self.violation_id, context_tags=airflow_tags(context), progress=self.log.info
            )
        except _remediation_errors() as exc:
            raise AirflowFailException(str(exc)) from None
        return {
            "id": violation.id,
            "status": violation.status,
            "probes": violation.evidence.get("probes", {}),
            "closed_in_time": violation.evidence.get("closed_in_time"),
        }
