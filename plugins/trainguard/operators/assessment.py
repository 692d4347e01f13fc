"""The release assessment's Airflow layer: the ``model_assessment`` task and its trigger."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import BaseOperator

from trainguard.operators.context import MLFLOW_RUN_XCOM
from trainguard.operators.links import MLflowRunLink

ASSESSMENT_DAG = "model_assessment"


def _assessment_errors() -> tuple[type[Exception], ...]:
    from trainguard.exceptions import TrainguardError

    return (TrainguardError,)


class ModelAssessmentOperator(BaseOperator):
    """Assesses a model version on its question banks; fails, naming each failed measure
    with its clause and question ids, unless the assessment passes (then the version has
    the alias ``assessed``)."""

    template_fields = ("model_uri", "banks", "banks_path", "policy", "lexicons")
    operator_extra_links = (MLflowRunLink(),)
    ui_color = "#b36bd6"

    def __init__(
        self,
        *,
        model_uri: str,
        banks: str = "",
        banks_path: str = "assessment/banks",
        policy: str = "",
        lexicons: Any = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_uri = model_uri
        self.banks = banks
        self.banks_path = banks_path
        self.policy = policy
        self.lexicons = lexicons

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.assessment.assess import assess_model
        from trainguard.assessment.banks import banks_source, fetch_banks
        from trainguard.operators.context import airflow_tags
        from trainguard.settings import int_option
        from trainguard.violations import Registry

        try:
            source = banks_source(
                self.model_uri,
                banks=self.banks or None,
                policy_path=self.policy or None,
                banks_path=self.banks_path,
            )
            if source is None:
                raise AirflowFailException(
                    f"no question banks for {self.model_uri} (Art. 6; TC260-003 8): pass "
                    "'banks', set the policy's assessment.banks, or commit them as "
                    f"{self.banks_path} beside the dataset"
                )
            folder, version = fetch_banks(source)
            result = assess_model(
                self.model_uri,
                folder,
                policy_path=self.policy or None,
                lexicons=list(self.lexicons or []),
                registry=Registry(),
                traces=int_option("assessment_traces"),
                banks_version=version,
                progress=self.log.info,
                context_tags=airflow_tags(context),
            )
        except _assessment_errors() as exc:
            raise AirflowFailException(str(exc)) from None
        ti = context["ti"]
        ti.xcom_push(key=MLFLOW_RUN_XCOM, value=result.run_id)
        summary = {
            key: value
            for key, value in result.to_dict().items()
            if key not in {"findings", "banks"}
        } | {"failed": [finding.to_dict() for finding in result.failed]}
        self.log.info("%s", result.to_text())
        if not result.passed:
            ti.xcom_push(key="assessment_failed", value=summary)
            raise AirflowFailException(
                f"assessment of {self.model_uri} failed: "
                + "; ".join(finding.summary() for finding in result.failed)
            )
        return summary


class AssessModelOperator(TriggerDagRunOperator):
    """Triggers ``model_assessment`` for the version a task registered (``model`` holds
    ``model_name`` and ``model_version``, e.g. the ``train`` task's return value); skipped,
    with the reason in the log, when the version has no question banks anywhere."""

    template_fields = (*TriggerDagRunOperator.template_fields, "model", "policy", "lexicons")
    ui_color = "#b36bd6"

    def __init__(self, *, model: Any, policy: str = "", lexicons: Any = (), **kwargs: Any) -> None:
        # A retry of this task finds its run already triggered and skips (the run id is
        # derived from the model version and this DAG run).
        super().__init__(
            trigger_dag_id=ASSESSMENT_DAG,
            wait_for_completion=False,
            skip_when_already_exists=True,
            **kwargs,
        )
        self.model = model
        self.policy = policy
        self.lexicons = lexicons

    def execute(self, context: Any) -> Any:
        import re

        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from trainguard.assessment.banks import banks_source

        model = self.model or {}
        if not model.get("model_name") or not model.get("model_version"):
            raise AirflowSkipException("no model version was registered: nothing to assess")
        model_uri = f"models:/{model['model_name']}/{model['model_version']}"
        try:
            source = banks_source(model_uri, policy_path=self.policy or None)
        except _assessment_errors() as exc:
            raise AirflowFailException(str(exc)) from None
        if source is None:
            raise AirflowSkipException(
                f"{model_uri} has no question banks (policy assessment.banks, or "
                "assessment/banks beside its dataset): not assessed, so it gets no "
                "'assessed' alias and is not ready for release"
            )
        self.conf = {
            "model_uri": model_uri,
            "banks": source.get("banks", ""),
            "policy": self.policy or "",
            "lexicons": list(self.lexicons or []),
        }
        label = f"{model['model_name']}_v{model['model_version']}"
        safe = re.sub(r"[^A-Za-z0-9_.~:+-]", "_", label)
        self.trigger_run_id = f"assessment__{safe}__{context['run_id'][-24:]}"
        self.log.info("triggering %s for %s (banks: %s)", ASSESSMENT_DAG, model_uri, source)
        return super().execute(context)


class FixedModelsOperator(BaseOperator):
    """The model versions a remediation run verified (one list over every violation), for
    ``AssessModelOperator`` to be mapped over: a fixed version is assessed before release
    like any other."""

    template_fields = ("verified",)

    def __init__(self, *, verified: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verified = verified

    def execute(self, context: Any) -> list[dict[str, str]]:
        from trainguard.assessment.record import model_identity

        models = []
        for result in self.verified or []:
            for probe in (result or {}).get("probes", {}).values():
                name, version = model_identity(str(probe.get("model_uri", "")))
                if probe.get("passed") and name and version:
                    models.append({"model_name": name, "model_version": version})
        unique = list({(m["model_name"], m["model_version"]): m for m in models}.values())
        self.log.info("fixed model versions to assess: %s", unique or "none")
        return unique
