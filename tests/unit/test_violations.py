"""The violation registry on SQLite: deadlines, lifecycle, hash chain, filter, CLI."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from trainguard.exceptions import ContractError, PolicyError
from trainguard.policy import load_policy
from trainguard.violations import Registry, WorkingCalendar
from trainguard.violations.filtering import OutputFilter, triage_and_filter
from trainguard.violations.intake import intake_subject

pytestmark = pytest.mark.unit

SHANGHAI_MONDAY_NOON = dt.datetime(2026, 9, 28, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai
PHONE = "13987654321"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'violations.db'}")


def report(registry: Registry, kind: str = "pi_request", **overrides: object) -> object:
    subjects = {
        "pi_request": intake_subject("pi_request", pi=[("mobile_phone", PHONE)]),
        "harmful_output": intake_subject(
            "harmful_output", prompt="p", output="a harmful answer in full"
        ),
    }
    values = {
        "kind": kind,
        "summary": "reported by a user",
        "subject": subjects[kind],
        "reported_by": "cs-wang",
        "owner": "privacy",
        "policy": load_policy(None),
    }
    values.update(overrides)
    return registry.report(**values)  # type: ignore[arg-type]


def test_working_days_skip_weekends_and_holidays_and_count_make_up_days() -> None:
    calendar = WorkingCalendar(
        "Asia/Shanghai",
        frozenset({5, 6}),
        frozenset({dt.date(2026, 10, d) for d in range(1, 8)}),
        frozenset({dt.date(2026, 10, 10)}),
    )
    deadline = calendar.add_working_days(SHANGHAI_MONDAY_NOON, 15)
    # Tue 29, Wed 30 Sep (2); Oct 1-7 holiday; Thu 8, Fri 9, Sat 10 make-up (5);
    # 12-16 (10); 19-23 (15): the end of Fri 23 Oct in Shanghai.
    assert deadline == dt.datetime(2026, 10, 23, 16, 0, tzinfo=dt.UTC)
    assert calendar.add_days(SHANGHAI_MONDAY_NOON, 90) == dt.datetime(
        2026, 12, 27, 16, 0, tzinfo=dt.UTC
    )


# The State Council General Office's notice of the 2026 holidays (gov.cn/zhengce/content/
# 202511/content_7047090.htm, Nov. 2025), copied by hand: the
# days off of each holiday and the weekend days worked in exchange (调休上班).
STATE_COUNCIL_2026_DAYS_OFF = {
    "New Year": ("2026-01-01", "2026-01-03"),
    "Spring Festival": ("2026-02-15", "2026-02-23"),
    "Qingming": ("2026-04-04", "2026-04-06"),
    "Labour Day": ("2026-05-01", "2026-05-05"),
    "Dragon Boat": ("2026-06-19", "2026-06-21"),
    "Mid-Autumn": ("2026-09-25", "2026-09-27"),
    "National Day": ("2026-10-01", "2026-10-07"),
}
STATE_COUNCIL_2026_MAKE_UP_DAYS = (
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
)  # fmt: skip


def test_the_default_calendar_is_the_state_councils_schedule() -> None:
    """Every day off and every make-up working day of the 2026 notice, as the policy's
    default calendar counts them (the holidays library, not a list we maintain)."""
    calendar = WorkingCalendar.from_policy(load_policy(None))
    for name, (first, last) in STATE_COUNCIL_2026_DAYS_OFF.items():
        day = dt.date.fromisoformat(first)
        while day <= dt.date.fromisoformat(last):
            assert not calendar.is_working_day(day), f"{name}: {day} should be a day off"
            day += dt.timedelta(days=1)
    for made_up in STATE_COUNCIL_2026_MAKE_UP_DAYS:
        assert calendar.is_working_day(dt.date.fromisoformat(made_up)), made_up
    assert calendar.is_working_day(dt.date(2026, 10, 8))  # an ordinary Thursday
    assert not calendar.is_working_day(dt.date(2026, 10, 11))  # an ordinary Sunday
    assert "National Day" in calendar.days_off(2026)[dt.date(2026, 10, 1)]


def test_the_policy_adds_days_off_and_overrides_the_calendar(tmp_path: Path) -> None:
    """Policy holidays add days off; extra working days win over the library; an empty
    calendar counts weekends only; an unknown country is a policy error naming it."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "violations:\n  holidays: ['2026-10-08']\n  extra_working_days: ['2026-10-07']\n",
        encoding="utf-8",
    )
    calendar = WorkingCalendar.from_policy(load_policy(policy))
    assert not calendar.is_working_day(dt.date(2026, 10, 8))
    assert calendar.is_working_day(dt.date(2026, 10, 7))
    policy.write_text("violations:\n  holiday_calendar: ''\n", encoding="utf-8")
    weekends_only = WorkingCalendar.from_policy(load_policy(policy))
    assert weekends_only.is_working_day(dt.date(2026, 10, 1))
    assert not weekends_only.is_working_day(dt.date(2026, 10, 10))
    policy.write_text("violations:\n  holiday_calendar: XX\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"holiday_calendar.*'XX' is not a country"):
        load_policy(policy)


def test_deadline_follows_the_kind_and_the_policy(registry: Registry) -> None:
    pi = report(registry, reported_at=SHANGHAI_MONDAY_NOON)
    harmful = report(registry, "harmful_output", reported_at=SHANGHAI_MONDAY_NOON)
    assert pi.clause == "Art. 13" and harmful.clause == "Art. 15 (draft)"  # type: ignore[attr-defined]
    # The default calendar is China's (the holidays library): the National Day week is off
    # and Sat 10 Oct a make-up day, so the 15th working day is Fri 23 Oct, as above.
    assert pi.deadline == dt.datetime(2026, 10, 23, 16, 0, tzinfo=dt.UTC)  # type: ignore[attr-defined]
    assert harmful.deadline == dt.datetime(2026, 12, 27, 16, 0, tzinfo=dt.UTC)  # type: ignore[attr-defined]


def test_lifecycle_moves_forward_and_refuses_skips(registry: Registry) -> None:
    violation = report(registry)
    vid = violation.id  # type: ignore[attr-defined]
    with pytest.raises(ContractError, match="cannot move to closed"):
        registry.transition(vid, "closed", actor="lead")
    with pytest.raises(ContractError, match="needs a reason"):
        registry.transition(vid, "rejected", actor="lead")
    triage_and_filter(registry, vid, actor="lead")
    for status in ("remediating", "verified", "closed"):
        registry.transition(vid, status, actor="bot", evidence={status: "ok"})
    closed = registry.get(vid)
    assert closed.status == "closed" and closed.closed_at is not None
    assert closed.evidence == {"remediating": "ok", "verified": "ok", "closed": "ok"}
    history = [(e["from_status"], e["to_status"]) for e in registry.events(vid)]
    assert history == [
        (None, "reported"),
        ("reported", "triaged"),
        ("triaged", "filtered"),
        ("filtered", "remediating"),
        ("remediating", "verified"),
        ("verified", "closed"),
    ]
    assert registry.audit() == []


def tamper(registry: Registry, sql: str) -> None:
    path = registry.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE tg_violation_events SET actor = 'mallory' WHERE seq = 2", "event 2 (V-"),
        ("DELETE FROM tg_violation_events WHERE seq = 2", "event 2: missing"),
        (
            (
                "DELETE FROM tg_violation_events "
                "WHERE seq = (SELECT MAX(seq) FROM tg_violation_events)"
            ),
            "chain head names event",
        ),
        ("UPDATE tg_violations SET status = 'closed'", "is not what its events say"),
    ],
)
def test_audit_detects_changed_and_deleted_events(
    registry: Registry, sql: str, expected: str
) -> None:
    for _ in range(2):
        triage_and_filter(registry, report(registry).id, actor="lead")  # type: ignore[attr-defined]
    assert registry.audit() == []
    tamper(registry, sql)
    problems = registry.audit()
    assert any(expected in p for p in problems), problems


