"""report.html of the provenance bundle: the disclosure for people, printable, no scripts.

Charts are inline SVG (no JavaScript, no fetched assets), so the file reads the same
offline, in a browser's print preview and in ten years. The markup is
``templates/report.html.j2`` (Jinja2, autoescaped); this module prepares the numbers.
"""

from __future__ import annotations

from collections import defaultdict
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
_PALETTE = [
    "#3d6fd1",
    "#e08a2c",
    "#3a9d6a",
    "#b84a8c",
    "#6b5bd6",
    "#c2573a",
    "#2f8f9d",
    "#8c8c2e",
    "#7a7f8c",
]


def _template() -> Any:
    from trainguard.templating import template

    return template(
        "trainguard.export",
        "report.html.j2",
        filters={
            "thousands": lambda n: f"{n:,}",
            "percent": lambda x, digits=1: f"{x:.{digits}%}",
        },
        helpers={"rate": _rate},
    )


def render_report(lineage: dict[str, Any], disclosure: dict[str, Any]) -> str:
    datasets = []
    for dataset in disclosure["datasets"]:
        by_licence: dict[str, int] = defaultdict(int)
        for source in dataset["sources"]:
            by_licence[source["license"]] += source["scale"]["records"]
        charts = [
            _bar_chart(
                "Records by source", {s["id"]: s["scale"]["records"] for s in dataset["sources"]}
            ),
            _bar_chart(
                "Records by detected language", dataset["type"]["records_by_detected_language"]
            ),
            _bar_chart("Records by licence", dict(by_licence)),
        ]
        datasets.append({**dataset, "charts": charts})
    return str(
        _template().render(
            style=_STYLE,
            disclosure=disclosure,
            datasets=datasets,
            clauses=_findings_by_clause(lineage),
            assessment=_assessment(lineage),
        )
    )


def _assessment(lineage: dict[str, Any]) -> dict[str, Any] | None:
    """The assessment section: rates with bounds, banks by size, failures by risk."""
    from trainguard.export.lineage import assessment_document

    document = assessment_document(lineage)
    if document["decision"] is None:
        return None
    banks = document.get("banks", {}).get("banks", {})
    return {
        **document,
        "bank_rows": [
            {
                "bank": name,
                "questions": bank["questions"],
                "risks": len([r for r in bank["by_risk"] if r != "-"]),
                "sampled": document["samples"].get(name, 0),
            }
            for name, bank in sorted(banks.items())
        ],
        "failed": [f for f in document["findings"] if f["status"] == "fail"],
    }


def _bar_chart(title: str, counts: dict[str, int]) -> dict[str, Any]:
    """A horizontal bar chart's geometry, largest first, with counts and shares."""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    total = sum(counts.values()) or 1
    row_height, bar_width = 22, 200
    biggest = max(counts.values(), default=1) or 1
    bars = [
        {
            "label": label[:26],
            "count": count,
            "share": f"{count / total:.1%}",
            "y": 4 + index * row_height,
            "length": max(1, round(bar_width * count / biggest)),
            "colour": _PALETTE[index % len(_PALETTE)],
        }
        for index, (label, count) in enumerate(rows)
    ]
    return {
        "title": title,
        "width": 460,
        "height": row_height * len(rows) + 8,
        "bar_left": 170,
        "bars": bars,
    }


def _findings_by_clause(lineage: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding of every gate run, grouped by the clause it enforces, worst first."""
    by_clause: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for gate in lineage["gate_runs"]:
        for finding in gate["findings"]:
            for clause in finding["clauses"] or ["(no clause)"]:
                by_clause[clause].append(finding)
    order = {"fail": 0, "waived": 1, "warn": 2, "pass": 3}
    sections = []
    for clause in sorted(by_clause):
        findings = sorted(
            by_clause[clause],
            key=lambda f: (order.get(f["status"], 9), f["check"], f["source_id"] or ""),
        )
        counts: dict[str, int] = defaultdict(int)
        for finding in findings:
            counts[finding["status"]] += 1
        summary = ", ".join(
            f"{n} {s}" for s, n in sorted(counts.items(), key=lambda i: order.get(i[0], 9))
        )
        sections.append({"clause": clause, "summary": summary, "findings": findings})
    return sections


def _rate(rate: Any, sampled: Any) -> str:
    if rate is None:
        return "n/a"
    return f"{float(rate):.2%} of {int(sampled or 0):,}"
