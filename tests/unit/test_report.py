"""report.html of the export bundle: rendered from its template, every value escaped."""

from __future__ import annotations

import pytest

from trainguard.export.report import render_report

pytestmark = pytest.mark.unit

HOSTILE = "<script>alert(1)</script>"


def _disclosure(**overrides: object) -> dict[str, object]:
    source = {
        "id": HOSTILE,
        "kind": "open_source",
        "license": "MIT",
        "origin": "domestic",
        "missing_evidence": [],
        "scale": {"records": 12_000, "characters": 50_000},
        "quality": {
            "harmful_rate": 0.0125,
            "harmful_sampled": 4000,
            "pi_found": 2,
            "pi_covered": 1,
        },
    }
    document: dict[str, object] = {
        "model": {"name": "m", "version": "3", "registered_at": "2026-01-01"},
        "regulation": "Measures",
        "provider": "ACME",
        "foundational_algorithm": {
            "training_run_id": "r1",
            "trained_from": "a",
            "trained_until": "b",
            "model_class": "x.Y",
            "hyperparameters": {"k": 5},
            "libraries": {"mlflow": "3"},
        },
        "gate_decisions": [],
        "annotation": None,
        "waivers": [],
        "violations": [],
        "datasets": [
            {
                "name": "pre",
                "version": {"path": "d", "git_rev": "clean", "git_commit": "c", "dvc_md5": "m"},
                "scale": {"records": 12_000},
                "personal_information": {
                    "values_found": 2,
                    "found_by_kind": {"email": 1, "resident_id": 1},
                    "sensitive_kinds": ["bank_card", "resident_id"],
                    "sensitive_kinds_found": ["resident_id"],
                    "values_without_consent": 1,
                    "sources_with_consent_waived": [],
                },
                "sources": [source],
                "type": {
                    "stage": "pretraining",
                    "languages_declared": ["zh"],
                    "records_by_detected_language": {"zh": 12_000},
                },
            }
        ],
    }
    document.update(overrides)
    return document


def _lineage(message: str) -> dict[str, object]:
    return {
        "model": {"uri": "models:/m/3", "registered_at": "2026-01-01"},
        "gate_runs": [
            {
                "run_id": "g",
                "decision": "fail",
                "findings": [
                    {
                        "check": "pi.consent",
                        "status": "fail",
                        "source_id": "s",
                        "clauses": ["Art. 7(3)"],
                        "message": message,
                    }
                ],
            }
        ],
    }


def test_hostile_values_are_escaped_everywhere() -> None:
    """A source id, a finding message and a provider that carry markup stay inert text."""
    page = render_report(_lineage(HOSTILE), _disclosure(provider=HOSTILE))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_numbers_charts_and_sections_are_rendered() -> None:
    """Scale with thousands separators, an SVG bar per source, rates with their sample."""
    page = render_report(_lineage("3 values without consent"), _disclosure())
    assert "12,000 records" in page and "1.25% of 4,000" in page
    assert page.count("<svg") == 3 and "12,000 (100.0%)" in page
    assert '<h3>Art. 7(3) <span class="meta">(1 FAIL)</span></h3>' in page
    assert "No annotated data (pre-training)." in page and page.endswith("</body></html>\n")
    assert (
        "Personal information: 2 value(s) found (email 1, resident_id 1); sensitive: "
        "resident_id; 1 without valid consent." in page
    )


def test_the_report_opens_with_an_attestation_an_auditor_can_check() -> None:
    """Version, what was checked, outcome, who and when, key id, the evidence digest and
    the commands to verify with sha256sum and openssl; failed findings before anything."""
    attestation = {
        "exported_by": HOSTILE,
        "exported_at": "2026-12-05T08:00:00+00:00",
        "algorithm": "ed25519",
        "key_id": "0650ce3b83a47090",
        "evidence_sha256": "ab" * 32,
        "evidence_files": ["checks.csv", "disclosure.json"],
    }
    page = render_report(_lineage("3 values without consent"), _disclosure(), attestation)
    head = page[: page.index("<h2>Gate decisions</h2>")]
    assert "<h2>Attestation</h2>" in head and "models:/m/3" in head
    assert "1 checks in 1 gate run(s) against 1 clauses (Art. 7(3))" in head
    assert "not admitted: a gate did not pass; not assessed for release" in head
    assert "0650ce3b83a47090" in head and "ab" * 32 in head
    assert "openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin" in head
    assert "sha256sum -c MANIFEST.sha256" in head
    assert HOSTILE not in page and "&lt;script&gt;" in head  # who exported it, escaped
    attention = head.index("Needs attention")
    assert head.index("3 values without consent", attention) > attention


def test_the_report_speaks_chinese_with_official_clause_titles() -> None:
    """report.html in Chinese: the attestation and the findings an auditor signs off on,
    clauses under the Measures' official title, a finding rendered from its template."""
    from trainguard.i18n import Text

    lineage = _lineage("English only")
    finding = lineage["gate_runs"][0]["findings"][0]  # type: ignore[index]
    finding["text"] = Text(
        "{uncovered:,} personal-information value(s) without valid consent ({kinds}); "
        "{covered:,} covered",
        {"uncovered": 3, "kinds": "phone", "covered": 1200},
    ).to_dict()
    page = render_report(lineage, _disclosure(), {"exported_by": "审计员"}, language="zh")
    head = page[: page.index("<h2>闸门结论</h2>")]
    assert page.startswith('<!DOCTYPE html><html lang="zh">')
    assert "<h2>证明</h2>" in head and "<h2>需关注：未通过及已豁免的检查结果</h2>" in head
    assert "未准入：有闸门未通过；未进行发布前评估" in head
    assert "1 个条款（Art. 7(3)）" in head  # the clause list of the attestation, as recorded
    assert "<td>《办法》第七条第（三）项</td>" in head
    assert "3 个个人信息值未取得有效同意（phone）；1,200 个已取得同意" in head
    assert "English only" not in page  # the message came from its template
    assert '<h3>《办法》第七条第（三）项 <span class="meta">(1 未通过)</span></h3>' in page
    assert "《办法》指《生成式人工智能服务管理办法（征求意见稿）》" in page
    english = render_report(lineage, _disclosure(), {"exported_by": "auditor"})
    assert "English only" in english and "<h2>Attestation</h2>" in english
