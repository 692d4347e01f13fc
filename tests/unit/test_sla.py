"""The SLA check: at risk, then overdue, each alerted once; alert channels never raise."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.policy import load_policy
from trainguard.violations import Registry
from trainguard.violations.intake import intake_subject
from trainguard.violations.sla import alert_text, check_deadlines, send_alert

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def test_each_level_is_alerted_once_and_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    policy = load_policy(None)
    reported = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)  # a Monday in Shanghai
    violation = Registry(url).report(
        kind="pi_request",
        summary="delete",
        reported_by="cs",
        owner="privacy",
        policy=policy,
        subject=intake_subject("pi_request", pi_hmacs=[("email", "ab" * 32)]),
        reported_at=reported,
    )
    span = violation.deadline - reported
    sent: list[dict[str, Any]] = []
    assert (
        check_deadlines(Registry(url), policy, now=reported + span * 0.49, notify=sent.append) == []
    )
    # Half the time used and optimization training not started: alerted once.
    half = reported + span * 0.5
    assert [
        a["level"] for a in check_deadlines(Registry(url), policy, now=half, notify=sent.append)
    ] == ["training_not_started"]
    assert "OPTIMIZATION TRAINING NOT STARTED" in alert_text(sent[-1])
    assert "50% of its time used" in alert_text(sent[-1])
    at_risk = reported + span * 0.85
    assert [
        a["level"] for a in check_deadlines(Registry(url), policy, now=at_risk, notify=sent.append)
    ] == ["at_risk"]
    # A new process (a restarted scheduler) neither repeats nor forgets the alert.
    assert check_deadlines(Registry(url), policy, now=at_risk, notify=sent.append) == []
    late = violation.deadline + dt.timedelta(hours=3)
    assert [
        a["level"] for a in check_deadlines(Registry(url), policy, now=late, notify=sent.append)
    ] == ["overdue"]
    assert [a["level"] for a in sent] == ["training_not_started", "at_risk", "overdue"]
    assert "3 h past its deadline" in alert_text(sent[-1])
    assert Registry(url).audit() == []


def test_no_training_alert_once_optimization_training_started(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    policy = load_policy(None)
    reported = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
    registry = Registry(url)
    violation = registry.report(
        kind="pi_request",
        summary="delete",
        reported_by="cs",
        owner="privacy",
        policy=policy,
        subject=intake_subject("pi_request", pi_hmacs=[("email", "cd" * 32)]),
        reported_at=reported,
    )
    registry.add_evidence(
        violation.id,
        {"m:training": {"request_id": "tr-1", "started_at": reported.isoformat()}},
        actor="trainguard-remediation",
        action="step:training",
    )
    half = reported + (violation.deadline - reported) * 0.6
    assert check_deadlines(Registry(url), policy, now=half, notify=lambda alert: None) == []


def test_a_dead_webhook_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRAINGUARD_ALERT_WEBHOOK", "http://127.0.0.1:9/")
    alert = {
        "level": "overdue",
        "violation": "V-1",
        "kind": "pi_request",
        "clause": "Art. 13",
        "status": "filtered",
        "owner": "privacy",
        "deadline": "2026-01-26T16:00:00+00:00",
        "hours_left": -5.0,
        "summary": "s",
    }
    send_alert(alert)
    assert "OVERDUE: violation V-1" in caplog.text
    assert "alert webhook http://127.0.0.1:9/ failed" in caplog.text