def _file_reports(url: str, count: int) -> list[str]:
    registry = Registry(url)
    return [report(registry).id for _ in range(count)]  # type: ignore[attr-defined]


def test_concurrent_reports_on_sqlite_are_all_kept_in_one_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'violations.db'}"
    with ProcessPoolExecutor(max_workers=4) as pool:
        ids = [i for batch in pool.map(_file_reports, [url] * 4, [10] * 4) for i in batch]
    registry = Registry(url)
    assert len(set(ids)) == 40 and len(registry.list()) == 40
    assert [e["seq"] for e in registry.events()] == list(range(1, 41))
    assert registry.audit() == []


def test_the_filter_blocks_reported_content_at_once(registry: Registry) -> None:
    harmful = report(
        registry,
        "harmful_output",
        subject=intake_subject(
            "harmful_output",
            prompt="how do I hurt someone",
            output="First, find out where they live and wait for them at night.",
        ),
    )
    pi = report(registry)
    work_text = "The lantern keeper climbed the spiral stair every evening at dusk. " * 5
    work = registry.report(
        kind="ip_complaint",
        summary="takedown",
        reported_by="legal",
        owner="legal",
        policy=load_policy(None),
        subject=intake_subject("ip_complaint", work_id="W-1", work_text=work_text),
    )
    output_filter = OutputFilter(registry)
    assert output_filter.check_output("First, find out where they live").allowed  # not yet
    for violation in (harmful, pi, work):
        triage_and_filter(registry, violation.id, actor="lead")  # type: ignore[attr-defined]
    output_filter.refresh()
    verdict = output_filter.check_output(
        "Sure. First, find out where they live and wait for them at night."
    )
    assert not verdict.allowed and verdict.violations == (harmful.id,)  # type: ignore[attr-defined]
    assert not output_filter.check_output(
        "FIRST, find out where they live and wait for them at  night"
    ).allowed  # case, spacing
    phone = output_filter.check_output("Her number is +86 139-8765-4321.")
    assert phone.violations == (pi.id,) and "mobile_phone" in phone.reasons[0]  # type: ignore[attr-defined]
    copied = output_filter.check_output(
        "the lantern keeper climbed the spiral stair every evening at dusk."
    )
    assert copied.violations == (work.id,)
    assert output_filter.check_output("The weather is fine today.").allowed


