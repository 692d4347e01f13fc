"""The violation registry on SQLAlchemy: SQLite by default, PostgreSQL in production.

Every change is an event appended to one hash chain in the same transaction as the
change itself, so a violation never exists without its ``reported`` event and a status
never changes without its ``transition`` event. The chain is keyed (HMAC-SHA256 under
``TRAINGUARD_AUDIT_KEY``, a key kept outside the database): whoever can write the
database can change an event, but cannot compute the hashes that would hide it, and the
audit recomputes every violation's stored fields and output-filter entries from the
events, so a changed row shows too. Appends serialise on the chain head
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): concurrent
reports queue for a few milliseconds instead of forking the chain or getting lost.

Kept as one module (about 600 lines): every command of ``Registry`` appends its event
in the transaction that makes the change; splitting commands from the chain would split
that invariant across files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import (
    ContractError,
    RegistryError,
    TransitionNotAllowed,
    ViolationNotFound,
)
from trainguard.violations.deadlines import WorkingCalendar, aware, sla_state
from trainguard.violations.kinds import (
    FINAL_STATUSES,
    KIND_RULES,
    OPEN_STATUSES,
    ViolationStatus,
    parse_kind,
)
from trainguard.violations.kinds import TRANSITIONS as _TRANSITIONS

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator

REGISTRY_URL_ENV = "TRAINGUARD_REGISTRY_URL"
GENESIS = "0" * 64

# The shapes of earlier releases, derived from the enums (kinds.py is the one source).
KINDS = {kind.value: (rule.clause, rule.deadline) for kind, rule in KIND_RULES.items()}
STATUSES = tuple(status.value for status in ViolationStatus)
TRANSITIONS = {
    status.value: {target.value for target in targets} for status, targets in _TRANSITIONS.items()
}


def default_url(*, create: bool = True) -> str:
    from trainguard.settings import env

    explicit = env(REGISTRY_URL_ENV)
    if explicit:
        return explicit
    from trainguard.settings import trainguard_home

    home = trainguard_home()
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'violations.db'}"


def existing_registry(url: str | None = None) -> Registry:
    """The registry for a command that reads it: a SQLite file that is not there is an
    error naming where it was looked for, never a new empty registry."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from trainguard.settings import workspace

    url = url or default_url(create=False)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise RegistryError(f"not a registry URL: {url!r} ({exc})") from None
    database = parsed.database or ""
    in_a_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if in_a_file and not Path(database).is_file():
        raise RegistryError(
            f"no violation registry at {database}: nothing has been reported there "
            f"({workspace().describe()}; TRAINGUARD_REGISTRY_URL or TRAINGUARD_HOME chooses it)"
        )
    return Registry(url)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return aware(moment).isoformat(timespec="microseconds")


_HASHED_FIELDS = ("seq", "violation_id", "action", "from_status", "to_status", "actor", "at")


def _canonical(prev_hash: str, event: dict[str, Any]) -> bytes:
    fields = {key: event[key] for key in (*_HASHED_FIELDS, "detail")}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{prev_hash}\n{canonical}".encode()


