"""Alembic environment of the violation registry (run by ``Registry.upgrade``)."""

from __future__ import annotations

from alembic import context

from trainguard.violations.schema import metadata

VERSION_TABLE = "tg_alembic_version"  # not Airflow's or MLflow's, should they share a database


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the violation registry migrates online only (Registry.upgrade)")
run_migrations_online()
