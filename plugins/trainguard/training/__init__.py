"""Training (Art. 7 admission, Art. 15 optimization training): the contract a team's own
training follows (``contract``), and the demo responder's trainer (``responder``)."""

from trainguard.training.contract import (
    ENTRY_POINT_GROUP,
    REQUEST_TAG,
    TRAINING_TAG,
    TrainedModel,
    Trainer,
    TrainingRequest,
    admit,
    declare_training,
    declared_trainer,
    entry_point_trainer,
    registered_for,
    train_admitted,
)
from trainguard.training.responder import TrainingResult, train_responder

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUEST_TAG",
    "TRAINING_TAG",
    "TrainedModel",
    "Trainer",
    "TrainingRequest",
    "TrainingResult",
    "admit",
    "declare_training",
    "declared_trainer",
    "entry_point_trainer",
    "registered_for",
    "train_admitted",
    "train_responder",
]