def event_hash(prev_hash: str, event: dict[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 under the audit key over the previous hash and the event's fields."""
    return hmac.new(key or audit_key(), _canonical(prev_hash, event), hashlib.sha256).hexdigest()


def _unkeyed_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """The plain sha256 of registries written before the chain was keyed."""
    return hashlib.sha256(_canonical(prev_hash, event)).hexdigest()


def audit_key() -> bytes:
    """``TRAINGUARD_AUDIT_KEY``, else a key derived from ``TRAINGUARD_HASH_KEY`` (both are
    kept outside the database; the derivation keeps the two uses apart)."""
    from trainguard.exceptions import ConfigError
    from trainguard.settings import env

    key = env(AUDIT_KEY_ENV)
    if key:
        return key.encode()
    hash_key = env("TRAINGUARD_HASH_KEY")
    if not hash_key:
        raise ConfigError(
            f"{AUDIT_KEY_ENV} (or TRAINGUARD_HASH_KEY) is not set: the violation registry's "
            "event chain is keyed with a secret kept outside the database"
        )
    return hmac.new(hash_key.encode(), b"trainguard audit chain v1", hashlib.sha256).digest()


AUDIT_KEY_ENV = "TRAINGUARD_AUDIT_KEY"


@dataclass(frozen=True)
class Violation:
    id: str
    kind: str
    status: str
    summary: str
    owner: str
    reported_by: str
    reported_at: dt.datetime
    deadline: dt.datetime
    model_name: str | None
    model_version: str | None
    subject: dict[str, Any]
    evidence: dict[str, Any]
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    sla_alerted: str = "none"  # the last SLA alert level raised (none, at_risk, overdue)

    @property
    def clause(self) -> str:
        return KINDS[self.kind][0]

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    def sla(self, now: dt.datetime, at_risk_fraction: float) -> str:
        if not self.open:
            return "closed" if self.status == "closed" else "rejected"
        return sla_state(self.reported_at, self.deadline, now, at_risk_fraction)

    def to_dict(
        self, now: dt.datetime | None = None, at_risk_fraction: float | None = None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "clause": self.clause,
            "status": self.status,
            "summary": self.summary,
            "owner": self.owner,
            "reported_by": self.reported_by,
            "reported_at": _iso(self.reported_at),
            "deadline": _iso(self.deadline),
            "model_name": self.model_name,
            "model_version": self.model_version,
            "subject": self.subject,
            "evidence": self.evidence,
            "updated_at": _iso(self.updated_at),
            "closed_at": _iso(self.closed_at) if self.closed_at else None,
        }
        if now is not None and at_risk_fraction is not None:
            record["sla"] = self.sla(now, at_risk_fraction)
            record["time_left_hours"] = round((self.deadline - now).total_seconds() / 3600, 1)
        return record


class Registry:
    """The registry at ``url`` (default ``$TRAINGUARD_REGISTRY_URL`` or SQLite in HOME)."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        from sqlalchemy import create_engine, event

        self.url = url or default_url()
        try:
            if self.url.startswith("sqlite"):
                self.engine = create_engine(self.url, connect_args={"timeout": 60})

                @event.listens_for(self.engine, "connect")
                def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
                    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
                    dbapi_connection.execute("PRAGMA foreign_keys=ON")
                    dbapi_connection.execute("PRAGMA journal_mode=WAL")

                @event.listens_for(self.engine, "begin")
                def _sqlite_begin(connection: Any) -> None:
                    # IMMEDIATE takes the write lock up front: no lock upgrade deadlocks.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                self.engine = create_engine(self.url, pool_pre_ping=True)
        except Exception as exc:  # noqa: BLE001 - a bad URL is the user's to fix
            raise RegistryError(
                f"cannot open the violation registry at {self._safe_url}: {exc}"
            ) from None
        if upgrade:
            self.upgrade()

    @property
    def location(self) -> str:
        """The registry's URL with any password hidden: what messages name."""
        return self._safe_url

    @property
    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001
            return "<unparsable URL>"

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Any]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.begin() as connection:
                yield connection
        except (ContractError, RegistryError):
            raise
        except SQLAlchemyError as exc:
            cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise RegistryError(
                f"violation registry at {self._safe_url} could not {action}: {cause}"
            ) from exc

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, concurrency-safe)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._transaction("migrate its schema") as connection:
            if connection.dialect.name == "postgresql":
                # One migrator at a time, whichever process gets here first.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(74726167)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # ------------------------------------------------------------------ events

    def _append(
        self,
        connection: Any,
        violation_id: str,
        action: str,
        actor: str,
        at: dt.datetime,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        from sqlalchemy import select, update

        from trainguard.violations.schema import chain_head, events

        head = connection.execute(
            select(chain_head.c.seq, chain_head.c.hash)
            .where(chain_head.c.id == 1)
            .with_for_update()
        ).one()
        event = {
            "seq": head.seq + 1,
            "violation_id": violation_id,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "at": _iso(at),
            "detail": json.dumps(detail or {}, sort_keys=True, ensure_ascii=False),
        }
        digest = event_hash(head.hash, event)
        connection.execute(events.insert().values(**event, prev_hash=head.hash, hash=digest))
        connection.execute(
            update(chain_head).where(chain_head.c.id == 1).values(seq=event["seq"], hash=digest)
        )
        return event["seq"]

    def _locked(self, connection: Any, violation_id: str) -> Any:
        """The violation's row, locked for this transaction (or a clear error)."""
        from sqlalchemy import select

        from trainguard.violations.schema import violations

        row = connection.execute(
            select(violations).where(violations.c.id == violation_id).with_for_update()
        ).first()
        if row is None:
            raise ViolationNotFound(f"no violation '{violation_id}'", field="id")
        return row

    # ------------------------------------------------------------------ commands

    def report(
        self,
        *,
        kind: str,
        summary: str,
        subject: dict[str, Any],
        reported_by: str,
        owner: str,
        policy: Any,
        model_name: str | None = None,
        model_version: str | None = None,
        reported_at: dt.datetime | None = None,
    ) -> Violation:
        """File a violation; its deadline follows from the kind and the policy's calendar."""
        from trainguard.violations.schema import violations

        kind = parse_kind(kind)
        # Stored as text (the column's type): the event must carry what the row will hold.
        model_version = None if model_version is None else str(model_version)
        for name, value in (("summary", summary), ("by", reported_by), ("owner", owner)):
            if not value or not value.strip():
                raise ContractError("must not be empty", field=name)
        reported_at = aware(reported_at or _now())
        calendar = WorkingCalendar.from_policy(policy)
        if KIND_RULES[kind].deadline == "fix":
            deadline = calendar.add_days(reported_at, policy.violations.fix_deadline_days)
        else:
            deadline = calendar.add_working_days(
                reported_at, policy.violations.request_deadline_working_days
            )
        stamp = reported_at.astimezone(calendar.zone).strftime("%Y%m%d")
        violation_id = f"V-{stamp}-{secrets.token_hex(4)}"
        row: dict[str, Any] = {
            "id": violation_id,
            "kind": kind.value,
            "status": ViolationStatus.REPORTED.value,
            "summary": summary.strip(),
            "owner": owner.strip(),
            "reported_by": reported_by.strip(),
            "reported_at": reported_at,
            "deadline": deadline,
            "model_name": model_name,
            "model_version": model_version,
            "subject": subject,
            "evidence": {},
            "updated_at": reported_at,
            "closed_at": None,
            "sla_alerted": "none",
        }
        with self._transaction("file the violation") as connection:
            connection.execute(violations.insert().values(**row))
            self._append(
                connection,
                violation_id,
                "reported",
                row["reported_by"],
                reported_at,
                to_status="reported",
                detail={
                    "kind": kind,
                    "deadline": _iso(deadline),
                    "subject_sha256": _digest(subject),
                    # what the audit recomputes the stored row from (digests: no PI here)
                    "summary_sha256": _digest(row["summary"]),
                    "owner": row["owner"],
                    "model": [model_name, model_version],
                },
            )
        return self.get(violation_id)

    def transition(
        self,
        violation_id: str,
        to_status: str,
        *,
        actor: str,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> Violation:
        """Move a violation along its lifecycle (``rejected`` needs a reason)."""
        from sqlalchemy import update

        from trainguard.violations.schema import violations

        if to_status not in STATUSES:
            raise ContractError(
                f"unknown status '{to_status}'", field="to", expected=" | ".join(STATUSES)
            )
        if to_status == ViolationStatus.REJECTED and not reason.strip():
            raise ContractError("a rejection needs a reason", field="reason")
        if not actor.strip():
            raise ContractError("must not be empty", field="by")
        at = aware(at or _now())
        with self._transaction(f"move {violation_id} to {to_status}") as connection:
            current = self._locked(connection, violation_id)
            allowed = TRANSITIONS[current.status]
            if to_status not in allowed:
                raise TransitionNotAllowed(
                    f"{violation_id} is {current.status}; it cannot move to {to_status}",
                    field="to",
                    expected=" | ".join(sorted(allowed)) or "no further status",
                )
            merged = {**(current.evidence or {}), **(evidence or {})}
            values: dict[str, Any] = {"status": to_status, "updated_at": at, "evidence": merged}
            if to_status in FINAL_STATUSES:
                values["closed_at"] = at
            connection.execute(
                update(violations).where(violations.c.id == violation_id).values(**values)
            )
            self._append(
                connection,
                violation_id,
                "transition",
                actor.strip(),
                at,
                from_status=current.status,
                to_status=to_status,
                detail={"reason": reason.strip(), "evidence": evidence or {}},
            )
        return self.get(violation_id)

    def filter(self, violation_id: str, entries: list[dict[str, Any]], *, actor: str) -> Violation:
        """Put the violation's content into the output filter and mark it ``filtered``,
        in one transaction: the block is in force exactly when the status says so."""
        from sqlalchemy import update

        from trainguard.violations.schema import filter_entries, violations

        at = _now()
        with self._transaction(f"filter {violation_id}") as connection:
            current = self._locked(connection, violation_id)
            if current.status != "triaged":
                raise ContractError(
                    f"{violation_id} is {current.status}; only a triaged violation is filtered",
                    field="to",
                )
            for entry in entries:
                connection.execute(
                    filter_entries.insert().values(
                        violation_id=violation_id,
                        kind=entry["kind"],
                        value=entry["value"],
                        detail=entry.get("detail", {}),
                        active=True,
                        added_at=at,
                    )
                )
            connection.execute(
                update(violations)
                .where(violations.c.id == violation_id)
                .values(status="filtered", updated_at=at)
            )
            self._append(
                connection,
                violation_id,
                "transition",
                actor,
                at,
                from_status="triaged",
                to_status="filtered",
                detail={
                    "filter_entries": [{"kind": e["kind"], "value": e["value"]} for e in entries]
                },
            )
        return self.get(violation_id)

    def filter_entries(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from trainguard.violations.schema import filter_entries

        with self._transaction("read the output filter") as connection:
            return [
                dict(row._mapping)
                for row in connection.execute(
                    select(filter_entries)
                    .where(filter_entries.c.active.is_(True))
                    .order_by(filter_entries.c.id)
                )
            ]

    def add_evidence(
        self, violation_id: str, evidence: dict[str, Any], *, actor: str, action: str = "evidence"
    ) -> Violation:
        """Attach evidence (a remediation step's digests and run ids) without a transition."""
        from sqlalchemy import update

        from trainguard.violations.schema import violations

        at = _now()
        with self._transaction(f"attach evidence to {violation_id}") as connection:
            current = self._locked(connection, violation_id)
            connection.execute(
                update(violations)
                .where(violations.c.id == violation_id)
                .values(evidence={**(current.evidence or {}), **evidence}, updated_at=at)
            )
            self._append(connection, violation_id, action, actor, at, detail=evidence)
        return self.get(violation_id)

    def mark_alerted(self, violation_id: str, level: str, *, actor: str) -> None:
        """Remember the SLA alert sent (at_risk, overdue), so each is raised once."""
        from sqlalchemy import update

        from trainguard.violations.schema import violations

        with self._transaction(f"record the {level} alert of {violation_id}") as connection:
            connection.execute(
                update(violations).where(violations.c.id == violation_id).values(sla_alerted=level)
            )
            self._append(
                connection, violation_id, "sla_alert", actor, _now(), detail={"level": level}
            )

    # ------------------------------------------------------------------ queries

    def get(self, violation_id: str) -> Violation:
        from sqlalchemy import select

        from trainguard.violations.schema import violations

        with self._transaction(f"read {violation_id}") as connection:
            row = connection.execute(
                select(violations).where(violations.c.id == violation_id)
            ).first()
        if row is None:
            raise ViolationNotFound(f"no violation '{violation_id}'", field="id")
        return _violation(row)

    def list(
        self, *, status: str | None = None, kind: str | None = None, open_only: bool = False
    ) -> builtins.list[Violation]:
        from sqlalchemy import select

        from trainguard.violations.schema import violations

        query = select(violations).order_by(violations.c.reported_at, violations.c.id)
        if status:
            query = query.where(violations.c.status == status)
        if kind:
            query = query.where(violations.c.kind == kind)
        if open_only:
            query = query.where(violations.c.status.in_(OPEN_STATUSES))
        with self._transaction("list violations") as connection:
            return [_violation(row) for row in connection.execute(query)]

    def events(self, violation_id: str | None = None) -> builtins.list[dict[str, Any]]:
        from sqlalchemy import select

        from trainguard.violations.schema import events

        query = select(events).order_by(events.c.seq)
        if violation_id:
            query = query.where(events.c.violation_id == violation_id)
        with self._transaction("read events") as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def rekey_unkeyed_chain(self) -> int:
        """Key the chain of a registry written before the audit key (plain sha256).

        An upgrade step an operator runs once, on purpose: the unkeyed chain must verify
        completely first (nothing is keyed over a break), then every hash is recomputed
        under the audit key, in one transaction. Returns the number of events keyed.
        """
        from sqlalchemy import select, update

        from trainguard.violations.schema import chain_head, events

        key = audit_key()
        with self._transaction("key the event chain") as connection:
            head = connection.execute(
                select(chain_head).where(chain_head.c.id == 1).with_for_update()
            ).one()
            chain = [
                dict(row._mapping)
                for row in connection.execute(select(events).order_by(events.c.seq))
            ]
            if not _chain_problems(chain, head, key):
                return 0  # already keyed
            broken = _chain_problems(chain, head, key, hasher=_unkeyed_hash)
            if broken:
                raise RegistryError(
                    "the chain does not verify as an unkeyed chain either, so it is not "
                    f"keyed: {broken[0]}" + (f" (and {len(broken) - 1} more)" if broken[1:] else "")
                )
            previous = GENESIS
            for event in chain:
                digest = event_hash(previous, event, key)
                connection.execute(
                    update(events)
                    .where(events.c.seq == event["seq"])
                    .values(prev_hash=previous, hash=digest)
                )
                previous = digest
            connection.execute(update(chain_head).where(chain_head.c.id == 1).values(hash=previous))
        return len(chain)

    def audit(self) -> builtins.list[str]:
        """Every break in the event chain, and every violation whose stored fields or
        output-filter entries its events do not explain (empty when intact)."""
        from sqlalchemy import select

        from trainguard.violations.schema import chain_head, events, filter_entries, violations

        # One transaction: a report appended meanwhile must not look like a break.
        with self._transaction("read the registry for the audit") as connection:
            head = connection.execute(select(chain_head).where(chain_head.c.id == 1)).one()
            rows = {row.id: _violation(row) for row in connection.execute(select(violations))}
            entries = [dict(row._mapping) for row in connection.execute(select(filter_entries))]
            chain = [
                dict(row._mapping)
                for row in connection.execute(select(events).order_by(events.c.seq))
            ]
        problems = _chain_problems(chain, head, audit_key())
        replayed = _replay(chain)
        for violation_id, row in sorted(rows.items()):
            state = replayed.get(violation_id)
            if state is None:
                problems.append(f"{violation_id}: has no events (inserted outside the chain)")
                continue
            problems += [f"{violation_id}: {p}" for p in _row_problems(row, state)]
            stored = sorted(
                (e["kind"], e["value"], bool(e["active"]))
                for e in entries
                if e["violation_id"] == violation_id
            )
            expected = sorted((kind, value, True) for kind, value in state["filter"])
            if stored != expected:
                problems.append(
                    f"{violation_id}: output-filter entries {stored} are not the ones its "
                    f"events put there {expected} (changed, removed or switched off)"
                )
        for violation_id in sorted(set(replayed) - set(rows)):
            problems.append(f"{violation_id}: has events but no violation row (deleted)")
        return problems


def _chain_problems(
    chain: builtins.list[dict[str, Any]],
    head: Any,
    key: bytes,
    hasher: Callable[[str, dict[str, Any]], str] | None = None,
) -> list[str]:
    """Breaks in the chain: gaps, links, hashes that the audit key does not reproduce.

    An unkeyed event is a break like any other: a database writer could have rewritten
    a whole unkeyed chain. A registry from before the key is made keyed once, on purpose,
    by ``rekey_unkeyed_chain`` (``trainguard violations rekey``).
    """
    recompute = hasher or (lambda prev, event: event_hash(prev, event, key))
    problems = []
    previous, expected_seq = GENESIS, 1
    for event in chain:
        if event["seq"] != expected_seq:
            problems.append(f"event {expected_seq}: missing (next is {event['seq']})")
        if event["prev_hash"] != previous:
            problems.append(
                f"event {event['seq']}: does not follow event "
                f"{event['seq'] - 1} (prev_hash differs)"
            )
        if not hmac.compare_digest(recompute(event["prev_hash"], event), event["hash"]):
            problems.append(
                f"event {event['seq']} ({event['violation_id']}): content changed after it "
                "was written (its hash is not the audit key's)"
            )
        previous, expected_seq = event["hash"], event["seq"] + 1
    if head.seq != expected_seq - 1 or head.hash != previous:
        problems.append(
            f"chain head names event {head.seq}, but the chain ends at event "
            f"{expected_seq - 1}: events were removed or added outside"
        )
    return problems


def _replay(chain: builtins.list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each violation's state as its events tell it."""
    states: dict[str, dict[str, Any]] = {}
    for event in chain:
        detail = json.loads(event["detail"] or "{}")
        state = states.setdefault(
            event["violation_id"],
            {"status": None, "evidence": {}, "closed_at": None, "alert": "none", "filter": []},
        )
        if event["action"] == "reported":
            state["reported"] = {**detail, "actor": event["actor"], "at": event["at"]}
        if event["to_status"]:
            state["status"] = event["to_status"]
            final = event["to_status"] in {status.value for status in FINAL_STATUSES}
            state["closed_at"] = event["at"] if final else None
        if event["action"] == "transition":
            state["evidence"] = {**state["evidence"], **(detail.get("evidence") or {})}
            state["filter"] += [(e["kind"], e["value"]) for e in detail.get("filter_entries", [])]
        elif event["action"] not in ("reported", "sla_alert"):  # evidence, remediation steps
            state["evidence"] = {**state["evidence"], **detail}
        if event["action"] == "sla_alert":
            state["alert"] = detail.get("level", "none")
    return states


def _row_problems(row: Violation, state: dict[str, Any]) -> list[str]:
    """The stored fields that differ from what the events say."""
    reported = state.get("reported", {})
    expected: dict[str, Any] = {
        "status": state["status"],
        "kind": reported.get("kind"),
        "deadline": reported.get("deadline"),
        "reported_by": reported.get("actor"),
        "reported_at": reported.get("at"),
        "subject": reported.get("subject_sha256"),
        "evidence": state["evidence"],
        "closed_at": state["closed_at"],
        "sla_alerted": state["alert"],
    }
    stored: dict[str, Any] = {
        "status": row.status,
        "kind": row.kind,
        "deadline": _iso(row.deadline),
        "reported_by": row.reported_by,
        "reported_at": _iso(row.reported_at),
        "subject": _digest(row.subject),
        "evidence": row.evidence,
        "closed_at": _iso(row.closed_at) if row.closed_at else None,
        "sla_alerted": row.sla_alerted,
    }
    if "summary_sha256" in reported:  # events of earlier releases carry no digest of these
        expected |= {"summary": reported["summary_sha256"], "owner": reported["owner"]}
        expected["model"] = reported["model"]
        stored |= {"summary": _digest(row.summary), "owner": row.owner}
        stored["model"] = [row.model_name, row.model_version]
    shown = {"subject", "summary", "evidence"}  # digests or large: named, not printed
    return [
        f"stored {name} is not what its events say"
        if name in shown
        else f"stored {name} {stored[name]!r} is not what its events say ({expected[name]!r})"
        for name in expected
        if stored[name] != expected[name]
    ]


def _digest(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _violation(row: Any) -> Violation:
    def utc(moment: dt.datetime) -> dt.datetime:
        # SQLite returns naive datetimes for timezone=True columns: they were stored as UTC.
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)

    return Violation(
        id=row.id,
        kind=row.kind,
        status=row.status,
        summary=row.summary,
        owner=row.owner,
        reported_by=row.reported_by,
        reported_at=utc(row.reported_at),
        deadline=utc(row.deadline),
        model_name=row.model_name,
        model_version=row.model_version,
        subject=row.subject or {},
        evidence=row.evidence or {},
        updated_at=utc(row.updated_at),
        closed_at=utc(row.closed_at) if row.closed_at is not None else None,
        sla_alerted=row.sla_alerted,
    )
