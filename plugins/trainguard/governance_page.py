"""The Governance page: one server-rendered HTML document, no scripts.

It is shown inside the Airflow UI (an external view of the plugin) and links relative to
``/trainguard/ui/``: Data Docs and export downloads are served by the same app, behind the
same Airflow login. Every value is HTML-escaped; nothing here reads a store.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

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


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _hours(hours: float) -> str:
    sign = "-" if hours < 0 else ""
    hours = abs(hours)
    if hours >= 48:
        return f"{sign}{hours / 24:.1f} days"
    return f"{sign}{hours:.1f} h"


def _mlflow(base: str, experiment_id: str, run_id: str) -> str:
    return (f'<a href="{_e(base)}/#/experiments/{_e(experiment_id)}/runs/{_e(run_id)}" '
            f'target="_blank" rel="noopener">{_e(run_id[:8])}</a>')


def render(*, user: str, roles: list[str], can_export: bool, can_review: bool,
           gates: list[dict[str, Any]],
           models: list[dict[str, Any]], violations: list[dict[str, Any]],
           sources: list[dict[str, Any]], exports: list[dict[str, Any]], mlflow_ui: str,
           errors: list[str]) -> str:
    running = any(job["state"] in ("queued", "running") for job in exports)
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           "<title>trainguard - Governance</title>",
           # While an export runs, reload so its download link appears without a click.
           "<meta http-equiv='refresh' content='5'>" if running else "",
           f"<style>{STYLE}</style></head><body>",
           "<h1>Governance</h1>",
           f"<p class='muted'>Signed in as <b>{_e(user)}</b> ({_e(', '.join(roles) or 'no role')})"
           ". Training-data duties of the Measures for generative AI services: gates "
           "(Art. 7, 8), violations (Art. 13, 15), provenance exports (Art. 17).</p>",
           "<nav><a href='#violations'>Open violations</a><a href='#gates'>Gates</a>"
           "<a href='#models'>Models and exports</a><a href='#sources'>Sources</a></nav>"]
    for error in errors:
        out.append(f"<p class='fail'>{_e(error)}</p>")
    out += _violations(violations, can_review)
    out += _gates(gates, mlflow_ui)
    out += _models(models, exports, can_export, mlflow_ui)
    out += _sources(sources)
    out.append("</body></html>")
    return "\n".join(part for part in out if part)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _move_form(violation: dict[str, Any]) -> str:
    """A reviewer's transition: the statuses the lifecycle allows next, and a reason."""
    from trainguard.violations.registry import STATUSES, TRANSITIONS

    allowed = sorted(TRANSITIONS[violation["status"]], key=STATUSES.index)  # rejected last
    if not allowed:
        return ""
    options = "".join(f"<option>{_e(status)}</option>" for status in allowed)
    return (f"<form method='post' action='violations/{_e(violation['id'])}/transitions'>"
            f"<select name='to' aria-label='move to'>{options}</select> "
            "<input type='text' name='reason' placeholder='reason' aria-label='reason'> "
            "<button type='submit'>Move</button></form>")


def _violations(violations: list[dict[str, Any]], can_review: bool) -> list[str]:
    out = [f"<h2 id='violations'>Open violations ({len(violations)})</h2>"]
    if not violations:
        return out + ["<p class='muted'>None open.</p>"]
    out.append("<table><tr><th>Violation</th><th>Kind</th><th>Clause</th><th>Status</th>"
               "<th>Model</th><th>Owner</th><th>Deadline (UTC)</th><th>Time left</th>"
               f"<th>Summary</th>{'<th>Review</th>' if can_review else ''}</tr>")
    for v in sorted(violations, key=lambda v: v["deadline"]):
        sla = v.get("sla", "on_time")
        label = {"overdue": "OVERDUE", "at_risk": "AT RISK"}.get(sla, "on time")
        model = f"{v['model_name']} v{v['model_version']}" if v.get("model_name") else ""
        out.append(
            f"<tr class='{_e(sla)}' data-violation='{_e(v['id'])}'><td><code>{_e(v['id'])}"
            f"</code></td><td>{_e(v['kind'])}</td><td>{_e(v['clause'])}</td>"
            f"<td>{_e(v['status'])}</td><td>{_e(model)}</td><td>{_e(v['owner'])}</td>"
            f"<td>{_e(v['deadline'][:16].replace('T', ' '))}</td>"
            f"<td><span class='badge {_e(sla)}'>{label}</span> "
            f"{_e(_hours(v['time_left_hours']))}</td>"
            f"<td class='text'>{_e(_short(v['summary']))}</td>"
            f"{f'<td>{_move_form(v)}</td>' if can_review else ''}</tr>")
    return out + ["</table>"]


