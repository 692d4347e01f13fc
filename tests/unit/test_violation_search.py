"""Searching the registry: one query object for the API, the page and scripts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ContractError
from trainguard.policy import load_policy
from trainguard.violations import Registry
from trainguard.violations.intake import intake_subject
from trainguard.violations.search import ViolationQuery, search

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # a Monday, noon in Shanghai


def test_filters_sort_and_pages(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'v.db'}")
    policy = load_policy(None)
    filed = [
        registry.report(
            kind="harmful_output",  # 90 calendar days to fix (Art. 15)
            summary=f"harmful answer report {n}",
            reported_by="legal",
            owner="legal" if n % 2 else "privacy",
            policy=policy,
            subject=intake_subject("harmful_output", prompt="p", output=f"a harmful answer {n}"),
            reported_at=NOW - dt.timedelta(days=days),
            model_name="m",
            model_version=str(n),
        )
        for n, days in enumerate((1, 20, 95))
    ]
    everything = search(registry, ViolationQuery(), NOW)
    assert everything.total == 3
    deadlines = [v.deadline for v in everything.violations]
    assert deadlines == sorted(deadlines)  # default: the most urgent first
    assert [v.id for v in search(registry, ViolationQuery(overdue=True), NOW).violations] == [
        filed[2].id  # 95 days ago: past its 90 calendar days
    ]
    soon = search(registry, ViolationQuery(due_within_days=80), NOW).violations
    assert {v.id for v in soon} == {filed[1].id, filed[2].id}
    assert search(registry, ViolationQuery(owner="legal"), NOW).total == 1
    assert search(registry, ViolationQuery(model="m/2"), NOW).violations[0].id == filed[2].id
    assert search(registry, ViolationQuery(text="REPORT 1"), NOW).total == 1
    page = search(registry, ViolationQuery(sort="-reported_at", limit=1, offset=1), NOW)
    assert page.total == 3 and [v.id for v in page.violations] == [filed[1].id]
    with pytest.raises(ContractError, match="cannot sort by 'summary'"):
        ViolationQuery(sort="summary")
    with pytest.raises(ContractError, match="page size"):
        ViolationQuery(limit=0)
