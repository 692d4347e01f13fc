"""Shared test configuration: every test must be marked unit, integration or stack."""

from __future__ import annotations

import os
import tempfile

import pytest

# Consent HMACs need a key; tests that check its absence remove it themselves.
os.environ.setdefault("TRAINGUARD_HASH_KEY", "trainguard-test-key")
# Every gate reads the violation registry in TRAINGUARD_HOME: tests never read (or add to)
# the one of the person running them. The integration tier points it at its own workdir.
os.environ["TRAINGUARD_HOME"] = tempfile.mkdtemp(prefix="trainguard-test-home-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if not any(item.get_closest_marker(name) for name in ("unit", "integration", "stack"))
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests must be marked unit, integration or stack: " + ", ".join(unmarked)
        )