def _gates(gates: list[dict[str, Any]], mlflow_ui: str) -> list[str]:
    out = [f"<h2 id='gates'>Gate history ({len(gates)} runs)</h2>"]
    if not gates:
        return out + ["<p class='muted'>No gate has run yet.</p>"]
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for gate in gates:
        by_dataset.setdefault(gate["dataset"]["path"] or "?", []).append(gate)
    for path, runs in sorted(by_dataset.items()):
        out.append(f"<h3>Dataset <code>{_e(path)}</code></h3>")
        out.append("<table><tr><th>Started (UTC)</th><th>Stage</th><th>Revision</th>"
                   "<th>Decision</th><th>Failed clauses</th><th>Failed checks</th>"
                   "<th>Waivers</th><th>Models trained</th><th>MLflow</th>"
                   "<th>Data Docs</th></tr>")
        for gate in runs:
            decision = gate["decision"] or "?"
            models = ", ".join(f"{m['name']} v{m['version']}" for m in gate["models"])
            docs = (f"<a href='gates/{_e(gate['run_id'])}/data_docs/index.html' "
                    "target='_blank'>open</a>" if gate["data_docs"] else "")
            out.append(
                f"<tr data-gate='{_e(gate['run_id'])}'>"
                f"<td>{_e((gate['started_at'] or '')[:19].replace('T', ' '))}</td>"
                f"<td>{_e(gate['stage'])}{_dag_run(gate)}</td>"
                f"<td><code>{_e(gate['dataset']['rev'])}</code> "
                f"<span class='muted'>{_e((gate['dataset']['commit'] or '')[:10])}</span></td>"
                f"<td class='{_e(decision)}'>{_e(decision.upper())}</td>"
                f"<td>{_e('; '.join(gate['failed_clauses']))}</td>"
                f"<td>{_e(', '.join(gate['failed_checks']))}</td>"
                f"<td>{_e(', '.join(gate['waivers']))}</td><td>{_e(models)}</td>"
                f"<td>{_mlflow(mlflow_ui, gate['experiment_id'], gate['run_id'])}</td>"
                f"<td>{docs}</td></tr>")
        out.append("</table>")
    return out


def _dag_run(gate: dict[str, Any]) -> str:
    """Where the gate ran: its Airflow DAG run (a link into the UI), or the violation fixed."""
    dag_run = gate.get("dag_run") or {}
    parts = []
    if dag_run.get("dag_id") and dag_run.get("run_id"):
        href = f"/dags/{quote(dag_run['dag_id'])}/runs/{quote(dag_run['run_id'], safe='')}"
        parts.append(f"<a href='{_e(href)}' target='_top'>{_e(dag_run['dag_id'])}</a>")
    if gate.get("violation"):
        parts.append(f"fixes <code>{_e(gate['violation'])}</code>")
    return f"<br><span class='muted'>{' '.join(parts)}</span>" if parts else ""


