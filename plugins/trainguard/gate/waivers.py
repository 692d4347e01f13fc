"""Waivers: a reviewer's time-limited exception for one named finding.

A waiver names a check, and optionally the source, entity and dataset it is limited to
(an unset field matches any). Until it expires, a failing finding it matches is reported
as ``waived`` instead of ``fail``, carrying the waiver; the gate run records every waiver
it honoured. An expired or revoked waiver no longer counts.

The store is an append-only JSON Lines file (``$TRAINGUARD_WAIVERS``, default
``$TRAINGUARD_HOME/waivers.jsonl``): one ``granted`` or ``revoked`` event per line, so the
history of every exception stays readable by an auditor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError
from trainguard.settings import env

if TYPE_CHECKING:
    from trainguard.findings import Finding, GateReport
    from trainguard.policy import Policy

WAIVERS_ENV = "TRAINGUARD_WAIVERS"


def default_store() -> Path:
    explicit = env(WAIVERS_ENV)
    if explicit:
        return Path(explicit)
    from trainguard.settings import trainguard_home

    return trainguard_home() / "waivers.jsonl"


def utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ContractError(
            f"time {moment.isoformat()} has no timezone",
            expected="an ISO 8601 time with an offset, e.g. 2027-01-31T00:00Z",
        )
    return moment.astimezone(dt.UTC)


def parse_time(text: str, *, field: str) -> dt.datetime:
    """An ISO date (midnight UTC at the end of that day) or a time with an offset."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        return utc(dt.datetime.fromisoformat(text))
    except ValueError:
        raise ContractError(
            f"'{text}' is not a date or time",
            field=field,
            expected="YYYY-MM-DD or an ISO 8601 time with an offset",
        ) from None


@dataclass(frozen=True)
class Waiver:
    id: str
    check: str
    approved_by: str
    reason: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    source_id: str | None = None
    entity: str | None = None
    dataset: str | None = None

    def matches(self, finding: Finding, dataset: str) -> bool:
        return (
            finding.check == self.check
            and self.source_id in (None, finding.source_id)
            and self.entity in (None, finding.entity)
            and self.dataset in (None, dataset)
        )

    def active_at(self, moment: dt.datetime) -> bool:
        return self.granted_at <= moment < self.expires_at

    def scope(self) -> str:
        parts = [self.check]
        parts += [f"source {self.source_id}"] if self.source_id else []
        parts += [self.entity] if self.entity else []
        parts += [f"dataset {self.dataset}"] if self.dataset else []
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["granted_at"] = self.granted_at.isoformat()
        record["expires_at"] = self.expires_at.isoformat()
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Waiver:
        values: dict[str, Any] = {f.name: record.get(f.name) for f in dataclasses.fields(cls)}
        for name in ("id", "check", "approved_by", "reason"):
            if not isinstance(values[name], str):
                raise TypeError(name)
        for name in ("source_id", "entity", "dataset"):
            if values[name] is not None and not isinstance(values[name], str):
                raise TypeError(name)
        values["granted_at"] = utc(dt.datetime.fromisoformat(record["granted_at"]))
        values["expires_at"] = utc(dt.datetime.fromisoformat(record["expires_at"]))
        return cls(**values)


@dataclass(frozen=True)
class Revocation:
    id: str
    revoked_by: str
    reason: str
    revoked_at: dt.datetime


