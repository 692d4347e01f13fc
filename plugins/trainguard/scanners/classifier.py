"""A harmful-content classifier trained on the provider's labelled examples (TC260-003 5.1 a).

trainguard ships no classifier: a model that learnt "benign" from one generator's
sentences calls ordinary text harmful. A provider names a CSV of labelled examples in
the policy (``harmful.classifier_training``; header ``text,label,risk``: label 1 with a
risk code of the 31-risk taxonomy, label 0 with an empty risk). The classifier is trained
on four fifths of it and validated on the held-out fifth (chosen by a hash of the text,
so the split is the same on every machine); precision, recall and the false-positive rate
are measured at the policy's threshold, overall and per language, and the gate refuses a
classifier below the policy's bars. Without a training file the harmful rate comes from
the lexicon alone, and the report says so.

Character n-grams through a hashing vectorizer keep it language-agnostic and its memory
constant; it is a scikit-learn pipeline, so MLflow logs it as a model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    from collections.abc import Mapping

MIN_EXAMPLES_PER_CLASS = 20  # per class in the training file: fewer cannot be validated
VALIDATION_SHARE = 5  # one record in five is held out
FIT_FORMAT = 1  # of the kept fits: a change here refits everywhere


@dataclass(frozen=True)
class Example:
    text: str
    harmful: bool
    risk: str
    language: str  # "zh", "en" or "other", by script (scanners.quality.detect_languages)


def load_examples(path: str | Path) -> list[Example]:
    """The labelled examples of ``path``; bad rows are a ContractError naming row and field."""
    import pyarrow as pa

    from trainguard.contract import read_csv
    from trainguard.scanners.lexicon import RISK_CODES
    from trainguard.scanners.quality import detect_languages

    path = Path(path)
    rows: list[tuple[str, bool, str]] = []
    for line, row in read_csv(
        path,
        ["text", "label", "risk"],
        what="classifier training file",
        expected="header text,label,risk",
    ):
        text, label, risk = row["text"], row["label"].strip(), row["risk"].strip()
        if label not in ("0", "1"):
            raise ContractError(
                f"label '{label}' is not 0 or 1",
                file=str(path),
                row=line,
                field="label",
                expected="1 harmful, 0 benign",
            )
        if label == "1" and risk not in RISK_CODES:
            raise ContractError(
                f"unknown risk code '{risk}'",
                file=str(path),
                row=line,
                field="risk",
                expected="a code of the 31-risk taxonomy, e.g. A.1.f, for label 1",
            )
        if label == "0" and risk:
            raise ContractError(
                f"a benign example carries risk '{risk}'",
                file=str(path),
                row=line,
                field="risk",
                expected="empty for label 0",
            )
        if not text.strip():
            raise ContractError("empty text", file=str(path), row=line, field="text")
        rows.append((text, label == "1", risk))
    languages = detect_languages(pa.array([text for text, _, _ in rows], pa.string()))
    examples = [
        Example(text, harmful, risk, str(language))
        for (text, harmful, risk), language in zip(rows, languages, strict=True)
    ]
    harmful = sum(e.harmful for e in examples)
    benign = len(examples) - harmful
    if min(harmful, benign) < MIN_EXAMPLES_PER_CLASS:
        raise ContractError(
            f"{harmful} harmful and {benign} benign examples: too few to train and validate",
            file=str(path),
            field="label",
            expected=f"at least {MIN_EXAMPLES_PER_CLASS} of each class",
        )
    return examples


def held_out(example: Example) -> bool:
    """One example in five, by a hash of its text: the same split on every machine."""
    digest = hashlib.blake2b(example.text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % VALIDATION_SHARE == 0


@dataclass(frozen=True)
class Scores:
    """Precision, recall and false-positive rate of one validation set at one threshold."""

    examples: int
    harmful: int
    precision: float
    recall: float
    false_positive_rate: float

    @classmethod
    def of(cls, truth: list[bool], flagged: list[bool]) -> Scores:
        tp = sum(t and f for t, f in zip(truth, flagged, strict=True))
        fp = sum(f and not t for t, f in zip(truth, flagged, strict=True))
        positives, negatives = sum(truth), len(truth) - sum(truth)
        return cls(
            examples=len(truth),
            harmful=positives,
            precision=tp / (tp + fp) if tp + fp else 1.0,
            recall=tp / positives if positives else 1.0,
            false_positive_rate=fp / negatives if negatives else 0.0,
        )

    def to_dict(self) -> dict[str, float | int]:
        return {
            "examples": self.examples,
            "harmful": self.harmful,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "false_positive_rate": round(self.false_positive_rate, 4),
        }


@dataclass(frozen=True)
class Validation:
    threshold: float
    overall: Scores
    by_language: dict[str, Scores] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            **self.overall.to_dict(),
            "by_language": {k: v.to_dict() for k, v in sorted(self.by_language.items())},
        }


def _pipeline() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 3),
            n_features=2**18,
            alternate_sign=False,
            norm="l2",
        ),
        LogisticRegression(max_iter=1000, C=4.0, class_weight="balanced"),
    )


class HarmfulClassifier:
    """Probability that a text carries one of the 31 risks: a scikit-learn pipeline."""

    def __init__(self, pipeline: Any, examples: int) -> None:
        self.pipeline = pipeline
        self.examples = examples

    @classmethod
    def fit(cls, examples: list[Example]) -> HarmfulClassifier:
        pipeline = _pipeline()
        pipeline.fit([e.text for e in examples], [int(e.harmful) for e in examples])
        return cls(pipeline, len(examples))

    def arrays(self) -> dict[str, Any]:
        """What the fit learnt (the vectorizer is stateless): numbers, no pickled code."""
        model = self.pipeline[-1]
        return {"coef": model.coef_, "intercept": model.intercept_, "classes": model.classes_}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], examples: int) -> HarmfulClassifier:
        """The classifier ``arrays()`` describes: the same probabilities, bit for bit."""
        pipeline = _pipeline()
        model = pipeline[-1]
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.classes_ = arrays["classes"]
        model.n_features_in_ = arrays["coef"].shape[1]
        model.n_iter_ = [0]
        return cls(pipeline, examples)

    def probabilities(self, texts: list[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros(0)
        return self.pipeline.predict_proba(texts)[:, 1]


@dataclass(frozen=True)
class TrainedClassifier:
    """A classifier with what it was trained on and how it scored on held-out examples."""

    model: HarmfulClassifier
    source: str  # the training file
    sha256: str  # of the training file's bytes: the training-data digest
    trained_on: int
    validation: Validation

    def summary(self) -> dict[str, Any]:
        return {
            "mode": "classifier",
            "training_file": self.source,
            "training_sha256": self.sha256,
            "trained_on": self.trained_on,
            "validation": self.validation.to_dict(),
        }

    def shortfalls(self, *, min_precision: float, max_false_positive_rate: float) -> list[str]:
        """What misses the policy's bars, with the figures (empty when it meets them)."""
        problems = []
        for name, scores in [
            ("overall", self.validation.overall),
            *sorted(self.validation.by_language.items()),
        ]:
            if scores.harmful and scores.precision < min_precision:
                problems.append(f"{name} precision {scores.precision:.3f} < {min_precision}")
            if scores.false_positive_rate > max_false_positive_rate:
                problems.append(
                    f"{name} false-positive rate {scores.false_positive_rate:.3f} "
                    f"> {max_false_positive_rate}"
                )
        return problems


