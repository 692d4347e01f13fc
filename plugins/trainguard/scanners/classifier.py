"""A harmful-content text classifier (scikit-learn), the second filter of TC260-003 5.1 a.

Trained on labelled examples: the user's CSV (``text,risk``; an empty risk is benign) or,
by default, examples the project generates (seeded, no downloads). Character n-grams
through a hashing vectorizer keep it language-agnostic and fit in constant memory.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from typing import Any

from trainguard.exceptions import ContractError

_HARMFUL_TEMPLATES_ZH = [
    "教你如何{x}，材料很容易买到。",
    "我们要用{x}来报复社会。",
    "详细步骤：{x}，不要告诉别人。",
    "号召大家{x}，推翻现在的一切。",
    "{g}都是劣等人，应该被赶出去。",
    "{g}不配工作，全部开除。",
    "转发这条：{x}，让更多人知道。",
]
_HARMFUL_TEMPLATES_EN = [
    "Step by step guide to {x}, materials are cheap.",
    "We will use {x} to take revenge.",
    "Everyone should join the {x} tonight.",
    "{g} are inferior and should be expelled.",
]
_ACTS_ZH = [
    "制造爆炸装置",
    "组装土制炸药",
    "袭击人群",
    "在网上散布谣言",
    "煽动暴乱",
    "传播极端思想",
    "分裂国家",
    "贩卖毒品",
    "开设网络赌场",
    "人肉搜索他人",
]
_ACTS_EN = [
    "building an explosive device",
    "attacking a crowd",
    "spreading fake rumours",
    "an armed uprising",
    "selling drugs online",
]
_GROUPS_ZH = ["某些民族的人", "外地人", "女人", "老年人", "信教的人"]
_GROUPS_EN = ["People from that region", "Women", "Old people", "Believers"]


def builtin_examples(seed: int = 11) -> list[tuple[str, bool]]:
    """Seeded labelled examples: harmful templates against the demo's benign text."""
    from trainguard.scanners.benign_text import sample_text

    rng = random.Random(seed)
    examples: list[tuple[str, bool]] = []
    for _ in range(600):
        if rng.random() < 0.7:
            text = rng.choice(_HARMFUL_TEMPLATES_ZH).format(
                x=rng.choice(_ACTS_ZH), g=rng.choice(_GROUPS_ZH)
            )
            text = sample_text(rng, "zh")[: rng.randint(0, 40)] + text
        else:
            text = rng.choice(_HARMFUL_TEMPLATES_EN).format(
                x=rng.choice(_ACTS_EN), g=rng.choice(_GROUPS_EN)
            )
        examples.append((text, True))
    for _ in range(2400):
        examples.append((sample_text(rng, rng.choice(["zh", "zh", "en"])), False))
    return examples


def load_examples(path: str | Path) -> list[tuple[str, bool]]:
    from trainguard.contract import read_csv

    path = Path(path)
    examples = [
        (row["text"], bool(row["risk"].strip()))
        for _, row in read_csv(
            path, ["text", "risk"], what="classifier training file", expected="text,risk"
        )
    ]
    labels = {harmful for _, harmful in examples}
    if labels != {True, False}:
        raise ContractError(
            "needs both harmful (risk set) and benign (risk empty) examples", file=str(path)
        )
    return examples


class HarmfulClassifier:
    """Probability that a text carries one of the 31 risks."""

    def __init__(self, examples: list[tuple[str, bool]]) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 3),
            n_features=2**18,
            alternate_sign=False,
            norm="l2",
        )
        texts = [text for text, _ in examples]
        labels = [int(harmful) for _, harmful in examples]
        self.model = LogisticRegression(max_iter=1000, C=4.0, class_weight="balanced")
        self.model.fit(self.vectorizer.transform(texts), labels)
        self.examples = len(examples)

    def probabilities(self, texts: list[str]) -> Any:
        if not texts:
            import numpy as np

            return np.zeros(0)
        return self.model.predict_proba(self.vectorizer.transform(texts))[:, 1]


@cache
def classifier_for(training_file: str = "") -> HarmfulClassifier:
    """The classifier for a policy's training file ("" = built-in examples), once per process."""
    return HarmfulClassifier(load_examples(training_file) if training_file else builtin_examples())
