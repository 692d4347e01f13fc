"""trainguard: gate generative-model training on data legality and quality.

The public API is small; modules are implementation. Core modules never import Airflow.
"""

from trainguard.contract import Dataset, load_dataset
from trainguard.exceptions import (
    ContractError,
    DatasetVersionError,
    GateError,
    GateFailed,
    PolicyError,
    TrackingError,
    TrainguardError,
)
from trainguard.findings import Decision, Finding, GateReport, Status
from trainguard.gate.decide import evaluate
from trainguard.policy import Policy, load_policy
from trainguard.settings import package_version as _package_version
from trainguard.versioning import DatasetVersion, fetch_version, resolve_version

__version__ = _package_version()

__all__ = [
    "ContractError",
    "Dataset",
    "DatasetVersion",
    "DatasetVersionError",
    "Decision",
    "Finding",
    "GateError",
    "GateFailed",
    "GateReport",
    "Policy",
    "PolicyError",
    "Status",
    "TrackingError",
    "TrainguardError",
    "__version__",
    "evaluate",
    "fetch_version",
    "load_dataset",
    "load_policy",
    "resolve_version",
]
