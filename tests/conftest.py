"""Shared test configuration: every test must be marked unit or integration."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid for item in items
        if not any(item.get_closest_marker(name) for name in ("unit", "integration"))
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests must be marked unit or integration: " + ", ".join(unmarked)
        )
