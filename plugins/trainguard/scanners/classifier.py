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
constant. The hashing is computed here with NumPy, equal to scikit-learn's
HashingVectorizer (a test holds them equal), so scoring never imports scikit-learn; MLflow
logs the model as the equivalent scikit-learn pipeline.
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
FIT_FORMAT = 2  # of the kept fits and their features: a change here refits everywhere


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


N_FEATURES = 2**18
SCORING_BATCH = 2_048  # texts hashed at a time: rows are scored independently


def hashed_features(texts: list[str]) -> Any:
    """Each text's character 2- and 3-grams within words, hashed into ``N_FEATURES`` counts
    and L2-normalised: a SciPy CSR array equal, entry for entry, to what scikit-learn's
    ``HashingVectorizer(analyzer="char_wb", ngram_range=(2, 3), alternate_sign=False)``
    makes (a unit test holds the two equal), computed with NumPy over the whole batch.

    Why not scikit-learn's own: importing it costs a second in every process that scores,
    and it builds its n-grams one Python string at a time. Here an n-gram is a slice of
    the batch's UTF-8 bytes, hashed (MurmurHash3) four bytes at a time across all of them.
    """
    import numpy as np
    import scipy.sparse as sp

    # lower() then split(): the words the vectorizer's char_wb analyzer sees, each padded
    # with a space on both sides (" w1  w2 "); a text without words adds nothing.
    padded = [f" {'  '.join(words)} " if (words := text.lower().split()) else "" for text in texts]
    chars = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    encoded = "".join(padded).encode("utf-8")
    stream = np.frombuffer(encoded + bytes(16), dtype=np.uint8)
    # Where each character's bytes start (a byte that is not a continuation byte).
    offsets = np.append(np.flatnonzero((stream[: len(encoded)] & 0xC0) != 0x80), len(encoded))
    space = stream[offsets[:-1]] == 0x20
    # A word's closing space follows a non-space; an n-gram may end on one, not cross it.
    closing = space & ~np.append(True, space[:-1])
    crossed = np.append(0, np.cumsum(closing))
    # Every 4 bytes from every offset, little-endian, as MurmurHash3 reads its blocks.
    words4 = np.ndarray((len(stream) - 3,), dtype="<u4", buffer=stream, strides=(1,))
    position = np.arange(len(closing))
    starts = []
    for n in (2, 3):
        fits = position[: max(len(position) - n + 1, 0)]
        starts.append(fits[crossed[fits + n - 1] == crossed[fits]])
    # In text order (each list is; a stable sort merges the two runs), so the CSR rows
    # come out directly.
    order = np.argsort(np.concatenate(starts), kind="stable")
    width = np.concatenate([np.full(len(starts[0]), 2), np.full(len(starts[1]), 3)])[order]
    begin = np.concatenate(starts)[order]
    first = offsets[begin]
    columns = _murmur_index(words4, first, offsets[begin + width] - first)
    text_end = np.cumsum(chars)
    per_text = np.searchsorted(begin, text_end, side="left")
    indptr = np.append(0, per_text)
    counts = sp.csr_array(
        (np.ones(len(columns)), columns, indptr), shape=(len(texts), N_FEATURES), dtype=np.float64
    )
    counts.sum_duplicates()  # sorted indices, duplicates summed: exact integer counts
    # L2 per row: sums of squared integer counts are exact, so the order does not matter.
    row_of = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=counts.data**2, minlength=len(texts)))
    counts.data /= norms[row_of]
    return counts


def _murmur_index(words4: Any, first: Any, length: Any) -> Any:
    """The feature index of each byte string ``[first, first + length)`` (at most 12
    bytes): |MurmurHash3_x86_32, seed 0, read as a signed int| mod N_FEATURES, as
    scikit-learn's hasher computes it."""
    import numpy as np

    c1, c2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
    full = length // 4
    h = np.zeros(len(first), dtype=np.uint32)
    for block in range(3):
        k1 = _rotl(words4[first + 4 * block] * c1, 15) * c2
        mixed = _rotl(h ^ k1, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        h = np.where(block < full, mixed, h)
    # The last 1-3 bytes (none: a mask of 0, and MurmurHash3 skips a zero tail anyway).
    mask = (np.uint64(1) << (np.uint64(8) * (length % 4).astype(np.uint64))) - np.uint64(1)
    tail = words4[first + 4 * full] & mask.astype(np.uint32)
    h ^= _rotl(tail * c1, 15) * c2
    h ^= length.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return np.abs(h.view(np.int32).astype(np.int64)) % N_FEATURES


def _rotl(x: Any, bits: int) -> Any:
    import numpy as np

    return (x << np.uint32(bits)) | (x >> np.uint32(32 - bits))


def _logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, C=4.0, class_weight="balanced")


class HarmfulClassifier:
    """Probability that a text carries one of the 31 risks: logistic regression over
    hashed character n-grams (``hashed_features``)."""

    def __init__(self, coef: Any, intercept: Any, examples: int) -> None:
        self.coef, self.intercept, self.examples = coef, intercept, examples

    @classmethod
    def fit(cls, examples: list[Example]) -> HarmfulClassifier:
        model = _logistic_regression()
        model.fit(hashed_features([e.text for e in examples]), [int(e.harmful) for e in examples])
        return cls(model.coef_, model.intercept_, len(examples))

    def arrays(self) -> dict[str, Any]:
        """What the fit learnt (the hashing is stateless): numbers, no pickled code."""
        return {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], examples: int) -> HarmfulClassifier:
        return cls(arrays["coef"], arrays["intercept"], examples)

    def probabilities(self, texts: list[str]) -> Any:
        """Each text's probability of harm: the operations scikit-learn's predict_proba
        runs on these features, in its order (SciPy's sparse product, SciPy's expit)."""
        import numpy as np
        from scipy.special import expit

        if not texts:
            return np.zeros(0)
        scores = []
        for begin in range(0, len(texts), SCORING_BATCH):  # arrays that stay in cache
            features = hashed_features(texts[begin : begin + SCORING_BATCH])
            decision = features @ self.coef.T + self.intercept.reshape(1, -1)
            scores.append(expit(decision.reshape(-1)))
        return np.concatenate(scores)

    @property
    def pipeline(self) -> Any:
        """The same model as a scikit-learn pipeline (what MLflow logs): scikit-learn's
        HashingVectorizer, equal to ``hashed_features``, and the fitted regression."""
        import numpy as np
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.pipeline import make_pipeline

        model = _logistic_regression()
        model.coef_, model.intercept_ = self.coef, self.intercept
        model.classes_ = np.array([0, 1])
        model.n_features_in_ = N_FEATURES
        model.n_iter_ = np.array([0])
        vectorizer = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 3), n_features=N_FEATURES, alternate_sign=False
        )
        return make_pipeline(vectorizer, model)


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
    from importlib.metadata import version

    import numpy as np

    # The regression's solver is scikit-learn's: a new version may fit other numbers.
    key = hashlib.sha256(
        f"{training_sha256}|{version('scikit-learn')}|{FIT_FORMAT}".encode()
    ).hexdigest()
    target = fit_cache_dir() / f"{key[:32]}.npz"
    try:
        with np.load(target, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("coef", "intercept")}
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
