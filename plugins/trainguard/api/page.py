"""The Governance page: one server-rendered HTML document, no scripts.

It is shown inside the Airflow UI (an external view of the plugin) and links relative to
``/trainguard/ui/``: Data Docs and export downloads are served by the same app, behind the
same Airflow login. The markup is in ``templates/`` (Jinja2, autoescaped: every value is
HTML-escaped); nothing here reads a store.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from trainguard.violations.kinds import ViolationKind, ViolationStatus

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 1.2em 2em;color:#1a1a1a}
h1{font-size:1.4em;margin:.8em 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;width:100%;margin:.3em 0 1em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
td.text{overflow-wrap:anywhere;min-width:12em}
td code{white-space:nowrap}select,input[type=text]{font-size:.9em;max-width:9em}
th{background:#f4f5f7;font-weight:600}
.pass{color:#0a6b2d;font-weight:600}.fail{color:#b00020;font-weight:600}
.waived{color:#8a5a00}.muted{color:#666}
tr.overdue td{background:#fde8ea}tr.at_risk td{background:#fff6dc}
.badge{display:inline-block;padding:0 .45em;border-radius:3px;font-size:.85em;
       font-weight:600}
.badge.overdue{background:#b00020;color:#fff}.badge.at_risk{background:#f0b400}
.badge.on_time{background:#d9f2e1}
code{font-size:.92em}form{display:inline;margin:0}
nav a{margin-right:1em}
"""


def _template(name: str) -> Any:
    from trainguard.templating import template

    return template(
        "trainguard.api",
        name,
        filters={
            "hours": _hours,
            "short": _short,
            "quote_all": lambda s: quote(s, safe=""),
            "quote_path": quote,
        },
        helpers={"moves": _moves},
    )


def _hours(hours: float) -> str:
    sign = "-" if hours < 0 else ""
    hours = abs(hours)
    if hours >= 48:
        return f"{sign}{hours / 24:.1f} days"
    return f"{sign}{hours:.1f} h"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moves(status: str) -> list[str]:
    """The statuses the lifecycle allows next, in lifecycle order (rejected last)."""
    from trainguard.violations.kinds import TRANSITIONS, ViolationStatus

    order = list(ViolationStatus)
    return [s.value for s in sorted(TRANSITIONS[ViolationStatus(status)], key=order.index)]


def render(
    *,
    user: str,
    roles: list[str],
    can_export: bool,
    can_review: bool,
    gates: list[dict[str, Any]],
    models: list[dict[str, Any]],
    violations: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    exports: list[dict[str, Any]],
    mlflow_ui: str,
    errors: list[str],
    violation_filters: dict[str, str] | None = None,
    violation_count: dict[str, int] | None = None,
    language: str = "en",
    language_chosen: bool = False,
) -> str:
    from trainguard.templating import language_context

    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for gate in gates:
        by_dataset.setdefault(gate["dataset"]["path"] or "?", []).append(gate)
    return str(
        _template("governance.html.j2").render(
            **language_context(language, chosen=language_chosen),
            style=STYLE,
            user=user,
            roles=roles,
            can_export=can_export,
            can_review=can_review,
            running=any(job["state"] in ("queued", "running") for job in exports),
            gates=gates,
            gates_by_dataset=sorted(by_dataset.items()),
            charts={path: history_chart(runs) for path, runs in by_dataset.items()},
            models=models,
            violations=violations,
            filters=violation_filters or {"show": "open"},
            count=violation_count or {"total": len(violations), "offset": 0, "limit": 50},
            statuses=[s.value for s in ViolationStatus],
            kinds=[k.value for k in ViolationKind],
            sources=sources,
            exports=exports,
            mlflow_ui=mlflow_ui,
            errors=errors,
        )
    )


def render_gate(
    gate: dict[str, Any], mlflow_ui: str, language: str = "en", *, language_chosen: bool = False
) -> str:
    """One gate run's page: every finding, failed and waived first."""
    from trainguard.findings import status_rank
    from trainguard.templating import language_context

    findings = sorted(
        gate["findings"],
        key=lambda f: (status_rank(f["status"]), f["check"], f["source_id"] or ""),
    )
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["status"]] = counts.get(finding["status"], 0) + 1
    return str(
        _template("gate.html.j2").render(
            **language_context(language, chosen=language_chosen),
            style=STYLE,
            gate=gate,
            findings=findings,
            counts=sorted(counts.items(), key=lambda item: status_rank(item[0])),
            mlflow_ui=mlflow_ui,
        )
    )


def history_chart(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A dataset's gate history as an inline SVG: one mark per run, oldest on the left,
    green for a pass and red for a fail, each with its revision, date and failed clauses
    as a tooltip. Server-rendered: the page runs no scripts."""
    ordered = sorted(runs, key=lambda g: g.get("started_at") or "")[-60:]
    step, left, height = 22, 10, 44
    marks = [
        {
            "x": left + index * step,
            "y": 16 if gate.get("decision") == "pass" else 30,
            "decision": gate.get("decision") or "unknown",
            "run_id": gate["run_id"],
            "title": f"{gate['dataset'].get('rev')} {str(gate.get('started_at') or '')[:16]} "
            f"{(gate.get('decision') or '?').upper()}"
            + (
                f": {'; '.join(gate.get('failed_clauses') or [])}"
                if gate.get("failed_clauses")
                else ""
            ),
        }
        for index, gate in enumerate(ordered)
    ]
    return {"width": left * 2 + step * max(len(marks), 1), "height": height, "marks": marks}


def problem(status: int, message: str, login_url: str | None) -> str:
    """What the page shows when a request is refused or fails: why, and the way back."""
    return str(
        _template("problem.html.j2").render(
            style=STYLE, status=status, message=message, login_url=login_url
        )
    )
