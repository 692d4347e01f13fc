"""The demo's generative model: a TF-IDF nearest-neighbour responder built with scikit-learn.

It answers a prompt with the training text (pretraining) or the response (finetuning)
whose key is nearest to the prompt. That makes it reproduce what it was trained on,
which is what a verification probe needs: after optimisation training on a fixed dataset,
a removed record can no longer come back out. Pluggable: any estimator with ``fit`` and
``predict`` can take its place in the training operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    from collections.abc import Sequence


class NearestNeighbourResponder(BaseEstimator):
    """Answers with the value whose key is most similar (cosine over char n-gram TF-IDF)."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), max_features: int = 200_000):
        self.ngram_range = ngram_range
        self.max_features = max_features

    def fit(
        self, keys: Sequence[str], values: Sequence[str] | None = None
    ) -> NearestNeighbourResponder:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.neighbors import NearestNeighbors

        if len(keys) == 0:
            raise ValueError("cannot train on an empty dataset")
        values = keys if values is None else values
        if len(values) != len(keys):
            raise ValueError("keys and values differ in length")
        # char_wb n-grams work for Chinese (no spaces between words) and English alike.
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            max_features=self.max_features,
            sublinear_tf=True,
            dtype=_float32(),
        )
        matrix = self.vectorizer_.fit_transform(keys)
        self.index_ = NearestNeighbors(n_neighbors=1, metric="cosine", algorithm="brute")
        self.index_.fit(matrix)
        self.values_ = list(values)
        return self

    def predict(self, prompts: Any) -> list[str]:
        prompts = _as_texts(prompts)
        _, nearest = self.index_.kneighbors(self.vectorizer_.transform(prompts))
        return [self.values_[row[0]] for row in nearest]

    @property
    def vocabulary_size(self) -> int:
        return len(self.vectorizer_.vocabulary_)


def _float32() -> Any:
    import numpy as np

    return np.float32


def _as_texts(prompts: Any) -> list[str]:
    # MLflow's pyfunc wrapper hands over a DataFrame; the first column holds the prompts.
    if hasattr(prompts, "iloc"):
        return [str(value) for value in prompts.iloc[:, 0].tolist()]
    if isinstance(prompts, str):
        return [prompts]
    return [str(value) for value in prompts]
