"""The Airflow layer's operators: thin wrappers over ``trainguard.pipeline``."""

from trainguard.operators.dvc import DatasetVersionOperator
from trainguard.operators.export import ProvenanceExportOperator
from trainguard.operators.gate import DataGateOperator
from trainguard.operators.scan import DatasetShardsOperator, ShardScanOperator
from trainguard.operators.training import TrainModelOperator
from trainguard.operators.violations import (
    DeadlineCheckOperator,
    OpenViolationsOperator,
    RemediateViolationOperator,
    ViolationIntakeOperator,
)

__all__ = [
    "DataGateOperator",
    "DatasetShardsOperator",
    "DatasetVersionOperator",
    "DeadlineCheckOperator",
    "OpenViolationsOperator",
    "ProvenanceExportOperator",
    "RemediateViolationOperator",
    "ShardScanOperator",
    "TrainModelOperator",
    "ViolationIntakeOperator",
]