class WaiverStore:
    """The append-only waiver log at ``path``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_store()

    def _events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        events = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(
                f"cannot read the waiver log ({type(exc).__name__})", file=str(self.path)
            ) from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                if event.get("event") not in ("granted", "revoked"):
                    raise ValueError("unknown event")
                if event["event"] == "granted":
                    Waiver.from_dict(event["waiver"])  # every field present and readable
                elif not isinstance(event["id"], str):
                    raise TypeError("id")
                events.append(event)
            except (ValueError, AttributeError, KeyError, TypeError):
                raise ContractError(
                    "not a waiver event",
                    file=str(self.path),
                    row=number,
                    expected='a JSON object with "event": granted|revoked',
                ) from None
        return events

    def waivers(self, *, at: dt.datetime | None = None) -> list[Waiver]:
        """Every granted, unrevoked waiver; only those active at ``at`` when given."""
        granted: dict[str, Waiver] = {}
        for event in self._events():
            if event["event"] == "granted":
                waiver = Waiver.from_dict(event["waiver"])
                granted[waiver.id] = waiver
            else:
                granted.pop(event["id"], None)
        found = sorted(granted.values(), key=lambda w: (w.granted_at, w.id))
        return [w for w in found if at is None or w.active_at(at)]

    def grant(
        self,
        *,
        check: str,
        approved_by: str,
        reason: str,
        expires_at: dt.datetime,
        max_days: int,
        source_id: str | None = None,
        entity: str | None = None,
        dataset: str | None = None,
        now: dt.datetime | None = None,
        policy: Policy | None = None,
    ) -> Waiver:
        """Record a waiver; ``policy``, when given, may refuse its check (filing profile)."""
        now = utc(now or dt.datetime.now(dt.UTC))
        refused = policy.refuses_waiver_of(check.strip()) if policy is not None else None
        if refused:
            raise ContractError(f"waiver refused: {refused}", field="check")
        expires_at = utc(expires_at)
        for name, value in (("check", check), ("by", approved_by), ("reason", reason)):
            if not value or not value.strip():
                raise ContractError("must not be empty", field=name)
        if expires_at <= now:
            raise ContractError(
                f"expiry {expires_at.isoformat()} is not in the future", field="until"
            )
        if expires_at - now > dt.timedelta(days=max_days):
            raise ContractError(
                f"expiry {expires_at.isoformat()} is more than {max_days} days away",
                field="until",
                expected="the policy's violations.waiver_max_days at most",
            )
        digest = hashlib.sha256(
            json.dumps([check, source_id, entity, dataset, approved_by, now.isoformat()]).encode()
        )
        waiver = Waiver(
            id=f"W-{digest.hexdigest()[:10]}",
            check=check.strip(),
            approved_by=approved_by.strip(),
            reason=reason.strip(),
            granted_at=now,
            expires_at=expires_at,
            source_id=source_id or None,
            entity=entity or None,
            dataset=dataset or None,
        )
        self._append({"event": "granted", "waiver": waiver.to_dict()})
        return waiver

    def revoke(
        self, waiver_id: str, *, revoked_by: str, reason: str, now: dt.datetime | None = None
    ) -> Revocation:
        if waiver_id not in {w.id for w in self.waivers()}:
            raise ContractError(f"no waiver '{waiver_id}' to revoke", file=str(self.path))
        revocation = Revocation(waiver_id, revoked_by, reason, utc(now or dt.datetime.now(dt.UTC)))
        self._append(
            {
                "event": "revoked",
                "id": waiver_id,
                "revoked_by": revoked_by,
                "reason": reason,
                "revoked_at": revocation.revoked_at.isoformat(),
            }
        )
        return revocation

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode()
        # One write on an O_APPEND descriptor: concurrent reviewers never interleave lines.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def apply_waivers(
    report: GateReport,
    waivers: list[Waiver],
    *,
    at: dt.datetime | None = None,
    policy: Policy | None = None,
) -> list[Waiver]:
    """Mark the failed findings an active waiver covers as waived; returns the waivers used.

    A waiver the policy's profile refuses (``Policy.refuses_waiver``: under ``filing``, PI
    consent, forbidden licences, the harmful rate) leaves its finding failed and is listed
    in ``report.refused_waivers`` with the reason."""
    from trainguard.findings import Status

    at = at or dt.datetime.now(dt.UTC)
    active = [w for w in waivers if w.active_at(at)]
    used: dict[str, Waiver] = {}
    for index, finding in enumerate(report.findings):
        if finding.status is not Status.FAIL:
            continue
        waiver = next((w for w in active if w.matches(finding, report.dataset_name)), None)
        if waiver is None:
            continue
        refused = policy.refuses_waiver(finding) if policy is not None else None
        if refused:
            report.refused_waivers.append(
                {
                    "waiver": waiver.id,
                    "check": finding.check,
                    "source_id": finding.source_id,
                    "why": refused,
                }
            )
            continue
        used[waiver.id] = waiver
        report.findings[index] = dataclasses.replace(
            finding, status=Status.WAIVED, waiver=waiver.to_dict()
        )
    report.waivers = list(used.values())
    return report.waivers
