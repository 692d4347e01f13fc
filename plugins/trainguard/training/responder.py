"""Training on an admitted dataset version (core: no Airflow, no MLflow)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainguard.contract import Stage, load_dataset
from trainguard.model import NearestNeighbourResponder

if TYPE_CHECKING:
    from pathlib import Path

RECALL_SAMPLE = 200


@dataclass
class TrainingResult:
    model: NearestNeighbourResponder
    params: dict[str, Any]
    metrics: dict[str, float]


def train_responder(dataset_dir: str | Path, *, seed: int = 0) -> TrainingResult:
    """Fit the demo responder: pretraining reproduces texts, finetuning maps prompt→response."""
    import pyarrow as pa

    dataset = load_dataset(dataset_dir)
    stage = dataset.manifest.stage
    columns = list(dataset.text_columns)
    table = pa.Table.from_batches([batch for _, _, batch in dataset.iter_batches(columns)])
    if stage is Stage.PRETRAINING:
        keys = values = table.column("text").to_pylist()
    else:
        keys = table.column("prompt").to_pylist()
        values = table.column("response").to_pylist()
    model = NearestNeighbourResponder().fit(keys, values)
    # How faithfully it reproduces its training data: what a verification probe relies on.
    sample = random.Random(seed).sample(range(len(keys)), min(RECALL_SAMPLE, len(keys)))
    answers = model.predict([keys[i] for i in sample])
    recall = sum(answer == values[i] for answer, i in zip(answers, sample, strict=True))
    return TrainingResult(
        model=model,
        params={
            "model_class": type(model).__name__,
            "stage": stage.value,
            "ngram_range": str(model.ngram_range),
            "max_features": model.max_features,
            "analyzer": "char_wb",
        },
        metrics={
            "train.records": float(len(keys)),
            "train.vocabulary": float(model.vocabulary_size),
            "train.self_recall": recall / len(sample),
        },
    )


def train(request: Any, dataset_dir: Path) -> Any:  # noqa: ARG001 - the contract's signature
    """The responder as a ``trainguard.trainers`` entry point (``entry_point:responder``)."""
    from trainguard.training.contract import TrainedModel

    result = train_responder(dataset_dir)
    return TrainedModel(model=result.model, params=result.params, metrics=result.metrics)
