"""Violations (Art. 13, 15, 19): filing, the registry, deadlines, filtering, remediation.

Core: no Airflow. ``intake.file_violation`` is the one front door (CLI, API, operator);
``Registry`` files and moves violations (hash-chained events), ``filtering`` blocks their
content at once, ``remediation`` fixes them, ``masking`` rewrites PI out of a dataset.
"""

from trainguard.violations.deadlines import WorkingCalendar, sla_state
from trainguard.violations.kinds import SlaState, ViolationKind, ViolationStatus
from trainguard.violations.registry import (
    KINDS,
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    Registry,
    Violation,
    default_url,
)

__all__ = [
    "KINDS",
    "OPEN_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "Registry",
    "SlaState",
    "Violation",
    "ViolationKind",
    "ViolationStatus",
    "WorkingCalendar",
    "default_url",
    "sla_state",
]