def _models(models: list[dict[str, Any]], exports: list[dict[str, Any]], can_export: bool,
            mlflow_ui: str) -> list[str]:
    out = [f"<h2 id='models'>Models and provenance exports ({len(models)} versions)</h2>"]
    if models:
        out.append("<table><tr><th>Model</th><th>Version</th><th>Registered (UTC)</th>"
                   "<th>Dataset</th><th>Gate runs</th><th>Fixes violations</th>"
                   "<th>Export (Art. 17)</th></tr>")
        for model in models:
            button = ("<form method='post' action='exports'>"
                      f"<input type='hidden' name='model_name' value='{_e(model['name'])}'>"
                      f"<input type='hidden' name='model_version' value='{_e(model['version'])}'>"
                      "<button type='submit'>Export bundle</button></form>"
                      if can_export else "<span class='muted'>auditors only</span>")
            out.append(
                f"<tr data-model='{_e(model['name'])}/{_e(model['version'])}'>"
                f"<td>{_e(model['name'])}</td><td>{_e(model['version'])}</td>"
                f"<td>{_e((model['registered_at'] or '')[:19].replace('T', ' '))}</td>"
                f"<td><code>{_e(model['dataset']['path'])}@{_e(model['dataset']['rev'])}"
                f"</code></td><td>{_e(', '.join(r[:8] for r in model['gate_run_ids']))}</td>"
                f"<td>{_e(', '.join(model['fixes_violations']))}</td><td>{button}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p class='muted'>No model version has been registered by trainguard.</p>")
    if exports:
        out.append("<h3 id='exports'>Recent exports</h3><table><tr><th>Requested (UTC)</th>"
                   "<th>Model</th><th>By</th><th>State</th><th>Bundle</th></tr>")
        for job in exports:
            if job["state"] == "done":
                bundle = (f"<a href='exports/{_e(job['id'])}/download'>download zip</a> "
                          f"<span class='muted'>manifest sha256 "
                          f"{_e((job['manifest_sha256'] or '')[:12])}, {_e(job['algorithm'])}"
                          "</span>")
            elif job["state"] == "failed":
                bundle = f"<span class='fail'>{_e(job['error'])}</span>"
            else:
                bundle = "<span class='muted'>writing and signing...</span>"
            out.append(
                f"<tr data-export='{_e(job['id'])}'>"
                f"<td>{_e(job['requested_at'][:19].replace('T', ' '))}</td>"
                f"<td>{_e(job['model_name'])} v{_e(job['model_version'])}</td>"
                f"<td>{_e(job['requested_by'])}</td><td>{_e(job['state'])}</td>"
                f"<td>{bundle}</td></tr>")
        out.append("</table>")
    return out


def _sources(sources: list[dict[str, Any]]) -> list[str]:
    out = [f"<h2 id='sources'>Sources ({len(sources)})</h2>",
           "<p class='muted'>As each dataset's newest gate run saw them.</p>"]
    if not sources:
        return out
    out.append("<table><tr><th>Dataset</th><th>Source</th><th>Kind</th><th>Licence</th>"
               "<th>Origin</th><th>Records</th><th>Evidence</th><th>Failed checks</th></tr>")
    for source in sources:
        missing = source["missing_evidence"]
        evidence = (f"<span class='fail'>missing {_e(', '.join(missing))}</span>" if missing
                    else "<span class='pass'>complete</span>")
        failed = source["failed_checks"]
        out.append(
            f"<tr><td><code>{_e(source['dataset'])}@{_e(source['rev'])}</code></td>"
            f"<td>{_e(source['id'])}</td><td>{_e(source['kind'])}</td>"
            f"<td>{_e(source['license'])}</td><td>{_e(source['origin'])}</td>"
            f"<td>{source['records']:,}</td><td>{evidence}</td>"
            f"<td class='{'fail' if failed else 'pass'}'>"
            f"{_e(', '.join(failed) or 'none')}</td></tr>")
    return out + ["</table>"]


def problem(status: int, message: str, login_url: str | None) -> str:
    """What the page shows when a request is refused or fails: why, and the way back."""
    action = (f"<a href='{_e(login_url)}' target='_top'>Sign in to Airflow</a>" if login_url
              else "<a href='/trainguard/ui/'>Back to the Governance page</a>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>trainguard - {status}</title><style>{STYLE}</style></head><body>"
            f"<h1>Governance</h1><p class='fail'>{_e(message)}</p><p>{action}</p>"
            "</body></html>")
