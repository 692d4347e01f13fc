"""report.html of the provenance bundle: the disclosure for people, printable, no scripts.

Charts are inline SVG (no JavaScript, no fetched assets), so the file reads the same
offline, in a browser's print preview and in ten years. The markup is
``templates/report.html.j2`` (Jinja2, autoescaped); this module prepares the numbers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from trainguard.findings import Status, status_rank
from trainguard.i18n import Text

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;
margin:2em auto;max-width:62em;color:#1d2330;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #d8dde6;padding-bottom:.2em;
margin-top:2em}table{border-collapse:collapse;width:100%;margin:.6em 0}
th,td{border:1px solid #d8dde6;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#16703a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.waived{color:#8a5a00;font-weight:600}.warn{color:#8a5a00}
.meta{color:#5b6475}table.attest th{width:11em}pre{background:#f6f7fa;padding:.6em;overflow-x:auto;
font-size:.85em}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
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


def render_report(
    lineage: dict[str, Any],
    disclosure: dict[str, Any],
    attestation: dict[str, Any] | None = None,
    *,
    language: str = "en",
) -> str:
    from trainguard.templating import language_context

    datasets = []
    for dataset in disclosure["datasets"]:
        by_licence: dict[str, int] = defaultdict(int)
        for source in dataset["sources"]:
            by_licence[source["license"]] += source["scale"]["records"]
        charts = [
            _bar_chart(
                Text("Records by source").render(language),
                {s["id"]: s["scale"]["records"] for s in dataset["sources"]},
            ),
            _bar_chart(
                Text("Records by detected language").render(language),
                dataset["type"]["records_by_detected_language"],
            ),
            _bar_chart(Text("Records by licence").render(language), dict(by_licence)),
        ]
        datasets.append({**dataset, "charts": charts})
    return str(
        _template().render(
            **language_context(language),
            base_chain=lineage.get("base_chain", []),
            style=_STYLE,
            disclosure=disclosure,
            datasets=datasets,
            clauses=_findings_by_clause(lineage),
            assessment=_assessment(lineage),
            attestation=_attestation(lineage, attestation),
            attention=_attention(lineage),
            earlier=lineage.get("earlier_failed_gates", []),
            evidence={
                str(v.get("id")): evidence_lines(v.get("evidence") or {})
                for v in disclosure["violations"]
            },
        )
    )


def _attestation(lineage: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """What the auditor signs off on: the version, what was checked, the outcome, who
    exported it under which key, and how to check all of it without trainguard."""
    given = given or {}
    gates = lineage["gate_runs"]
    findings = [f for gate in gates for f in gate["findings"]]
    assessment = lineage.get("assessment") or {}
    clauses = sorted({c for f in findings for c in f["clauses"]})
    admitted = bool(gates) and all(g.get("decision") == "pass" for g in gates)
    release = assessment.get("decision")
    outcome = Text(
        "{admitted}; {release}",
        {
            "admitted": Text("admitted: every gate passed")
            if admitted
            else Text("not admitted: a gate did not pass"),
            "release": Text("release assessment {decision}", {"decision": Text(release.upper())})
            if release
            else Text("not assessed for release"),
        },
    )
    return {
        **given,
        "model": lineage.get("model", {}),
        "checked": Text(
            "{findings} checks in {gates} gate run(s) against {count} clauses ({clauses})",
            {
                "findings": len(findings),
                "gates": len(gates),
                "count": len(clauses),
                "clauses": ", ".join(clauses[:6]) + (", ..." if len(clauses) > 6 else ""),
            },
        ),
        "outcome": outcome,
        "counts": {
            status: sum(1 for f in findings if f["status"] == status)
            for status in ("fail", "waived", "warn", "pass")
        },
        "verify": verify_commands(given.get("algorithm", "ed25519")),
    }


def verify_commands(algorithm: str) -> list[str]:
    """Checking the bundle with standard tools only (run inside the bundle's folder)."""
    commands = [
        "trainguard export verify . --public-key KEY.pub      # or, without trainguard:",
        "sha256sum -c MANIFEST.sha256                          # every file unchanged",
        "grep -v '  report.html$' MANIFEST.sha256 | sha256sum  # = the evidence sha256 above",
    ]
    if algorithm == "hmac-sha256":
        return [
            *commands,
            (
                'openssl dgst -sha256 -mac HMAC -macopt key:"$TRAINGUARD_EXPORT_KEY" '
                'MANIFEST.sha256   # = "signature" in MANIFEST.sig'
            ),
        ]
    return [
        *commands,
        (
            "openssl pkey -pubin -in KEY.pub -outform DER | tail -c 32 | sha256sum | cut -c1-16"
            "   # = the key id above"
        ),
        (
            'grep -o \'"signature": *"[0-9a-f]*"\' MANIFEST.sig | cut -d\'"\' -f4 | xxd -r -p '
            "> /tmp/MANIFEST.sig.bin"
        ),
        (
            "openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in MANIFEST.sha256 "
            "-sigfile /tmp/MANIFEST.sig.bin   # Signature Verified Successfully"
        ),
    ]


def _attention(lineage: dict[str, Any]) -> list[dict[str, Any]]:
    """Failed and waived findings of every gate run: what a reviewer reads first."""
    rows = [
        {**finding, "gate_run_id": gate["run_id"], "gate_decision": gate.get("decision")}
        for gate in lineage["gate_runs"]
        for finding in gate["findings"]
        if finding["status"] in (Status.FAIL, Status.WAIVED)
    ]
    return sorted(
        rows, key=lambda f: (status_rank(f["status"]), f["check"], f.get("source_id") or "")
    )


def evidence_lines(evidence: dict[str, Any]) -> list[str]:
    """A violation's remediation evidence, a line per step, from the registry's record
    (each a ``Text``: English as a string, any language through ``render``)."""
    lines: list[str] = []
    for key, value in sorted(evidence.items()):
        if not isinstance(value, dict):
            lines.append(f"{key}: {value}")
            continue
        step = key.rsplit(":", 1)[-1]
        if step == "dataset" and "version" in value:
            lines.append(
                Text(
                    "data fixed: {changed} record(s) changed, DVC md5 {before} -> {after}",
                    {
                        "changed": value.get("records_changed", 0),
                        "before": str(value.get("from_md5", ""))[:12],
                        "after": str(value["version"].get("md5"))[:12],
                    },
                )
            )
        elif step == "gate":
            lines.append(
                Text(
                    "gate {decision}: run {run}",
                    {
                        "decision": Text(str(value.get("decision", "")).upper()),
                        "run": value.get("gate_run_id"),
                    },
                )
            )
        elif step == "model":
            lines.append(
                Text(
                    "retrained: {model} (run {run})",
                    {"model": value.get("model_uri"), "run": value.get("run_id")},
                )
            )
        elif step == "probe":
            lines.append(
                Text(
                    "probe {outcome}: {prompts} prompt(s), {violating} violating answer(s) "
                    "(run {run})",
                    {
                        "outcome": Text("passed") if value.get("passed") else Text("FAILED"),
                        "prompts": value.get("prompts_asked", 0),
                        "violating": value.get("answers_violating", 0),
                        "run": value.get("probe_run_id"),
                    },
                )
            )
        elif key == "closed_in_time":
            lines.append(
                Text(
                    "closed {when} (deadline {deadline})",
                    {
                        "when": Text("on time") if value.get("on_time") else Text("LATE"),
                        "deadline": value.get("deadline"),
                    },
                )
            )
    return lines


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
    sections = []
    for clause in sorted(by_clause):
        findings = sorted(
            by_clause[clause],
            key=lambda f: (status_rank(f["status"]), f["check"], f["source_id"] or ""),
        )
        counts: dict[str, int] = defaultdict(int)
        for finding in findings:
            counts[finding["status"]] += 1
        ordered = sorted(counts.items(), key=lambda i: status_rank(i[0]))
        sections.append({"clause": clause, "counts": ordered, "findings": findings})
    return sections


def _rate(rate: Any, sampled: Any) -> Text:
    if rate is None:
        return Text("n/a")
    return Text("{rate:.2%} of {sampled:,}", {"rate": float(rate), "sampled": int(sampled or 0)})
