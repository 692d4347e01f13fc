"""An assessment in MLflow: its run, the evaluation view, the model version's tags and alias.

The run (``trainguard.kind=assessment``) holds the rates and their bounds as metrics, every
answer (PI-masked) as the table ``assessment_answers.json``, and ``assessment.json``. The
failed answers and a sample of the passing ones are also logged as an MLflow 3 evaluation
(``mlflow.genai.evaluate`` on the stored verdicts, linked to the version's logged model),
so a reviewer sees them in the stock Evaluations view; capped by ``traces`` because each
trace costs about 0.08 s on a SQLite store (measured: 200 in 16 s). The version gets
``trainguard.assessment`` and ``trainguard.assessment_run``; the alias ``assessed`` moves
to it only on a pass, and leaves it when a re-assessment fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from trainguard.tracking import TAG_PREFIX, mlflow_errors

if TYPE_CHECKING:
    from trainguard.policy import Policy

# An Assessment (assess.py) is passed in as ``result``: assess.py imports this module.
Assessment = Any

log = logging.getLogger(__name__)
ASSESSMENT_TAG = f"{TAG_PREFIX}assessment"
ASSESSMENT_RUN_TAG = f"{TAG_PREFIX}assessment_run"
ALIAS = "assessed"  # the registered model alias a passing assessment moves to its version


def model_identity(model_uri: str) -> tuple[str | None, str | None]:
    """(registered model, version) of ``models:/name/version`` or ``models:/name@alias``;
    (None, None) for any other URI (its result cannot move an alias)."""
    if not model_uri.startswith("models:/"):
        return None, None
    rest = model_uri.removeprefix("models:/")
    if "@" in rest:
        import mlflow

        name, alias = rest.split("@", 1)
        with mlflow_errors(f"resolve {model_uri}"):
            found = mlflow.MlflowClient().get_model_version_by_alias(name, alias)
        return name, str(found.version)
    name, _, version = rest.rpartition("/")
    return (name, version) if name and version.isdigit() else (None, None)


def record_assessment(
    result: Assessment, policy: Policy, *, traces: int, context_tags: dict[str, str] | None
) -> None:
    """Log the run; then tag the version and move the alias (the decision comes last)."""
    import mlflow

    from trainguard.tracking import ensure_experiment

    passed = result.passed
    rows = [item.row() for item in result.judged]
    label = f"{result.model_name} v{result.model_version}" if result.model_name else "model"
    note = result.to_text().replace("\n", "  \n")
    with (
        mlflow_errors("record the assessment"),
        mlflow.start_run(
            experiment_id=ensure_experiment(),
            run_name=f"assessment {label}: {'PASS' if passed else 'FAIL'}",
            tags={
                f"{TAG_PREFIX}kind": "assessment",
                f"{TAG_PREFIX}model_uri": result.model_uri,
                **(
                    {
                        f"{TAG_PREFIX}model_name": str(result.model_name),
                        f"{TAG_PREFIX}model_version": str(result.model_version),
                    }
                    if result.model_name
                    else {}
                ),
                f"{TAG_PREFIX}banks_digest": str(result.banks.get("digest", "")),
                "mlflow.note.content": f"Release assessment (Art. 4, 6; TC260-003 9.3)  \n{note}",
                **(context_tags or {}),
            },
        ) as run,
    ):
        result.run_id = run.info.run_id
        mlflow.log_params(
            {
                "model_uri": result.model_uri,
                "banks_digest": result.banks.get("digest", ""),
                "banks_updated": result.banks.get("updated") or "",
                "policy_digest": policy.digest,
                **{f"sample.{bank}": n for bank, n in result.samples.items()},
            }
        )
        metrics = {"assessment.answers": float(len(rows))}
        for name, measure in result.measures.items():
            metrics |= {
                f"assessment.{name}": float(measure["rate"]),
                f"assessment.{name}.low": float(measure["low"]),
                f"assessment.{name}.high": float(measure["high"]),
            }
        metrics["assessment.wall_seconds"] = round(result.wall_seconds, 2)
        metrics |= {f"assessment.seconds.{k}": v for k, v in result.seconds.items()}
        mlflow.log_metrics(metrics)
        failed_first = sorted(rows, key=lambda r: r["verdict"] == "pass")
        if rows:
            mlflow.log_table(
                {key: [row[key] for row in failed_first] for key in rows[0]},
                artifact_file="assessment_answers.json",
            )
        if result.data_docs is not None:
            mlflow.log_artifacts(str(result.data_docs), artifact_path="data_docs")
        if traces and rows:
            _log_evaluation(result, failed_first[:traces])
        # The decision tag last: a run cut off before this line never reads as decided.
        mlflow.set_tag(f"{TAG_PREFIX}decision", "pass" if passed else "fail")
        mlflow.log_dict(result.to_dict(), "assessment.json")
    if result.model_name and result.model_version:
        _tag_version(result)


def _tag_version(result: Assessment) -> None:
    import mlflow

    name, version = str(result.model_name), str(result.model_version)
    client = mlflow.MlflowClient()
    with mlflow_errors(f"tag {name} version {version} with its assessment"):
        client.set_model_version_tag(name, version, ASSESSMENT_RUN_TAG, str(result.run_id))
        client.set_model_version_tag(
            name, version, ASSESSMENT_TAG, "pass" if result.passed else "fail"
        )
        if result.passed:
            client.set_registered_model_alias(name, ALIAS, version)
            result.alias_set = True
            return
        aliases = client.get_registered_model(name).aliases or {}
        if str(aliases.get(ALIAS)) == version:
            client.delete_registered_model_alias(name, ALIAS)


def _log_evaluation(result: Assessment, chosen: list[dict[str, Any]]) -> None:
    """The ``chosen`` answers (failed first, then passing ones) as an MLflow evaluation."""
    import mlflow
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    data = [
        {
            "inputs": {"question": row["question"]},
            "outputs": row["answer"],
            "expectations": {
                "bank": row["bank"],
                "risk": row["risk"],
                "verdict": row["verdict"],
                "reasons": row["reasons"] or "none",
                "refused": row["refused"],
            },
        }
        for row in chosen
    ]

    @scorer(name="trainguard_verdict")
    def verdict(expectations: dict[str, Any]) -> Any:
        return Feedback(
            value=expectations["verdict"] == "pass",
            rationale=f"{expectations['bank']} question, risk {expectations['risk'] or '-'}: "
            f"{expectations['reasons']}",
        )

    @scorer(name="refused")
    def refused(expectations: dict[str, Any]) -> Any:
        return Feedback(value=bool(expectations["refused"]), rationale="refusal detector")

    model_id = None
    if result.model_name:
        with contextlib.suppress(Exception):
            found = mlflow.MlflowClient().get_model_version(
                str(result.model_name), str(result.model_version)
            )
            model_id = getattr(found, "model_id", None)
    # One worker: the default pool exhausts a SQLite store's connections (measured).
    os.environ.setdefault("MLFLOW_GENAI_EVAL_MAX_WORKERS", "1")
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep --format json's stdout clean
            mlflow.genai.evaluate(data=data, scorers=[verdict, refused], model_id=model_id)
    except Exception as exc:  # noqa: BLE001 - the view is extra; the table holds every answer
        log.warning("assessment answers not logged as an MLflow evaluation: %s", exc)
        mlflow.set_tag(f"{TAG_PREFIX}evaluation", f"not logged: {type(exc).__name__}")
        return
    mlflow.set_tag(f"{TAG_PREFIX}evaluation", f"{len(data)} answers, failed first")


def latest_assessment(model_name: str, version: str | int) -> dict[str, Any] | None:
    """``assessment.json`` of the version's assessment run (the one its tag names)."""
    import mlflow

    client = mlflow.MlflowClient()
    with mlflow_errors(f"read the assessment of {model_name} version {version}"):
        tags = client.get_model_version(model_name, str(version)).tags or {}
        run_id = tags.get(ASSESSMENT_RUN_TAG)
        if not run_id:
            return None
        document = mlflow.artifacts.load_dict(f"runs:/{run_id}/assessment.json")
    aliases = client.get_registered_model(model_name).aliases or {}
    document["alias"] = "assessed" if str(aliases.get("assessed")) == str(version) else None
    return document
