"""The Airflow layer's operators: thin wrappers over ``trainguard.pipeline``."""

from trainguard.operators.assessment import (
    AssessModelOperator,
    FixedModelsOperator,
    ModelAssessmentOperator,
)
from trainguard.operators.dvc import DatasetVersionOperator
from trainguard.operators.export import ProvenanceExportOperator
from trainguard.operators.gate import DataGateOperator
from trainguard.operators.scan import (
    DatasetShardsOperator,
    NearDuplicatePlanOperator,
    NearDuplicateStageOperator,
    ShardScanOperator,
)
from trainguard.operators.training import AdmittedTrainingOperator, TrainModelOperator
from trainguard.operators.violations import (
    DeadlineCheckOperator,
    OpenViolationsOperator,
    OptimizationTrainingOperator,
    PrepareRemediationOperator,
    RemediateViolationOperator,
    TrainingOrdersOperator,
    VerifyRemediationOperator,
    ViolationIntakeOperator,
)

__all__ = [
    "AdmittedTrainingOperator",
    "AssessModelOperator",
    "DataGateOperator",
    "DatasetShardsOperator",
    "DatasetVersionOperator",
    "DeadlineCheckOperator",
    "FixedModelsOperator",
    "ModelAssessmentOperator",
    "NearDuplicatePlanOperator",
    "NearDuplicateStageOperator",
    "OpenViolationsOperator",
    "OptimizationTrainingOperator",
    "PrepareRemediationOperator",
    "ProvenanceExportOperator",
    "RemediateViolationOperator",
    "ShardScanOperator",
    "TrainModelOperator",
    "TrainingOrdersOperator",
    "VerifyRemediationOperator",
    "ViolationIntakeOperator",
]
