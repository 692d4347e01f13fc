"""What a violation can be and where it can go: kinds, statuses, transitions, SLA states.

The API's literals, the CLI's choices and the DAG params are derived from these enums, so
adding a kind or a status is one change here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ViolationKind(enum.StrEnum):
    HARMFUL_OUTPUT = "harmful_output"  # a generated output breaking Art. 4
    DATA_FINDING = "data_finding"  # a problem found in a source's records after training
    PI_REQUEST = "pi_request"  # a data subject's deletion request
    IP_COMPLAINT = "ip_complaint"  # a rights holder's complaint about a work or a source


class ViolationStatus(enum.StrEnum):
    REPORTED = "reported"
    TRIAGED = "triaged"
    FILTERED = "filtered"  # its content is blocked at serving time (Art. 15's first measure)
    REMEDIATING = "remediating"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"


class SlaState(enum.StrEnum):
    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"
    CLOSED = "closed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class KindRule:
    """The clause a kind answers to, and how its deadline is counted."""

    clause: str
    deadline: str  # "fix": calendar days (Art. 15); "request": working days (Art. 13)


KIND_RULES: dict[ViolationKind, KindRule] = {
    ViolationKind.HARMFUL_OUTPUT: KindRule("Art. 15 (draft)", "fix"),
    ViolationKind.DATA_FINDING: KindRule("Art. 15 (draft)", "fix"),
    ViolationKind.PI_REQUEST: KindRule("Art. 13", "request"),
    ViolationKind.IP_COMPLAINT: KindRule("Art. 13", "request"),
}

_S = ViolationStatus
TRANSITIONS: dict[ViolationStatus, frozenset[ViolationStatus]] = {
    _S.REPORTED: frozenset({_S.TRIAGED, _S.REJECTED}),
    _S.TRIAGED: frozenset({_S.FILTERED, _S.REJECTED}),
    _S.FILTERED: frozenset({_S.REMEDIATING, _S.REJECTED}),
    _S.REMEDIATING: frozenset({_S.VERIFIED, _S.REJECTED}),
    _S.VERIFIED: frozenset({_S.CLOSED, _S.REMEDIATING}),  # a later failed probe reopens it
    _S.CLOSED: frozenset(),
    _S.REJECTED: frozenset(),
}
OPEN_STATUSES: tuple[ViolationStatus, ...] = (
    _S.REPORTED,
    _S.TRIAGED,
    _S.FILTERED,
    _S.REMEDIATING,
    _S.VERIFIED,
)
FINAL_STATUSES: tuple[ViolationStatus, ...] = (_S.CLOSED, _S.REJECTED)
# What a person may move a violation to (``reported`` is where filing puts it).
MOVE_TARGETS: tuple[ViolationStatus, ...] = tuple(
    s for s in ViolationStatus if s is not _S.REPORTED
)
# The statuses the remediation DAG picks up.
TO_REMEDIATE: tuple[ViolationStatus, ...] = (_S.FILTERED, _S.REMEDIATING, _S.VERIFIED)


def parse_kind(value: ViolationKind | str) -> ViolationKind:
    """``value`` as a kind, or a ContractError naming the field and the kinds there are."""
    from trainguard.exceptions import ContractError

    try:
        return ViolationKind(value)
    except ValueError:
        raise ContractError(
            f"unknown kind '{value}'", field="kind", expected=" | ".join(kind_names())
        ) from None


def kind_names() -> list[str]:
    return [kind.value for kind in ViolationKind]


def status_names() -> list[str]:
    return [status.value for status in ViolationStatus]
