"""Source-registry checks on licences and traceability evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.findings import Decision, Status
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def failed(report: object) -> dict[tuple[str, str | None], object]:
    return {(f.check, f.source_id): f for f in report.failed}  # type: ignore[attr-defined]


def test_clean_dataset_passes(tmp_path: Path) -> None:
    """Allowed licences and complete evidence pass the gate."""
    report = evaluate(write_dataset(tmp_path / "d"), load_policy())
    assert report.decision is Decision.PASS
    assert {f.check for f in report.findings} >= {"source.licence", "source.evidence"}


def test_denied_licence_fails_with_clause(tmp_path: Path) -> None:
    """A source under a non-commercial licence fails under Art. 7(2)."""
    sources = default_sources()
    sources[0]["license"] = "CC-BY-NC-SA-4.0"
    report = evaluate(write_dataset(tmp_path / "d", sources=sources), load_policy())
    finding = failed(report)[("source.licence", "wiki")]
    assert report.decision is Decision.FAIL
    assert "Art. 7(2)" in finding.clauses[0]
    assert "non-commercial" in finding.message


def test_unlisted_licence_warns_when_policy_says_warn(tmp_path: Path) -> None:
    """With licenses.unknown = warn, an unlisted licence of no allowed class warns instead
    of failing (SSPL-1.0 is Source-available; Zlib, Permissive, would now be allowed)."""
    sources = default_sources()
    sources[0]["license"] = "SSPL-1.0"
    root = write_dataset(tmp_path / "d", sources=sources)
    assert evaluate(root, load_policy()).decision is Decision.FAIL
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(
        "licenses: {unknown: warn}\n"
        "deviations: [{setting: licenses.unknown, value: warn, reason: reviewed by hand}]\n"
    )
    report = evaluate(root, load_policy(policy_file))
    assert report.decision is Decision.PASS
    assert any(f.status is Status.WARN and f.source_id == "wiki" for f in report.findings)


def test_cited_evidence_file_must_exist(tmp_path: Path) -> None:
    """A crawl log cited but absent, and robots.txt ignored, fail the evidence check."""
    sources = default_sources()
    sources[2]["collection_record"] = "evidence/missing.csv"
    sources[2]["robots_txt_respected"] = False
    report = evaluate(write_dataset(tmp_path / "d", sources=sources), load_policy())
    finding = failed(report)[("source.evidence", "crawl")]
    assert "TC260-003 5.1 c" in finding.clauses[0]
    assert "missing.csv" in finding.message and "robots.txt" in finding.message


def test_contract_hash_must_match(tmp_path: Path) -> None:
    """A commercial contract whose sha256 differs from the registry fails."""
    root = write_dataset(tmp_path / "d")
    (root / "evidence" / "contract.txt").write_text("a different contract\n")
    finding = failed(evaluate(root, load_policy()))[("source.evidence", "books")]
    assert "contract_sha256 does not match" in finding.message


def test_evidence_outside_the_dataset_is_not_accepted(tmp_path: Path) -> None:
    """Evidence must be inside evidence/: a path escaping it does not count."""
    (tmp_path / "outside.csv").write_text("x\n")
    sources = default_sources()
    sources[2]["collection_record"] = "../../outside.csv"
    report = evaluate(write_dataset(tmp_path / "d", sources=sources), load_policy())
    assert ("source.evidence", "crawl") in failed(report)


def test_blocked_source_fails(tmp_path: Path) -> None:
    """A source on the policy's blocked list fails when it has records."""
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("sources: {blocked: [crawl]}\n")
    report = evaluate(write_dataset(tmp_path / "d"), load_policy(policy_file))
    assert failed(report)[("source.blocked", "crawl")].observed == 10
