"""Policy profiles and deviations: duties that cannot be waived or loosened away."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ContractError, PolicyError
from trainguard.findings import Finding, GateReport, Status
from trainguard.gate.decide import evaluate
from trainguard.gate.waivers import WaiverStore, apply_waivers
from trainguard.policy import load_policy

from dataset_factory import default_records, default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

NOW = dt.datetime.now(dt.UTC)


def policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_profile_is_development_without_deviations() -> None:
    """The shipped defaults are the standard: nothing to list, profile development."""
    policy = load_policy()
    assert policy.governance() == {"profile": "development", "deviations": []}
    assert policy.to_dict()["profile"] == "development"


def test_a_looser_threshold_needs_a_listed_deviation(tmp_path: Path) -> None:
    """harmful.max_rate 0.08 > 0.05 (C) is refused unless listed, naming the standard."""
    with pytest.raises(PolicyError) as refused:
        load_policy(policy_file(tmp_path, "harmful: {max_rate: 0.08}\n"))
    message = str(refused.value)
    assert "'harmful.max_rate' = 0.08 is looser than the standard's 0.05" in message
    assert "Art. 7; TC260-003 5.1 a, certainty C" in message and "deviations:" in message


def test_a_listed_deviation_loads_and_travels_with_its_reason(tmp_path: Path) -> None:
    """Listed with a reason, the looser value loads; the deviation names value and standard."""
    policy = load_policy(
        policy_file(
            tmp_path,
            "harmful: {max_rate: 0.08}\nkeywords: {min_terms: 5000}\n"
            "deviations:\n"
            "  - {setting: harmful.max_rate, value: 0.08, reason: 'pilot corpus, CTO approved'}\n"
            "  - {setting: keywords.min_terms, value: 5000, reason: lexicon being extended}\n",
        )
    )
    deviations = {d["setting"]: d for d in policy.governance()["deviations"]}
    assert deviations["harmful.max_rate"]["standard"] == 0.05
    assert deviations["harmful.max_rate"]["reason"] == "pilot corpus, CTO approved"
    assert deviations["keywords.min_terms"]["certainty"] == "S"
    assert policy.digest != load_policy().digest


@pytest.mark.parametrize(
    ("setting", "yaml_value"),
    [
        ("personal_info.uncovered", "warn"),  # fail -> warn
        ("corpus.manual_review_required", "false"),  # true -> false
        ("corpus.manual_pass_rate", "0.9"),  # lower is looser
        ("violations.fix_deadline_days", "120"),  # higher is looser
        ("personal_info.sensitive_kinds", "[resident_id]"),  # fewer kinds
    ],
)
def test_every_direction_of_looser_is_caught(tmp_path: Path, setting: str, yaml_value: str) -> None:
    """Each kind of loosening (higher, lower, warn, false, fewer) must be listed."""
    section, key = setting.split(".")
    with pytest.raises(PolicyError, match=rf"'{setting}' = .* is looser than the standard"):
        load_policy(policy_file(tmp_path, f"{section}: {{{key}: {yaml_value}}}\n"))


def test_stricter_values_need_no_deviation(tmp_path: Path) -> None:
    """Tightening is always allowed, under either profile."""
    text = "harmful: {max_rate: 0.02}\ncorpus: {manual_sample_size: 8000}\n"
    assert load_policy(policy_file(tmp_path, text)).deviations == ()
    assert load_policy(policy_file(tmp_path, "profile: filing\n" + text)).profile == "filing"


def test_stale_or_needless_deviations_are_errors(tmp_path: Path) -> None:
    """A deviation must match the value set, and name a setting that is actually looser."""
    stale = (
        "harmful: {max_rate: 0.08}\n"
        "deviations: [{setting: harmful.max_rate, value: 0.07, reason: old figure}]\n"
    )
    with pytest.raises(PolicyError, match=re.escape("lists value 0.07 but the policy sets 0.08")):
        load_policy(policy_file(tmp_path, stale))
    needless = "deviations: [{setting: harmful.max_rate, value: 0.05, reason: none}]\n"
    with pytest.raises(PolicyError, match=re.escape("'harmful.max_rate' is not looser")):
        load_policy(policy_file(tmp_path, needless))
    with pytest.raises(PolicyError, match="needs a reason"):
        load_policy(
            policy_file(
                tmp_path,
                "harmful: {max_rate: 0.08}\n"
                "deviations: [{setting: harmful.max_rate, value: 0.08, reason: ''}]\n",
            )
        )
    with pytest.raises(PolicyError, match="entry 1: expected exactly the keys"):
        load_policy(policy_file(tmp_path, "deviations: [{setting: harmful.max_rate}]\n"))


def test_filing_refuses_looser_than_confirmed_even_with_a_reason(tmp_path: Path) -> None:
    """Under filing a C value cannot be loosened at all; an S value can, with a reason."""
    text = (
        "profile: filing\nharmful: {max_rate: 0.08}\n"
        "deviations: [{setting: harmful.max_rate, value: 0.08, reason: pilot}]\n"
    )
    with pytest.raises(
        PolicyError, match=re.escape("profile filing refuses 'harmful.max_rate' = 0.08")
    ):
        load_policy(policy_file(tmp_path, text))
    secondary = (
        "profile: filing\nkeywords: {min_terms: 5000}\n"
        "deviations: [{setting: keywords.min_terms, value: 5000, reason: growing}]\n"
    )
    assert load_policy(policy_file(tmp_path, secondary)).deviations[0].certainty == "S"
    with pytest.raises(PolicyError, match="'profile' is 'production'; expected one of"):
        load_policy(policy_file(tmp_path, "profile: production\n"))


def _finding(check: str, verdict: str | None = None) -> Finding:
    return Finding(
        check,
        ("clause",),
        Status.FAIL,
        "failed",
        source_id="wiki",
        threshold={"verdict": verdict} if verdict else None,
    )


@pytest.mark.parametrize(
    ("check", "verdict", "waivable_when_filing"),
    [
        ("pi.consent", None, False),
        ("harmful.rate", None, False),
        ("source.licence", "denied", False),  # a forbidden licence
        ("source.licence", "unknown", True),  # unlisted: a reviewer may still decide
        ("quality.truncated", None, True),
    ],
)
def test_filing_refuses_waivers_of_non_waivable_duties(
    tmp_path: Path, check: str, verdict: str | None, waivable_when_filing: bool
) -> None:
    """The same waiver excuses the finding under development and not under filing."""
    store = WaiverStore(tmp_path / "waivers.jsonl")
    store.grant(
        check=check,
        approved_by="reviewer-li",
        reason="accepted risk",
        expires_at=NOW + dt.timedelta(days=10),
        max_days=90,
    )
    for profile in ("development", "filing"):
        policy = load_policy(policy_file(tmp_path, f"profile: {profile}\n"))
        report = GateReport("tiny", "sha256:x", 3, findings=[_finding(check, verdict)])
        apply_waivers(report, store.waivers(), policy=policy)
        honoured = profile == "development" or waivable_when_filing
        assert report.findings[0].status is (Status.WAIVED if honoured else Status.FAIL)
        assert bool(report.refused_waivers) is not honoured
        if not honoured:
            assert "filing profile does not allow waiving" in report.refused_waivers[0]["why"]


def test_granting_a_non_waivable_check_under_filing_is_refused(tmp_path: Path) -> None:
    """`waiver add --policy` with a filing policy refuses pi.consent up front (exit 2)."""
    filing = policy_file(tmp_path, "profile: filing\n")
    with pytest.raises(
        ContractError, match=re.escape("filing profile does not allow waiving pi.consent")
    ):
        WaiverStore(tmp_path / "w.jsonl").grant(
            check="pi.consent",
            approved_by="r",
            reason="x",
            expires_at=NOW + dt.timedelta(days=1),
            max_days=90,
            policy=load_policy(filing),
        )
    done = subprocess.run(
        [sys.executable, "-m", "trainguard.cli", "waiver", "add", "--check", "pi.consent",
         "--by", "r", "--reason", "x", "--until", (NOW + dt.timedelta(days=5)).date().isoformat(),
         "--policy", str(filing), "--store", str(tmp_path / "w.jsonl")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "filing profile does not allow waiving pi.consent (Art. 7(3))" in done.stderr


def test_a_filing_gate_refuses_a_consent_waiver_and_fails_lexicon_coverage(
    tmp_path: Path,
) -> None:
    """A real gate run: a phone number without consent, waived. Development honours the
    waiver; filing keeps pi.consent failed, lists the refused waiver, and fails the
    (illustrative, 26-term) lexicon's coverage instead of warning."""
    sources = default_sources()
    sources[0]["contains_personal_info"] = True
    records = default_records()
    records[0] = {**records[0], "text": "请联系王老师，手机138 1234 5678，周一到周五。"}
    dataset = write_dataset(tmp_path / "d", sources=sources, records=records)
    # A ledger that does not cover the number: its only row is someone else's.
    (dataset / "consents.csv").write_text(
        "subject_ref,pi_kind,pi_hmac,purposes,sensitive_consent,granted_at,withdrawn_at\n"
        f"s1,mobile_phone,{'0' * 64},training,false,2025-01-01T00:00:00Z,\n",
        encoding="utf-8",
    )
    store = WaiverStore(tmp_path / "waivers.jsonl")
    store.grant(
        check="pi.consent",
        source_id=records[0]["source_id"],
        approved_by="reviewer-li",
        reason="consent collection in progress",
        expires_at=NOW + dt.timedelta(days=10),
        max_days=90,
    )
    statuses = {}
    for profile in ("development", "filing"):
        policy = load_policy(policy_file(tmp_path, f"profile: {profile}\n"))
        report = evaluate(dataset, policy, waivers=store.waivers())
        statuses[profile] = {
            check: {f.status for f in report.findings if f.check == check}
            for check in ("pi.consent", "keywords.coverage")
        }
        assert report.to_dict()["policy"]["profile"] == profile
        if profile == "filing":
            assert report.refused_waivers[0]["check"] == "pi.consent"
            assert "waiver W-" in report.to_text() and "refused" in report.to_text()
            json.dumps(report.to_dict())  # the refusal is plain JSON in the report
    assert Status.WAIVED in statuses["development"]["pi.consent"]
    assert Status.FAIL in statuses["filing"]["pi.consent"]
    assert Status.FAIL not in statuses["development"]["keywords.coverage"]
    assert Status.WARN in statuses["development"]["keywords.coverage"]
    assert Status.FAIL in statuses["filing"]["keywords.coverage"]


def test_a_non_commercial_service_is_a_fact_not_a_deviation(tmp_path: Path) -> None:
    """service.commercial describes the service; saying false needs no listed reason."""
    policy = load_policy(policy_file(tmp_path, "profile: filing\nservice: {commercial: false}\n"))
    assert policy.service.commercial is False and policy.deviations == ()
