"""Violations (Art. 13, 15, 19): the registry, its deadlines, and the SLA check.

Core: no Airflow. ``Registry`` files and moves violations (hash-chained events),
``trainguard.filtering`` blocks their content at once, and the remediation DAG fixes them.
"""

from trainguard.violations.deadlines import WorkingCalendar, sla_state
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
    "Violation",
    "WorkingCalendar",
    "default_url",
    "sla_state",
]