def test_no_raw_pi_is_stored(registry: Registry) -> None:
    triage_and_filter(
        registry,
        report(
            registry,
            "harmful_output",
            subject=intake_subject(
                "harmful_output", prompt=f"call {PHONE}", output=f"ok, {PHONE} is hers"
            ),
        ).id,
        actor="lead",
    )
    triage_and_filter(registry, report(registry).id, actor="lead")  # type: ignore[attr-defined]
    stored = Path(registry.url.removeprefix("sqlite:///")).read_bytes()
    for suffix in ("-wal",):
        wal = Path(registry.url.removeprefix("sqlite:///") + suffix)
        stored += wal.read_bytes() if wal.exists() else b""
    assert PHONE.encode() not in stored and b"[mobile_phone]" in stored


def trainguard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


# Issue 18, item 4: tampering by someone who can write the database, but holds no key.


def _rehash_chain_without_the_key(registry: Registry) -> None:
    """What a database writer can do to an unkeyed chain: recompute every hash."""
    from trainguard.violations.registry import _unkeyed_hash

    path = registry.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        previous = "0" * 64
        rows = connection.execute("SELECT * FROM tg_violation_events ORDER BY seq").fetchall()
        for row in rows:
            event = dict(row)
            digest = _unkeyed_hash(previous, event)
            connection.execute(
                "UPDATE tg_violation_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                (previous, digest, event["seq"]),
            )
            previous = digest
        connection.execute("UPDATE tg_chain_head SET hash = ?", (previous,))


def test_a_rewritten_event_rehashed_without_the_key_is_caught(registry: Registry) -> None:
    vid = report(registry).id  # type: ignore[attr-defined]
    triage_and_filter(registry, vid, actor="lead")
    tamper(registry, "UPDATE tg_violation_events SET actor = 'mallory' WHERE seq = 2")
    _rehash_chain_without_the_key(registry)
    problems = registry.audit()
    assert any("content changed after it was written" in p for p in problems), problems


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE tg_violations SET deadline = '2099-12-31 00:00:00.000000'",
            "stored deadline '2099-12-31T00:00:00.000000+00:00' is not what its events say",
        ),
        ("UPDATE tg_violations SET summary = 'nothing to see'", "stored summary is not"),
        ("UPDATE tg_violations SET subject = '{}'", "stored subject is not"),
        ("UPDATE tg_violations SET owner = 'nobody'", "stored owner 'nobody' is not"),
        ('UPDATE tg_violations SET evidence = \'{"fixed": "yes"}\'', "stored evidence is not"),
        ("UPDATE tg_violations SET kind = 'harmful_output'", "stored kind 'harmful_output'"),
        ("UPDATE tg_violations SET sla_alerted = 'overdue'", "stored sla_alerted 'overdue'"),
        ("UPDATE tg_filter_entries SET active = 0", "output-filter entries"),
        ("DELETE FROM tg_filter_entries", "output-filter entries"),
        ("UPDATE tg_filter_entries SET value = 'ab'", "output-filter entries"),
    ],
)
def test_the_audit_recomputes_each_stored_field_from_the_events(
    registry: Registry, sql: str, expected: str
) -> None:
    vid = report(registry).id  # type: ignore[attr-defined]
    triage_and_filter(registry, vid, actor="lead")
    assert registry.audit() == []
    tamper(registry, sql)
    problems = registry.audit()
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(f"{vid}: ") for p in problems), problems


def test_a_chain_written_before_it_was_keyed_is_keyed_once_on_purpose(
    registry: Registry,
) -> None:
    """An older registry's unkeyed chain is reported until `violations rekey`, which keys
    it only if it verifies; rehashing the whole chain without the key is no way round."""
    from trainguard.exceptions import RegistryError

    vid = report(registry).id  # type: ignore[attr-defined]
    triage_and_filter(registry, vid, actor="lead")
    _rehash_chain_without_the_key(registry)  # as a release before the key wrote it
    assert any("its hash is not the audit key's" in p for p in registry.audit())
    assert registry.rekey_unkeyed_chain() == 3
    assert registry.audit() == []
    assert registry.rekey_unkeyed_chain() == 0  # already keyed

    _rehash_chain_without_the_key(registry)
    tamper(registry, "UPDATE tg_violation_events SET actor = 'mallory' WHERE seq = 1")
    with pytest.raises(RegistryError, match="does not verify as an unkeyed chain"):
        registry.rekey_unkeyed_chain()


def test_a_model_version_given_as_a_number_audits_clean(registry: Registry) -> None:
    """The row stores the version as text; the reported event must say the same."""
    report(registry, model_name="m", model_version=2)
    assert registry.audit() == []
