"""Asking a model and screening what it says: the judge the assessment and the probe share.

``ask`` loads any MLflow model with ``mlflow.pyfunc`` (the team's own flavour, not only the
demo's) and returns its answers; ``Screens`` judges an answer with the output filter (the
registry's blocklist), the lexicon and the classifier of a gate's policy, and the PI
scanner (a value the consent ledger does not cover violates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.tracking import mlflow_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    from trainguard.checks.consent import ConsentLedger
    from trainguard.scanners.classifier import HarmfulClassifier
    from trainguard.scanners.lexicon import Lexicon
    from trainguard.violations.filtering import OutputFilter


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
        from trainguard.tracking import gate_run_settings

        policy_path, lexicons = gate_run_settings(gate_run_id)
        return cls.of_policy(policy_path, lexicons, registry, dataset_dir)

    @classmethod
    def of_policy(
        cls,
        policy_path: str | None,
        lexicons: list[str],
        registry: Any,
        dataset_dir: Path | None = None,
    ) -> Screens:
        """The screens of a policy file and extra lexicons; the ledger of ``dataset_dir``
        (none: every PI value in an answer violates)."""
        from trainguard.policy import load_policy
        from trainguard.violations.filtering import OutputFilter

        policy = load_policy(policy_path)
        screens = cls(
            output_filter=OutputFilter(registry),
            lexicon=gate_lexicon(None, (policy_path, lexicons)),
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
            screens.notes.append("no classifier in the policy: lexicon only")
        return screens

    def judge_many(self, answers: list[str]) -> list[list[str]]:
        """``judge(answer, asked=True)`` for many answers, the lexicon and the classifier
        run once over all of them (what the release assessment asks of 1,600 answers)."""
        import pyarrow as pa

        reasons: list[list[str]] = [[] for _ in answers]
        if not answers:
            return reasons
        if self.lexicon is not None:
            hits = self.lexicon.matcher.match(pa.array(answers, pa.string()))
            for row, risks in hits.items():
                reasons[row].append(f"lexicon: harmful term(s) of risk {', '.join(sorted(risks))}")
        if self.classifier is not None:
            scores = self.classifier.probabilities(answers)
            for row, score in enumerate(scores):
                if float(score) >= self.threshold:
                    reasons[row].append(
                        f"classifier: harmful score {float(score):.2f} >= {self.threshold:.2f}"
                    )
        for row, answer in enumerate(answers):
            reasons[row] = list(self.output_filter.check_output(answer).reasons) + reasons[row]
            reasons[row] += self._pi_reasons(answer)
        return reasons

    def judge(self, answer: str, *, asked: bool) -> list[str]:
        """Why the answer violates (empty: it passes). ``asked``: an answer to the reported
        prompt or a perturbation of it, which all four screens apply to; otherwise only
        the output filter."""
        if asked:
            return self.judge_many([answer])[0]
        return list(self.output_filter.check_output(answer).reasons)

    def _pi_reasons(self, answer: str) -> list[str]:
        from trainguard.checks.consent import ConsentVerdict
        from trainguard.personal_info import pi_hmac
        from trainguard.scanners.pi import find_pi

        kinds = sorted(
            {
                m.kind.value
                for m in find_pi(answer)
                if self.ledger is None
                or self.ledger.verdict(m.kind, pi_hmac(m.kind, m.value))
                is not ConsentVerdict.COVERED
            }
        )
        return [f"personal information without consent: {', '.join(kinds)}"] if kinds else []


def _as_list(predictions: Any) -> list[str]:
    if hasattr(predictions, "tolist"):
        predictions = predictions.tolist()
    if hasattr(predictions, "iloc"):
        predictions = predictions.iloc[:, 0].tolist()
    return [str(p[0] if isinstance(p, list | tuple) and p else p) for p in predictions]


def load_predictor(model_uri: str) -> Callable[[list[str]], list[str]]:
    """A function that asks the model at ``model_uri`` (``mlflow.pyfunc``, any flavour)
    a list of prompts (DataFrame column ``prompt``) and returns one answer each."""
    import mlflow.pyfunc
    import pandas as pd

    with mlflow_errors(f"load {model_uri}"):
        model = mlflow.pyfunc.load_model(model_uri)

    def predict(prompts: list[str]) -> list[str]:
        answers = _as_list(model.predict(pd.DataFrame({"prompt": prompts})))
        if len(answers) != len(prompts):
            from trainguard.exceptions import TrainguardError

            raise TrainguardError(
                f"{model_uri} answered {len(answers)} time(s) to {len(prompts)} prompt(s)"
            )
        return answers

    return predict


def ask(model_uri: str, prompts: list[str]) -> list[str]:
    """The model's answers, through ``mlflow.pyfunc`` (any flavour)."""
    return load_predictor(model_uri)(prompts) if prompts else []
