"""The demo's second model family: a word n-gram language model that generates from a prompt.

Unlike the nearest-neighbour responder, it composes text: it picks the training prompt
closest to the one asked (token Jaccard), starts from the first words of that pair's
response and continues with the most frequent next word after the last ``order - 1``
words, across every response it was trained on. So it can say what no single training
record says, as a real generative model does, which is what the verification probe must
catch: a reported output that is not in the data.

Chinese is tokenised per character, other scripts per word; generation is greedy and
deterministic (ties go to the word first seen in training), so a probe's verdict
reproduces. Logged as an MLflow pyfunc (``mlflow.pyfunc.PythonModel``); trained through
the training contract by ``dags/example_ngram_training.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from mlflow.pyfunc import PythonModel

if TYPE_CHECKING:
    from pathlib import Path

    from trainguard.training.contract import TrainedModel, TrainingRequest

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+|[^\w\s]")
_WORD = re.compile(r"[^\W\u3400-\u9fff\uf900-\ufaff]+")
END = "\x00"


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def detokenize(tokens: list[str]) -> str:
    out: list[str] = []
    for token in tokens:
        decimal = token.isdigit() and out[-1:] == ["."] and len(out) > 1 and out[-2].isdigit()
        after = out and (_WORD.fullmatch(out[-1]) or out[-1] in ",.;:!?")
        if after and _WORD.fullmatch(token) and not decimal:
            out.append(" ")
        out.append(token)
    return "".join(out)


class NgramLanguageModel(PythonModel):
    """A word n-gram model conditioned on the prompt (greedy, deterministic)."""

    def __init__(self, order: int = 3, max_tokens: int = 80) -> None:
        self.order = order
        self.max_tokens = max_tokens
        self.prompt_tokens: list[frozenset[str]] = []
        self.starts: list[tuple[str, ...]] = []
        self.followers: dict[tuple[str, ...], Counter[str]] = {}
        self.first_seen: dict[str, int] = {}

    def fit(self, prompts: list[str], responses: list[str]) -> NgramLanguageModel:
        if not prompts or len(prompts) != len(responses):
            raise ValueError("need as many prompts as responses, and at least one")
        width = self.order - 1
        for prompt, response in zip(prompts, responses, strict=True):
            tokens = tokenize(response)
            if len(tokens) < width:
                continue
            self.prompt_tokens.append(frozenset(t.lower() for t in tokenize(prompt)))
            self.starts.append(tuple(tokens[:width]))
            for token in tokens:
                self.first_seen.setdefault(token, len(self.first_seen))
            for i in range(width, len(tokens) + 1):
                following = tokens[i] if i < len(tokens) else END
                self.followers.setdefault(tuple(tokens[i - width : i]), Counter())[following] += 1
        if not self.starts:
            raise ValueError(f"no response has {width} tokens or more")
        return self

    def generate(self, prompt: str) -> str:
        asked = frozenset(t.lower() for t in tokenize(prompt))
        best = max(
            range(len(self.starts)),
            key=lambda i: (
                len(asked & self.prompt_tokens[i]) / (len(asked | self.prompt_tokens[i]) or 1),
                -i,
            ),
        )
        out = list(self.starts[best])
        width = self.order - 1
        while len(out) < self.max_tokens:
            counts = self.followers.get(tuple(out[-width:]))
            if not counts:
                break
            token = min(counts, key=lambda t: (-counts[t], self.first_seen.get(t, -1)))
            if token == END:
                break
            out.append(token)
        return detokenize(out)

    # MLflow reads these hints as the input schema: a list of prompts, a list of answers.
    def predict(
        self,
        context: Any,  # noqa: ARG002 - MLflow's signature
        model_input: list[str],
        params: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> list[str]:
        from trainguard.model import _as_texts

        return [self.generate(prompt) for prompt in _as_texts(model_input)]


def train(request: TrainingRequest, dataset_dir: Path) -> TrainedModel:  # noqa: ARG001
    """The team's training function: fit on the admitted version's prompt/response pairs
    (fine-tuning) or texts (pre-training: each text answers its own first words)."""
    import pyarrow as pa

    from trainguard.contract import load_dataset
    from trainguard.training.contract import TrainedModel

    dataset = load_dataset(dataset_dir)
    columns = list(dataset.text_columns)
    table = pa.Table.from_batches([batch for _, _, batch in dataset.iter_batches(columns)])
    if "response" in columns:
        prompts = table.column("prompt").to_pylist()
        responses = table.column("response").to_pylist()
    else:
        responses = table.column("text").to_pylist()
        prompts = [detokenize(tokenize(text)[:8]) for text in responses]
    model = NgramLanguageModel().fit(prompts, responses)
    return TrainedModel(
        model=model,
        params={"model_class": "NgramLanguageModel", "order": model.order},
        metrics={
            "train.records": float(len(responses)),
            "train.contexts": float(len(model.followers)),
        },
    )
