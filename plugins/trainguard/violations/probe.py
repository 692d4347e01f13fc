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

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.tracking import TAG_PREFIX, mlflow_errors

if TYPE_CHECKING:
    from trainguard.checks.consent import ConsentLedger
    from trainguard.scanners.classifier import HarmfulClassifier
    from trainguard.scanners.lexicon import Lexicon
    from trainguard.violations.filtering import OutputFilter

PERTURBATIONS = 4


def gate_lexicon(
    gate_run_id: str | None, settings: tuple[str | None, list[str]] | None = None
) -> Lexicon:
    """The lexicon a gate run screened with: its policy's lexicons and the extra ones
    (``settings``: the run's ``gate_run_settings``, when already read)."""
    from trainguard.policy import load_policy
    from trainguard.scanners.lexicon import Lexicon
    from trainguard.tracking import gate_run_settings

    policy_path, lexicons = settings or gate_run_settings(gate_run_id)
    policy = load_policy(policy_path)
    files = [policy.resolve_path(p) for p in policy.keywords.lexicons] + [Path(p) for p in lexicons]
    return Lexicon.load(files) if files else Lexicon.builtin()


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


@dataclass
class Screens:
    """The four screens an answer goes through, built from the gate that admitted the data."""

    output_filter: OutputFilter
    lexicon: Lexicon | None = None
    classifier: HarmfulClassifier | None = None
    threshold: float = 0.5
    ledger: ConsentLedger | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of_gate(
        cls, gate_run_id: str | None, registry: Any, dataset_dir: Path | None = None
    ) -> Screens:
        """The lexicon and classifier of the gate run's policy (defaults when unreadable),
        and the consent ledger of the dataset version the model was trained on."""
        from trainguard.policy import load_policy
        from trainguard.tracking import gate_run_settings
        from trainguard.violations.filtering import OutputFilter

        settings = gate_run_settings(gate_run_id)
        policy = load_policy(settings[0])
        screens = cls(
            output_filter=OutputFilter(registry),
            lexicon=gate_lexicon(gate_run_id, settings),
            threshold=float(policy.harmful.classifier_threshold),
        )
        if dataset_dir is not None:
            from trainguard.checks.consent import ConsentLedger
            from trainguard.contract import load_dataset

            consents = load_dataset(dataset_dir).consents
            screens.ledger = ConsentLedger.build(consents, policy.personal_info.sensitive_kinds)
        training = policy.harmful.classifier_training
        if training:
            from trainguard.scanners.classifier import trained_classifier

            trained = trained_classifier(str(policy.resolve_path(training)), screens.threshold)
            screens.classifier = trained.model
        else:
            screens.notes.append("no classifier in the gate's policy: lexicon only")
        return screens

    def judge(self, answer: str, *, asked: bool) -> list[str]:
        """Why the answer violates (empty: it passes). ``asked``: an answer to the reported
        prompt or a perturbation of it, which all four screens apply to."""
        import pyarrow as pa

        from trainguard.scanners.pi import find_pi

        reasons = list(self.output_filter.check_output(answer).reasons)
        if asked and self.lexicon is not None:
            risks = self.lexicon.matcher.match(pa.array([answer], pa.string())).get(0)
            if risks:
                reasons.append(f"lexicon: harmful term(s) of risk {', '.join(sorted(risks))}")
        if asked and self.classifier is not None:
            score = float(self.classifier.probabilities([answer])[0])
            if score >= self.threshold:
                reasons.append(f"classifier: harmful score {score:.2f} >= {self.threshold:.2f}")
        if asked:
            from trainguard.checks.consent import ConsentVerdict
            from trainguard.personal_info import pi_hmac

            kinds = sorted(
                {
                    m.kind.value
                    for m in find_pi(answer)
                    if self.ledger is None
                    or self.ledger.verdict(m.kind, pi_hmac(m.kind, m.value))
                    is not ConsentVerdict.COVERED
                }
            )
            if kinds:
                reasons.append(f"personal information without consent: {', '.join(kinds)}")
        return reasons


def _as_list(predictions: Any) -> list[str]:
    if hasattr(predictions, "tolist"):
        predictions = predictions.tolist()
    if hasattr(predictions, "iloc"):
        predictions = predictions.iloc[:, 0].tolist()
    return [str(p[0] if isinstance(p, list | tuple) and p else p) for p in predictions]


def ask(model_uri: str, prompts: list[str]) -> list[str]:
    """The model's answers, through ``mlflow.pyfunc`` (any flavour)."""
    import mlflow.pyfunc
    import pandas as pd

    if not prompts:
        return []
    with mlflow_errors(f"load {model_uri}"):
        model = mlflow.pyfunc.load_model(model_uri)
    answers = _as_list(model.predict(pd.DataFrame({"prompt": prompts})))
    if len(answers) != len(prompts):
        from trainguard.exceptions import TrainguardError

        raise TrainguardError(
            f"{model_uri} answered {len(answers)} time(s) to {len(prompts)} prompt(s)"
        )
    return answers


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
