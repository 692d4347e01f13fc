"""The SLA check: which open violations are at risk or overdue, and the alerts they raise.

Each level (``at_risk``, then ``overdue``) is alerted once per violation; the level sent
is stored with the violation, so a restarted scheduler neither repeats nor forgets an
alert. ``send_alert`` always logs, and also emails and posts to a webhook when configured.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any

from trainguard.settings import env

if TYPE_CHECKING:
    from collections.abc import Callable

LEVELS = {"none": 0, "at_risk": 1, "overdue": 2}
# Optimization training must have started when half the time to the deadline is used
# (Art. 15's "within the deadline" leaves the other half for training and verification).
TRAINING_START_FRACTION = 0.5
TRAINING_LATE = "training_not_started"
WEBHOOK_ENV = "TRAINGUARD_ALERT_WEBHOOK"
EMAIL_ENV = "TRAINGUARD_ALERT_EMAIL"  # comma-separated recipients
SMTP_ENV = "TRAINGUARD_SMTP"  # host[:port]
log = logging.getLogger("trainguard.alerts")


def check_deadlines(
    registry: Any,
    policy: Any,
    *,
    now: dt.datetime | None = None,
    notify: Callable[[dict[str, Any]], None] | None = None,
    actor: str = "trainguard-sla",
) -> list[dict[str, Any]]:
    """Alert every open violation that reached a new SLA level; returns the alerts sent."""
    now = now or dt.datetime.now(dt.UTC)
    fraction = policy.violations.at_risk_fraction
    alerts = []
    for violation in registry.list(open_only=True):
        late = _training_late(violation, now)
        if late is not None:
            (notify or send_alert)(late)
            registry.add_evidence(
                violation.id,
                {f"sla:{TRAINING_LATE}": now.isoformat(timespec="seconds")},
                actor=actor,
                action="sla:alerted",
            )
            alerts.append(late)
        level = violation.sla(now, fraction)
        if LEVELS.get(level, 0) <= LEVELS[violation.sla_alerted]:
            continue
        alert = _alert(violation, level, now)
        (notify or send_alert)(alert)
        registry.mark_alerted(violation.id, level, actor=actor)
        alerts.append(alert)
    return alerts


def training_started(violation: Any) -> bool:
    return any(key.endswith((":training", ":model")) for key in violation.evidence)


def _training_late(violation: Any, now: dt.datetime) -> dict[str, Any] | None:
    """The alert for a violation whose optimization training has not started although
    half its time is used (once per violation)."""
    if f"sla:{TRAINING_LATE}" in violation.evidence or training_started(violation):
        return None
    if violation.evidence.get("targets") == []:
        return None  # nothing to retrain: the probe alone decides
    total = (violation.deadline - violation.reported_at).total_seconds()
    used = (now - violation.reported_at).total_seconds()
    if total <= 0 or used / total < TRAINING_START_FRACTION or now >= violation.deadline:
        return None  # an overdue violation gets the overdue alert, which says more
    return {**_alert(violation, TRAINING_LATE, now), "share_of_time_used": round(used / total, 3)}


def _alert(violation: Any, level: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "level": level,
        "violation": violation.id,
        "kind": violation.kind,
        "clause": violation.clause,
        "status": violation.status,
        "owner": violation.owner,
        "deadline": violation.deadline.isoformat(),
        "hours_left": round((violation.deadline - now).total_seconds() / 3600, 1),
        "summary": violation.summary,
    }


def alert_text(alert: dict[str, Any]) -> str:
    when = (
        f"{-alert['hours_left']:.0f} h past its deadline"
        if alert["hours_left"] < 0
        else f"{alert['hours_left']:.0f} h left"
    )
    if alert["level"] == TRAINING_LATE:
        return (
            f"[trainguard] OPTIMIZATION TRAINING NOT STARTED: violation {alert['violation']} "
            f"({alert['kind']}, {alert['clause']}) is {alert['status']} with "
            f"{alert['share_of_time_used']:.0%} of its time used, {when} (deadline "
            f"{alert['deadline']}); owner {alert['owner']}: {alert['summary']}"
        )
    return (
        f"[trainguard] {alert['level'].upper().replace('_', ' ')}: violation "
        f"{alert['violation']} ({alert['kind']}, {alert['clause']}) is {alert['status']}, "
        f"{when} (deadline {alert['deadline']}); owner {alert['owner']}: "
        f"{alert['summary']}"
    )


def send_alert(alert: dict[str, Any]) -> None:
    """Log the alert; email it and post it to the webhook when those are configured.

    A failing channel is logged, never raised: the other channels and the log still count.
    """
    text = alert_text(alert)
    log.warning(text)
    webhook = env(WEBHOOK_ENV)
    if webhook:
        import urllib.request

        request = urllib.request.Request(
            webhook,
            data=json.dumps({**alert, "text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except OSError as exc:
            log.error("alert webhook %s failed: %s", webhook, exc)
    recipients = env(EMAIL_ENV)
    if recipients:
        import smtplib
        from email.message import EmailMessage

        host, _, port = env(SMTP_ENV).partition(":")
        message = EmailMessage()
        message["Subject"] = text[:120]
        message["From"] = env("TRAINGUARD_ALERT_FROM")
        message["To"] = recipients
        message.set_content(text)
        try:
            with smtplib.SMTP(host, int(port or 25), timeout=10) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("alert email to %s failed: %s", recipients, exc)
