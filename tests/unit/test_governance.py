"""The Governance page's HTML, export jobs on disk, and the API's PI-free error bodies."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest

from trainguard.api.export_jobs import ExportJobs
from trainguard.api.page import render
from trainguard.exceptions import ContractError, ExportError, LineageError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def _violation(**overrides: object) -> dict[str, object]:
    return {
        "id": "V-20261001-0000abcd",
        "kind": "ip_complaint",
        "clause": "Art. 13",
        "status": "reported",
        "model_name": None,
        "model_version": None,
        "owner": "legal",
        "deadline": "2026-10-21T16:00:00+00:00",
        "sla": "overdue",
        "time_left_hours": -917.4,
        "summary": "takedown",
        **overrides,
    }


def _page(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "user": "auditor",
        "roles": ["viewer"],
        "can_export": True,
        "can_review": False,
        "gates": [],
        "models": [],
        "violations": [_violation()],
        "sources": [],
        "exports": [],
        "mlflow_ui": "http://mlflow",
        "errors": [],
    }
    return render(**{**arguments, **overrides})  # type: ignore[arg-type]


def test_overdue_violations_stand_out_with_time_left() -> None:
    page = _page()
    row = next(line for line in page.splitlines() if "data-violation=" in line)
    assert "class='overdue'" in row and "OVERDUE" in row and "-38.2 days" in row


def test_every_value_is_escaped() -> None:
    page = _page(
        violations=[_violation(summary="<script>alert(1)</script>", owner="a'onmouseover='x")],
        user="<b>x</b>",
    )
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Jinja2 writes ' as &#39; (html.escape wrote &#x27;): the same character, still inert.
    assert "a&#39;onmouseover=&#39;x" in page and "<b>x</b>" not in page
    assert "onmouseover='" not in page


def test_reviewers_get_the_allowed_moves_and_auditors_the_export_button() -> None:
    model = {
        "name": "m",
        "version": "3",
        "registered_at": None,
        "gate_run_ids": ["a" * 32],
        "fixes_violations": [],
        "dataset": {"path": "d", "rev": "r"},
    }
    reviewer = _page(can_review=True, can_export=False, models=[model])
    auditor = _page(models=[model])

    def row(page: str) -> str:  # the violation's row (the filter form has selects too)
        return next(line for line in page.splitlines() if "data-violation=" in line)

    assert "<option>triaged</option><option>rejected</option>" in row(reviewer)
    assert "<option>closed</option>" not in row(reviewer)  # not allowed from "reported"
    assert "Export bundle" not in reviewer and "auditors only" in reviewer
    assert "Export bundle" in auditor and "<select" not in row(auditor)


def test_the_violation_filters_keep_their_values_and_page_on() -> None:
    """The GET form shows the filters in force; "Next" carries them to the next page."""
    page = _page(
        violation_filters={"show": "all", "status": "", "q": "take<down", "sort": "-reported_at"},
        violation_count={"total": 120, "offset": 50, "limit": 50},
    )
    assert "<h2 id='violations'>Violations (120)" in page
    assert "<option value='all' selected>all, closed included</option>" in page
    assert "value='take&lt;down'" in page  # escaped
    assert "offset=100#violations" in page and "q=take%3Cdown" in page
    assert "Due this week" in page


def test_a_running_export_reloads_the_page_until_it_is_done() -> None:
    job = {
        "id": "0" * 16,
        "state": "running",
        "requested_at": "2026-11-28T10:00:00+00:00",
        "model_name": "m",
        "model_version": "1",
        "requested_by": "auditor",
    }
    page = _page(exports=[job])
    # An explicit URL: a bare refresh of ".../ui/#exports" would only scroll to the anchor.
    assert "<meta http-equiv='refresh' content='5; url=./'>" in page
    assert "http-equiv='refresh'" not in _page(
        exports=[{**job, "state": "failed", "error": "no key"}]
    )


def test_export_jobs_live_on_disk_and_record_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("TRAINGUARD_EXPORT_KEY", "TRAINGUARD_EXPORT_SIGNING_KEY"):
        monkeypatch.delenv(key, raising=False)
    jobs = ExportJobs(tmp_path / "jobs")
    job = jobs.start("model", "2", requested_by="auditor")
    assert ExportJobs(tmp_path / "jobs").get(job["id"])["state"] == "queued"  # any process
    finished = jobs.run(job["id"])  # no signing key configured: fails, never raises
    assert finished["state"] == "failed" and "TRAINGUARD_EXPORT" in finished["error"]
    assert jobs.list()[0]["id"] == job["id"]
    with pytest.raises(ExportError, match="is failed, not done"):
        jobs.archive(job["id"])
    with pytest.raises(ContractError, match="not an export job id"):
        jobs.get("../../etc")
    with pytest.raises(LineageError, match="no export job"):
        jobs.get("f" * 16)


def test_an_export_cut_off_by_a_restart_reads_as_failed(tmp_path: Path) -> None:
    jobs = ExportJobs(tmp_path)
    job = jobs.start("model", "1", requested_by="auditor")
    path = tmp_path / job["id"] / "job.json"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    path.write_text(
        json.dumps({**job, "state": "running", "requested_at": old.isoformat(timespec="seconds")})
    )
    assert jobs.get(job["id"])["state"] == "failed"
    assert "interrupted" in jobs.get(job["id"])["error"]


def test_validation_errors_never_carry_the_value_back() -> None:
    from trainguard.api.app import _field_errors

    phone = "13912345678"
    errors = [
        {
            "loc": ("body",),
            "msg": f"Input tag 'call {phone}' found using 'kind' does not "
            "match any of the expected tags",
            "type": "union_tag_invalid",
            "input": {"kind": f"call {phone}"},
            "ctx": {"tag": f"call {phone}", "expected_tags": "'a', 'b'"},
        },
        {
            "loc": ("body", "x", "owner"),
            "msg": "String should match pattern",
            "input": phone,
            "type": "string_pattern_mismatch",
            "ctx": {"pattern": "^x$"},
        },
    ]
    cleaned = _field_errors(errors)
    assert phone not in json.dumps(cleaned)
    assert cleaned[0]["msg"].startswith("Input tag '<the value sent>'")
    assert cleaned[1] == {
        "loc": ["body", "x", "owner"],
        "msg": "String should match pattern",
        "type": "string_pattern_mismatch",
    }


def test_a_dataset_filter_cannot_reach_into_the_mlflow_query() -> None:
    from trainguard.api.views import gate_history

    with pytest.raises(ContractError, match="field 'dataset': not a dataset path"):
        gate_history(dataset="x' or tags.`trainguard.kind` = 'gate")


def _gate(run_id: str, decision: str, started: str, **overrides: object) -> dict[str, object]:
    return {
        "run_id": run_id,
        "experiment_id": "1",
        "started_at": started,
        "stage": "pretraining",
        "decision": decision,
        "dataset": {"path": "datasets/pre", "rev": "v1", "commit": "c" * 40, "md5": "m" * 32},
        "failed_checks": ["pi.consent"] if decision == "fail" else [],
        "failed_clauses": ["Art. 7(3)"] if decision == "fail" else [],
        "waivers": [],
        "models": [],
        "data_docs": True,
        **overrides,
    }


def test_each_dataset_has_a_gate_history_chart_linking_to_each_run() -> None:
    gates = [
        _gate("b" * 32, "pass", "2026-12-02T10:00:00"),
        _gate("a" * 32, "fail", "2026-12-01T10:00:00"),
    ]
    page = _page(gates=gates)
    chart = page[page.index("<svg") : page.index("</svg>")]
    assert chart.count("<circle") == 2
    # oldest first: the failure, then the pass; each mark links to its run's page
    assert chart.index("a" * 32) < chart.index("b" * 32)
    assert "data-decision='fail'" in chart and "fill='#b00020'" in chart
    assert "<title>v1 2026-12-01T10:00 FAIL: Art. 7(3)</title>" in chart
    assert f"href='gates/{'b' * 32}'" in page


def test_the_gate_page_lists_every_finding_failed_first() -> None:
    from trainguard.api.page import render_gate

    finding = {
        "observed": None,
        "threshold": None,
        "record_ids": [],
        "entity": None,
        "waiver_id": None,
    }
    gate = _gate(
        "a" * 32,
        "fail",
        "2026-12-01T10:00:00",
        findings=[
            {
                **finding,
                "check": "source.licence",
                "status": "pass",
                "clauses": ["Art. 7(1)"],
                "source_id": "wiki",
                "message": "licence CC-BY-4.0 is allowed",
            },
            {
                **finding,
                "check": "pi.consent",
                "status": "fail",
                "clauses": ["Art. 7(3)"],
                "source_id": "<forum>",
                "message": "8 values without consent",
                "record_ids": ["r1", "r2", "r3", "r4"],
            },
        ],
    )
    page = render_gate(gate, "http://mlflow")
    assert page.index("pi.consent") < page.index("source.licence")
    assert "&lt;forum&gt;" in page and "<forum>" not in page
    assert "4 <span class='muted'>(r1, r2, r3, ...)</span>" in page
    assert f"href='{'a' * 32}/data_docs/index.html'" in page
    assert "http://mlflow/#/experiments/1/runs/" + "a" * 32 in page
    assert "<span class='fail'>1 FAIL</span>" in page


def test_the_page_speaks_chinese_and_keeps_a_chosen_language_in_its_links() -> None:
    gates = [_gate("a" * 32, "fail", "2026-12-01T10:00:00")]
    page = _page(gates=gates, language="zh", language_chosen=True)
    assert page.startswith("<!doctype html><html lang='zh'>")
    assert "<h1>治理</h1>" in page and "<h2 id='violations'>未关闭的违规 (1)</h2>" in page
    assert "<td>《办法》第七条第（三）项</td>" in page  # the gate's failed clause
    assert f"href='gates/{'a' * 32}?lang=zh'" in page
    assert "<input type='hidden' name='lang' value='zh'>" in page
    assert ">English</a>" in page  # the way back
    by_browser = _page(gates=gates, language="zh")
    assert f"href='gates/{'a' * 32}'" in by_browser  # Accept-Language keeps choosing
