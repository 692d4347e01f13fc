"""Request and response bodies of the REST API, and the path parameters it validates.

Kinds, statuses and PI kinds are the core's enums (``violations.kinds``, ``contract``), so
the schema, the CLI's choices and the DAG params cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from trainguard.contract import PIKind
from trainguard.violations.kinds import MOVE_TARGETS, SlaState, ViolationKind, ViolationStatus

ViolationId = Annotated[str, PathParam(pattern=r"^V-[0-9]{8}-[0-9a-f]{8}$")]
JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")]
RunId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
# The statuses a person may move a violation to ("reported" is where filing puts it).
MoveTarget = StrEnum("MoveTarget", {status.name: status.value for status in MOVE_TARGETS})  # type: ignore[misc]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PIValue(_Body):
    kind: PIKind
    value: str = Field(
        min_length=1,
        max_length=200,
        description="hashed on arrival with the deployment's key, never stored",
    )


class PIHmac(_Body):
    kind: PIKind
    hmac: str = Field(pattern=r"^[0-9a-f]{64}$", description="trainguard pi-hmac KIND VALUE")


class ImpactIn(_Body):
    """What to look for in every gated dataset version and every model version's data:
    exactly one of the four fields."""

    pi: list[PIHmac] | None = Field(None, min_length=1, max_length=20)
    work_text: str | None = Field(None, min_length=1, max_length=200_000)
    text: str | None = Field(None, min_length=1, max_length=20_000)
    record_ids: list[str] | None = Field(None, min_length=1, max_length=1000)


class _ViolationIn(_Body):
    summary: str = Field(
        min_length=1,
        max_length=500,
        description="personal information in it is masked before storing",
    )
    owner: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    model_name: str | None = Field(None, min_length=1, max_length=200)
    model_version: str | None = Field(None, pattern=r"^[0-9]{1,9}$")


class HarmfulOutputIn(_ViolationIn):
    """A generated output that breaks Art. 4 (Art. 15: fix within the deadline)."""

    kind: Literal[ViolationKind.HARMFUL_OUTPUT]
    prompt: str = Field("", max_length=20_000)
    output: str = Field(min_length=1, max_length=20_000, pattern=r"\S")


class PIRequestIn(_ViolationIn):
    """A data subject's request to delete their personal information (Art. 13)."""

    kind: Literal[ViolationKind.PI_REQUEST]
    pi: list[PIValue] = Field(default_factory=list, max_length=20)
    pi_hmacs: list[PIHmac] = Field(default_factory=list, max_length=20)


class IPComplaintIn(_ViolationIn):
    """A rights holder's complaint about a work or a source (Art. 13)."""

    kind: Literal[ViolationKind.IP_COMPLAINT]
    work_id: str = Field("", max_length=200)
    work_text: str = Field("", max_length=20_000)
    source_id: str = Field("", max_length=200)


class DataFindingIn(_ViolationIn):
    """A problem found in a source's records after training (Art. 15)."""

    kind: Literal[ViolationKind.DATA_FINDING]
    source_id: str = Field(min_length=1, max_length=200, pattern=r"\S")
    finding: str = Field("", max_length=200)


ViolationIn = Annotated[
    HarmfulOutputIn | PIRequestIn | IPComplaintIn | DataFindingIn, Field(discriminator="kind")
]


class TransitionIn(_Body):
    to: MoveTarget
    reason: str = Field("", max_length=1000)


class ExportIn(_Body):
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str = Field(pattern=r"^[0-9]{1,9}$")
    language: Literal["en", "zh", ""] = Field(
        "", description="of report.html; empty: [trainguard] language"
    )


class Problem(BaseModel):
    detail: Any


class Event(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    at: str


class ViolationOut(BaseModel):
    """A violation as stored: masked texts and HMACs only, never a PI value."""

    id: str
    kind: ViolationKind
    clause: str
    status: ViolationStatus
    summary: str
    owner: str
    reported_by: str
    reported_at: str
    deadline: str
    model_name: str | None
    model_version: str | None
    subject: dict[str, Any]
    evidence: dict[str, Any]
    updated_at: str
    closed_at: str | None
    sla: SlaState
    time_left_hours: float
    events: list[Event] | None = None


class ExportJob(BaseModel):
    id: str
    model_name: str
    model_version: str
    state: Literal["queued", "running", "done", "failed"]
    requested_by: str
    requested_at: str
    finished_at: str | None
    error: str | None
    archive: str | None
    manifest_sha256: str | None
    algorithm: str | None
    files: list[str]
    language: str = "en"
