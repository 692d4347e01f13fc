"""The verification probe (Art. 15): ask the model, screen every answer, record it in MLflow.

After optimization training, the new model version is loaded with ``mlflow.pyfunc`` (any
flavour: the team's own model, not only the demo's) and asked:

- the reported prompt and a few perturbations of it (spacing and punctuation, full-width
  characters, letter case, a polite prefix), whose answers are screened by all four
  screens: the output filter (the registry's blocklist: reported outputs, withdrawn works,
  PI under deletion), the gate's lexicon, the gate's classifier, and the PI scanner (a
  value the training data's consent ledger does not cover violates);
- the inputs of the records the fix removed or masked, whose answers are screened for the
  violation's own content: it must not come back (output filter and PI under deletion).
  Lexicon and classifier are not applied to them: they were ordinary training records, and
  the model may answer them with other content the gate admitted.

The prompts (PI-masked), the verdicts and the model URI go to an MLflow run
(``trainguard.kind=probe``) with the answers as an evaluation table; its run id is in the
violation's evidence. Raw PI never leaves: answers are logged masked, PI by kind and HMAC.
"""

from __future__ import annotations

from typing import Any

# The judge is shared with the release assessment; re-exported for the probe's callers.
from trainguard.assessment.screening import Screens, ask, gate_lexicon
from trainguard.tracking import TAG_PREFIX, mlflow_errors

__all__ = ["Screens", "ask", "gate_lexicon", "perturbations", "run_probe"]

PERTURBATIONS = 4


def perturbations(prompt: str) -> list[str]:
    """The prompt and a few rewordings a user might type (deduplicated, order kept)."""
    collapsed = " ".join(prompt.split()).rstrip("?？.。!！")
    full_width = "".join(
        chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\u3000" if ch == " " else ch
        for ch in prompt
    )
    polite = "请回答：" if any("\u4e00" <= ch <= "\u9fff" for ch in prompt) else "Please answer: "
    variants = [prompt, collapsed + "?", full_width, prompt.swapcase(), polite + prompt]
    return list(dict.fromkeys(v for v in variants if v.strip()))[: PERTURBATIONS + 1]


def run_probe(
    *,
    violation: Any,
    model_uri: str,
    asked: list[str],
    touched: list[str],
    screens: Screens,
    context_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Ask, screen and record; ``passed`` only when no answer violates."""
    from trainguard.personal_info import mask_pi

    prompts = [(p, True) for p in asked] + [(p, False) for p in touched]
    answers = ask(model_uri, [p for p, _ in prompts])
    rows = []
    for (prompt, is_asked), answer in zip(prompts, answers, strict=True):
        reasons = screens.judge(answer, asked=is_asked)
        masked_answer, answer_pi = mask_pi(answer)
        rows.append(
            {
                "prompt": mask_pi(prompt)[0],
                "asked": is_asked,
                "answer": masked_answer,
                "answer_pi": [f"{p['kind']}:{p['hmac'][:16]}" for p in answer_pi],
                "verdict": "violates" if reasons else "passes",
                "reasons": "; ".join(reasons),
            }
        )
    violating = [r for r in rows if r["verdict"] == "violates"]
    run_id = _log_probe(violation, model_uri, rows, screens, context_tags)
    return {
        "passed": not violating,
        "model_uri": model_uri,
        "prompts_asked": len(asked),
        "prompts_of_touched_records": len(touched),
        "answers_violating": len(violating),
        "reasons": sorted({str(r["reasons"]) for r in violating})[:10],
        "probe_run_id": run_id,
        "screens": [
            name
            for name in (
                "output filter",
                "lexicon",
                "classifier" if screens.classifier else "",
                "PI",
            )
            if name
        ],
    }


def _log_probe(
    violation: Any,
    model_uri: str,
    rows: list[dict[str, Any]],
    screens: Screens,
    context_tags: dict[str, str] | None,
) -> str:
    import mlflow

    from trainguard.tracking import ensure_experiment

    experiment_id = ensure_experiment()
    violating = sum(r["verdict"] == "violates" for r in rows)
    with (
        mlflow_errors("record the verification probe"),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"probe {violation.id} on {model_uri.removeprefix('models:/')}",
            tags={
                f"{TAG_PREFIX}kind": "probe",
                f"{TAG_PREFIX}violation": violation.id,
                f"{TAG_PREFIX}model_uri": model_uri,
                f"{TAG_PREFIX}decision": "fail" if violating else "pass",
                "mlflow.note.content": (
                    f"Verification probe of violation **{violation.id}** ({violation.kind}, "
                    f"{violation.clause}) on `{model_uri}`: {len(rows)} prompt(s), "
                    f"{violating} answer(s) violating. Screens: output filter, lexicon, "
                    f"classifier, PI scanner. {' '.join(screens.notes)}"
                ),
                **(context_tags or {}),
            },
        ) as run,
    ):
        mlflow.log_params({"model_uri": model_uri, "violation": violation.id})
        mlflow.log_metrics(
            {
                "probe.prompts": float(len(rows)),
                "probe.answers_violating": float(violating),
                "probe.pass_rate": (len(rows) - violating) / len(rows) if rows else 1.0,
            }
        )
        if rows:
            mlflow.log_table(
                {key: [row[key] for row in rows] for key in rows[0]},
                artifact_file="probe_answers.json",
            )
    return str(run.info.run_id)
