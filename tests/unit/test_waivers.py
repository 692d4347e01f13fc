"""Waivers: a reviewer's time-limited exception for a named failing finding."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ContractError
from trainguard.findings import Decision, Finding, GateReport, Status
from trainguard.gate.waivers import WaiverStore, apply_waivers, parse_time

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def report_with(*findings: Finding) -> GateReport:
    return GateReport(
        dataset_name="tiny", dataset_digest="sha256:x", records=3, findings=list(findings)
    )


def licence_fail(source: str = "wiki") -> Finding:
    return Finding(
        "source.licence", ("Art. 7(2)",), Status.FAIL, "licence denied", source_id=source
    )


def grant(store: WaiverStore, **overrides: object) -> object:
    values = {
        "check": "source.licence",
        "source_id": "wiki",
        "approved_by": "reviewer-li",
        "reason": "licence renegotiated, contract pending",
        "max_days": 90,
        "expires_at": NOW + dt.timedelta(days=30),
        "now": NOW,
    }
    values.update(overrides)
    return store.grant(**values)  # type: ignore[arg-type]


def test_an_active_waiver_turns_the_failure_into_waived_and_the_gate_passes(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    waiver = grant(store)
    report = report_with(licence_fail(), licence_fail("news"))
    used = apply_waivers(report, store.waivers(), at=NOW + dt.timedelta(days=1))
    assert [w.id for w in used] == [waiver.id]  # type: ignore[attr-defined]
    assert [f.status for f in report.findings] == [Status.WAIVED, Status.FAIL]
    assert report.findings[0].to_dict()["waiver"]["approved_by"] == "reviewer-li"
    assert report.decision is Decision.FAIL  # the other source is not covered
    report.findings.pop()
    assert report.decision is Decision.PASS
    assert report.to_dict()["waivers"][0]["id"] == waiver.id  # type: ignore[attr-defined]


def test_an_expired_waiver_no_longer_counts(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    grant(store, expires_at=NOW + dt.timedelta(days=2))
    report = report_with(licence_fail())
    assert apply_waivers(report, store.waivers(), at=NOW + dt.timedelta(days=2)) == []
    assert report.decision is Decision.FAIL
    assert store.waivers(at=NOW + dt.timedelta(days=3)) == []
    assert len(store.waivers()) == 1  # still on record for auditors


def test_a_revoked_waiver_no_longer_counts(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    waiver = grant(store)
    store.revoke(waiver.id, revoked_by="lead", reason="contract fell through")  # type: ignore[attr-defined]
    assert store.waivers() == []
    events = [json.loads(line) for line in store.path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["granted", "revoked"]  # history kept


def test_a_waiver_matches_only_its_check_source_and_dataset(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    grant(store, dataset="other-dataset")
    grant(store, check="pi.consent")
    report = report_with(licence_fail())
    assert apply_waivers(report, store.waivers(), at=NOW) == []
    assert report.findings[0].status is Status.FAIL


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expires_at": NOW - dt.timedelta(minutes=1)}, "until"),
        ({"expires_at": NOW + dt.timedelta(days=91)}, "until"),
        ({"approved_by": " "}, "by"),
        ({"reason": ""}, "reason"),
    ],
)
def test_bad_waivers_are_refused_naming_the_field(
    tmp_path: Path, overrides: dict[str, object], field: str
) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    with pytest.raises(ContractError, match=f"field '{field}'"):
        grant(store, **overrides)
    assert not store.path.exists()  # nothing written


def test_a_damaged_waiver_log_names_file_and_line(tmp_path: Path) -> None:
    store = WaiverStore(tmp_path / "waivers.jsonl")
    grant(store)
    with store.path.open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(ContractError, match=r"waivers.jsonl, row 2"):
        store.waivers()


def test_until_accepts_a_date_or_an_offset_time_only() -> None:
    assert parse_time("2027-01-31", field="until") == dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    assert parse_time("2027-01-31T08:00+08:00", field="until") == dt.datetime(
        2027, 1, 31, 0, 0, tzinfo=dt.UTC
    )
    with pytest.raises(ContractError, match="no timezone"):
        parse_time("2027-01-31T08:00", field="until")
    with pytest.raises(ContractError, match="not a date"):
        parse_time("next week", field="until")


def trainguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args], capture_output=True, text=True, check=False
    )


def test_waiver_add_with_a_past_date_exits_2_with_one_line(tmp_path: Path) -> None:
    done = trainguard(
        "waiver",
        "add",
        "--check",
        "source.licence",
        "--by",
        "r",
        "--reason",
        "x",
        "--until",
        "2020-01-01",
        "--store",
        str(tmp_path / "w.jsonl"),
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "field 'until'" in done.stderr and "not in the future" in done.stderr
