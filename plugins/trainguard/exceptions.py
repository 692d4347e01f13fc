"""Every error trainguard raises, in one hierarchy.

::

    TrainguardError
    ├── ContractError          bad input: a dataset that breaks the DESIGN.md contract
    │   ├── ViolationNotFound  no violation with that id in the registry
    │   └── TransitionNotAllowed  the violation's status does not allow that move
    ├── PolicyError            a policy file that is malformed or out of range
    ├── DatasetVersionError    a dataset version that cannot be resolved or fetched (git, DVC)
    ├── TrackingError          MLflow could not record or read what the gate needs
    │   └── LineageError       a model version without (complete) trainguard lineage
    ├── ExportError            a provenance bundle cannot be written (key, folder)
    ├── RegistryError          the violation registry cannot be read or written
    ├── StackError             a process of the local Celery stack did not start or answer
    ├── GateError              the gate could not decide; training is blocked (fail closed)
    ├── GateFailed             the gate decided "fail"; carries the failed findings
    └── TrainingRefused        a training run no passing gate admitted, or a trainer that
                               broke the training contract (nothing registered)

``ContractError`` and ``PolicyError`` are *user* errors (CLI exit 2); ``GateFailed`` is a
decision (exit 1); the others are infrastructure errors that block training.
Messages never contain raw personal information: only files, rows, fields and ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trainguard.findings import Finding


class TrainguardError(Exception):
    """Base class of every trainguard error."""


class ContractError(TrainguardError):
    """Raised when a dataset directory breaks the data contract (file, row, field named)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file, self.row, self.field, self.expected = file, row, field, expected
        where = ", ".join(
            part
            for part in (
                file,
                f"row {row}" if row is not None else None,
                f"field '{field}'" if field else None,
            )
            if part
        )
        text = f"{where}: {message}" if where else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(one_line(text))


def one_line(text: str) -> str:
    """``text`` with its unprintable characters escaped: a value quoted from the input
    (a source id holding U+0085, a line separator) never breaks the one-line message."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ViolationNotFound(ContractError):
    """Raised when a violation id is not in the registry."""


class TransitionNotAllowed(ContractError):
    """Raised when a violation cannot move to the requested status from its current one."""


class PolicyError(TrainguardError):
    """Raised when a policy file is malformed, has unknown keys or out-of-range values."""


class ConfigError(TrainguardError):
    """Raised when ``trainguard.toml`` is unreadable or names an unknown setting, or a
    command that reads a store finds none where its settings point."""


class DatasetVersionError(TrainguardError):
    """Raised when a dataset version cannot be resolved or fetched from git and DVC."""


class TrackingError(TrainguardError):
    """Raised when MLflow cannot record or return what the gate needs."""


class LineageError(TrackingError):
    """Raised when a model version is unknown or carries no complete trainguard lineage."""


class ExportError(TrainguardError):
    """Raised when a provenance bundle cannot be written or verified (key, folder)."""


class RegistryError(TrainguardError):
    """Raised when the violation registry's database cannot be reached, read or written."""


class SharedStorageError(TrainguardError):
    """Raised when the gate's tasks cannot list, fetch or store their files at
    ``TRAINGUARD_SHARED_URL``; the gate then cannot decide."""


class StackError(TrainguardError):
    """Raised when a component of the local stack (``trainguard.stack``) did not start,
    answer or finish in time."""


class GateError(TrainguardError):
    """Raised when the gate cannot reach a decision; training stays blocked."""


class GateFailed(TrainguardError):
    """Raised when the gate decides "fail"; carries the failed findings."""

    def __init__(
        self, failed: Sequence[Finding], *, gate_run_id: str | None = None, report: Any = None
    ) -> None:
        self.failed = list(failed)
        self.gate_run_id = gate_run_id
        self.report = report  # the full GateReport, for callers that describe the decision
        lines = [f"training blocked: {len(self.failed)} check(s) failed"]
        lines += [f"  - {finding.summary()}" for finding in self.failed]
        if gate_run_id:
            lines.append(f"  full report: MLflow run {gate_run_id}, artifact findings.json")
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate_run_id": self.gate_run_id,
            "failed": [finding.to_dict() for finding in self.failed],
        }


class TrainingRefused(TrainguardError):
    """Raised when a training request is not admitted by a passing gate for exactly its
    dataset version (revision and DVC md5), or a trainer breaks the training contract."""
