"""Tables of the violation registry (SQLAlchemy Core). Changes go through an Alembic
migration in ``migrations/versions``; this module is what the migrations produce."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

violations = Table(
    "tg_violations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("summary", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("reported_by", String(200), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False, index=True),
    Column("model_name", String(250)),
    Column("model_version", String(40)),
    Column("subject", JSON, nullable=False),  # kind-specific, PI-free (HMACs, masked text)
    Column("evidence", JSON, nullable=False),  # what the remediation attached
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("sla_alerted", String(16), nullable=False, default="none"),
)

# Append-only, hash-chained across the whole registry: each event's hash covers its fields
# and the previous event's hash, and tg_chain_head holds the newest, so a changed, removed
# or reordered event (even the last one) breaks the chain.
events = Table(
    "tg_violation_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("violation_id", String(40), ForeignKey("tg_violations.id"), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("actor", String(200), nullable=False),
    Column("at", String(40), nullable=False),  # ISO 8601 UTC text, hashed exactly as stored
    Column("detail", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

chain_head = Table(
    "tg_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

filter_entries = Table(
    "tg_filter_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("violation_id", String(40), ForeignKey("tg_violations.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # output | pi | work
    Column("value", String(64), nullable=False, index=True),  # sha256 or PI HMAC
    Column("detail", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