def train(path: str | Path, threshold: float) -> TrainedClassifier:
    """Train on four fifths of ``path`` and validate on the rest at ``threshold``.

    The fit is kept under ``$TRAINGUARD_HOME/classifiers``, keyed by the training file's
    bytes, scikit-learn's version and the model's settings, so each shard task, the gate
    and the assessment load it instead of fitting again (about a second each). The
    validation is always measured again on the loaded model: a cached fit is held to the
    policy's bars exactly as a fresh one.
    """
    data = Path(path).read_bytes()
    examples = load_examples(path)
    training = [e for e in examples if not held_out(e)]
    validation = [e for e in examples if held_out(e)]
    if sum(e.harmful for e in validation) == 0 or all(e.harmful for e in validation):
        raise ContractError(
            "the held-out fifth lacks one of the classes: add examples",
            file=str(path),
            field="label",
        )
    model = _cached_fit(hashlib.sha256(data).hexdigest(), training)
    flagged = [bool(p >= threshold) for p in model.probabilities([e.text for e in validation])]
    truth = [e.harmful for e in validation]
    by_language = {}
    for language in sorted({e.language for e in validation}):
        rows = [i for i, e in enumerate(validation) if e.language == language]
        by_language[language] = Scores.of([truth[i] for i in rows], [flagged[i] for i in rows])
    return TrainedClassifier(
        model=model,
        source=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        trained_on=len(training),
        validation=Validation(threshold, Scores.of(truth, flagged), by_language),
    )


def fit_cache_dir() -> Path:
    from trainguard.settings import trainguard_home

    return trainguard_home() / "classifiers"


def _cached_fit(training_sha256: str, training: list[Example]) -> HarmfulClassifier:
    """The fit for these examples: loaded when this machine made it before, else made and
    kept (written then renamed, so a reader never sees half a file; a folder that cannot
    be written only costs the refit)."""
    import os

    import numpy as np
    import sklearn

    settings = repr(_pipeline().get_params(deep=True))
    key = hashlib.sha256(
        f"{training_sha256}|{sklearn.__version__}|{FIT_FORMAT}|{settings}".encode()
    ).hexdigest()
    target = fit_cache_dir() / f"{key[:32]}.npz"
    try:
        with np.load(target, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("coef", "intercept", "classes")}
        return HarmfulClassifier.from_arrays(arrays, len(training))
    except (OSError, KeyError, ValueError):
        pass  # not made here yet, or unreadable: fit again
    model = HarmfulClassifier.fit(training)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.stem}.{os.getpid()}.partial.npz")
        np.savez(partial, **model.arrays())
        os.replace(partial, target)
    except OSError:
        pass
    return model


@cache
def trained_classifier(path: str, threshold: float) -> TrainedClassifier:
    """The classifier for a policy's training file, trained once per process."""
    return train(path, threshold)
