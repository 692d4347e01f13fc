"""The violation registry on a real PostgreSQL server (127.0.0.1:5432, here and in CI).

Each test gets a database of its own, created and dropped around it.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor

import pytest

from trainguard.policy import load_policy
from trainguard.violations import Registry
from trainguard.violations.intake import intake_subject

pytestmark = pytest.mark.integration


def _file(url: str, worker: int, count: int) -> list[str]:
    # Each process opens (and migrates, if it is first) the registry itself.
    registry = Registry(url)
    policy = load_policy(None)
    ids = []
    for index in range(count):
        subject = intake_subject(
            "harmful_output",
            prompt=f"prompt {worker}-{index}",
            output=f"harmful output {worker}-{index}",
        )
        ids.append(
            registry.report(
                kind="harmful_output",
                summary=f"report {worker}-{index}",
                subject=subject,
                reported_by=f"user-{worker}",
                owner="safety",
                policy=policy,
            ).id
        )
    registry.engine.dispose()
    return ids


def test_200_concurrent_reports_are_all_kept_with_an_intact_chain(pg_url: str) -> None:
    workers, each = 8, 25
    with ProcessPoolExecutor(max_workers=workers) as pool:
        batches = list(pool.map(_file, [pg_url] * workers, range(workers), [each] * workers))
    ids = [violation_id for batch in batches for violation_id in batch]
    registry = Registry(pg_url)
    stored = registry.list()
    assert len(ids) == len(set(ids)) == 200
    assert {v.id for v in stored} == set(ids)
    assert {v.summary for v in stored} == {
        f"report {w}-{i}" for w in range(workers) for i in range(each)
    }
    assert [e["seq"] for e in registry.events()] == list(range(1, 201))
    assert registry.audit() == []


def test_migrations_deadlines_and_transitions_on_postgresql(pg_url: str) -> None:
    from sqlalchemy import inspect, text

    registry = Registry(pg_url)
    Registry(pg_url)  # a second open finds the schema current and changes nothing
    with registry.engine.connect() as connection:
        assert (
            connection.execute(text("SELECT version_num FROM tg_alembic_version")).scalar_one()
            == "0001"
        )
    assert {"tg_violations", "tg_violation_events", "tg_chain_head", "tg_filter_entries"} <= set(
        inspect(registry.engine).get_table_names()
    )
    reported_at = dt.datetime(2026, 9, 28, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    violation = registry.report(
        kind="pi_request",
        summary="delete",
        reported_by="cs",
        owner="privacy",
        subject=intake_subject("pi_request", pi=[("email", "someone@example.org")]),
        policy=load_policy(None),
        reported_at=reported_at,
    )
    assert violation.reported_at == reported_at  # same instant, stored as UTC
    # 15 working days on China's calendar: the National Day week off, Sat 10 Oct worked.
    assert violation.deadline == dt.datetime(2026, 10, 23, 16, 0, tzinfo=dt.UTC)
    registry.transition(violation.id, "rejected", actor="lead", reason="duplicate request")
    assert registry.get(violation.id).status == "rejected"
    assert registry.audit() == []
