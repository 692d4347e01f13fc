"""Schemathesis against the schema the API server serves: property-based requests, run
with an admin token (every operation reachable), must never get a 5xx. Runs after the
other governance tests, since it files many violations into the demo's registry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import GovernanceServer

pytestmark = pytest.mark.integration


def test_schemathesis_finds_no_server_error(
    governance_server: GovernanceServer, tmp_path: Path
) -> None:
    """Property-based requests against the served schema: never a 5xx."""
    token = governance_server.token("admin")
    schemathesis = Path(sys.executable).parent / "schemathesis"
    done = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{governance_server.base}/trainguard/openapi.json",
            "--url",
            f"{governance_server.base}/trainguard",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--seed",
            "7",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,
        env={**governance_server.env, "SCHEMATHESIS_HOOKS": ""},
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-5000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated and generated[1] == generated[2] and int(generated[1]) > 200, report[-3000:]
    assert re.search(r"Tested: 12\b", report), report[-3000:]  # every operation
