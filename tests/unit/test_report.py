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
    assert '<h3>Art. 7(3) <span class="meta">(1 fail)</span></h3>' in page
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
