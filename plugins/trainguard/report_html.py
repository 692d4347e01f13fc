"""report.html of the provenance bundle: the disclosure for people, printable, no scripts.

Charts are inline SVG drawn here (no JavaScript, no fetched assets), so the file reads the
same offline, in a browser's print preview and in ten years.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;
margin:2em auto;max-width:62em;color:#1d2330;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #d8dde6;padding-bottom:.2em;
margin-top:2em}table{border-collapse:collapse;width:100%;margin:.6em 0}
th,td{border:1px solid #d8dde6;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#16703a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.waived{color:#8a5a00;font-weight:600}.warn{color:#8a5a00}
.meta{color:#5b6475}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
.chart h3{font-size:1em;margin:.4em 0}code{font-size:.92em}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}
table,svg{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""
_PALETTE = ["#3d6fd1", "#e08a2c", "#3a9d6a", "#b84a8c", "#6b5bd6", "#c2573a", "#2f8f9d",
            "#8c8c2e", "#7a7f8c"]


def _bar_chart(title: str, counts: dict[str, int]) -> str:
    """A horizontal bar chart as inline SVG, largest first, with counts and shares."""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    total = sum(counts.values()) or 1
    width, bar_left, bar_width, row_height = 460, 170, 200, 22
    height = row_height * len(rows) + 8
    biggest = max(counts.values(), default=1) or 1
    parts = [f'<div class="chart"><h3>{escape(title)}</h3>'
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">']
    for index, (label, count) in enumerate(rows):
        y = 4 + index * row_height
        length = max(1, round(bar_width * count / biggest))
        colour = _PALETTE[index % len(_PALETTE)]
        parts.append(
            f'<text x="{bar_left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f'{escape(label[:26])}</text>'
            f'<rect x="{bar_left}" y="{y + 3}" width="{length}" height="15" fill="{colour}"/>'
            f'<text x="{bar_left + length + 6}" y="{y + 15}" font-size="12">'
            f'{count:,} ({count / total:.1%})</text>')
    parts.append("</svg></div>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            css = ' class="num"' if index in numeric else ""
            cells.append(f"<td{css}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status(status: str) -> str:
    return f'<span class="{escape(status)}">{escape(status.upper())}</span>'


def _findings_by_clause(lineage: dict[str, Any]) -> str:
    by_clause: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for gate in lineage["gate_runs"]:
        for finding in gate["findings"]:
            for clause in finding["clauses"] or ["(no clause)"]:
                by_clause[clause].append((gate["run_id"], finding))
    order = {"fail": 0, "waived": 1, "warn": 2, "pass": 3}
    sections = []
    for clause in sorted(by_clause):
        findings = sorted(by_clause[clause], key=lambda item: (
            order.get(item[1]["status"], 9), item[1]["check"], item[1]["source_id"] or ""))
        counts = defaultdict(int)
        for _, finding in findings:
            counts[finding["status"]] += 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(),
                                                          key=lambda i: order.get(i[0], 9)))
        rows = [[_status(f["status"]), f"<code>{escape(f['check'])}</code>",
                 escape(f["source_id"] or f.get("entity") or "corpus"),
                 escape(f["message"])
                 + (f' <em>(waiver {escape(f["waiver"]["id"])})</em>' if f.get("waiver")
                    else "")]
                for _, f in findings]
        sections.append(f"<h3>{escape(clause)} <span class=\"meta\">({summary})</span></h3>"
                        + _table(["status", "check", "concerns", "finding"], rows))
    return "".join(sections)


def render_report(lineage: dict[str, Any], disclosure: dict[str, Any]) -> str:
    model = disclosure["model"]
    algorithm = disclosure["foundational_algorithm"]
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>Provenance of {escape(model['name'])} v{escape(model['version'])}</title>"
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Provenance of {escape(model['name'])} version {escape(model['version'])}</h1>",
           f"<p class=\"meta\">{escape(disclosure['regulation'])}. Provider: "
           f"{escape(disclosure['provider'])}. Registered {escape(str(model['registered_at']))}"
           f"; trained by MLflow run <code>{escape(algorithm['training_run_id'])}</code> "
           f"({escape(str(algorithm['trained_from']))} to "
           f"{escape(str(algorithm['trained_until']))}).</p>"]

    out.append("<h2>Gate decisions</h2>")
    out.append(_table(
        ["gate run", "stage", "decision", "decided at", "checks", "failed", "waived", "policy"],
        [[f"<code>{escape(g['run_id'])}</code>", escape(str(g["stage"])),
          _status(str(g["decision"])), escape(str(g["decided_at"])), g["checks"],
          len(g["failed"]), len(g["waived"]), f"<code>{escape(str(g['policy_digest'])[:12])}"
          "</code>"] for g in disclosure["gate_decisions"]], numeric={4, 5, 6}))

    out.append("<h2>Data composition</h2>")
    for dataset in disclosure["datasets"]:
        version, scale = dataset["version"], dataset["scale"]
        out.append(f"<h3>{escape(dataset['name'])}: <code>{escape(version['path'])}@"
                   f"{escape(str(version['git_rev']))}</code></h3>"
                   f"<p class=\"meta\">git commit <code>{escape(str(version['git_commit']))}"
                   f"</code>, DVC md5 <code>{escape(version['dvc_md5'])}</code>; "
                   f"{scale.get('records', 0):,} records, {scale.get('characters', 0):,} "
                   f"characters, {scale.get('bytes', 0):,} bytes; stage "
                   f"{escape(str(dataset['type']['stage']))}, languages declared "
                   f"{escape(', '.join(dataset['type']['languages_declared']))}.</p>")
        by_licence: dict[str, int] = defaultdict(int)
        for source in dataset["sources"]:
            by_licence[source["license"]] += source["scale"]["records"]
        out.append("<div class=\"charts\">"
                   + _bar_chart("Records by source", {s["id"]: s["scale"]["records"]
                                                      for s in dataset["sources"]})
                   + _bar_chart("Records by detected language",
                                dataset["type"]["records_by_detected_language"])
                   + _bar_chart("Records by licence", dict(by_licence)) + "</div>")
        out.append(_table(
            ["source", "kind", "licence", "origin", "evidence", "records", "characters",
             "harmful rate (sample)", "PI found / covered"],
            [[escape(s["id"]), escape(s["kind"]), f"<code>{escape(s['license'])}</code>",
              escape(s["origin"]),
              "complete" if not s["missing_evidence"]
              else '<span class="fail">missing ' + escape(", ".join(s["missing_evidence"]))
              + "</span>",
              f"{s['scale']['records']:,}", f"{s['scale']['characters']:,}",
              _rate(s["quality"].get("harmful_rate"), s["quality"].get("harmful_sampled")),
              f"{s['quality'].get('pi_found', 0)} / {s['quality'].get('pi_covered', 0)}"]
             for s in dataset["sources"]], numeric={5, 6, 7, 8}))

    out.append("<h2>Findings by clause</h2>")
    out.append(_findings_by_clause(lineage))

    out.append("<h2>Annotation</h2>")
    annotation = disclosure["annotation"]
    if annotation is None:
        out.append("<p>No annotated data (pre-training).</p>")
    else:
        spot = annotation["spot_checks"]
        people = annotation["annotators"]
        out.append(
            f"<p>{annotation['scale']['records']:,} annotated records ("
            + escape(", ".join(f"{k} {v:,}" for k, v in sorted(
                annotation["scale"]["by_type"].items())))
            + f"); {people['labelers']} labelers, {people['reviewers']} reviewers, "
            f"{people['untrained']} without training on the rules they applied; "
            f"{spot['checked']:,} spot checks, accuracy {spot['accuracy']:.1%} (95% "
            f"{spot['accuracy_low']:.1%} to {spot['accuracy_high']:.1%})"
            + (f"; mean kappa {annotation['kappa_mean']:.2f}" if annotation["kappa_mean"]
               is not None else "") + ".</p>")
        out.append(_table(["rules version", "sha256"],
                          [[escape(r["version"]), f"<code>{escape(r['sha256'])}</code>"]
                           for r in annotation["rules"]]))

    out.append("<h2>Waivers</h2>")
    out.append(_table(["waiver", "check", "source", "approved by", "granted", "expires",
                       "reason"],
                      [[escape(w["id"]), f"<code>{escape(w['check'])}</code>",
                        escape(w.get("source_id") or "any"), escape(w["approved_by"]),
                        escape(w["granted_at"]), escape(w["expires_at"]), escape(w["reason"])]
                       for w in disclosure["waivers"]])
               if disclosure["waivers"] else "<p>None.</p>")

    out.append("<h2>Violation history</h2>")
    out.append(_table(["violation", "kind", "status", "reported", "deadline", "closed"],
                      [[escape(str(v.get("id"))), escape(str(v.get("kind", ""))),
                        escape(str(v.get("status", ""))), escape(str(v.get("reported_at", ""))),
                        escape(str(v.get("deadline", ""))), escape(str(v.get("closed_at", "")))]
                       for v in disclosure["violations"]])
               if disclosure["violations"] else "<p>This version fixed no reported "
               "violation.</p>")

    out.append("<h2>Foundational algorithm</h2>")
    out.append(_table(["setting", "value"],
                      [["model class", f"<code>{escape(str(algorithm['model_class']))}</code>"]]
                      + [[escape(k), escape(str(v))]
                         for k, v in sorted(algorithm["hyperparameters"].items())]
                      + [[f"library {escape(k)}", escape(str(v))]
                         for k, v in sorted(algorithm["libraries"].items())]))
    out.append("</body></html>\n")
    return "\n".join(out)


def _rate(rate: Any, sampled: Any) -> str:
    if rate is None:
        return "n/a"
    return f"{float(rate):.2%} of {int(sampled or 0):,}"
