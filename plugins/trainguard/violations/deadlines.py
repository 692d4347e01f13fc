"""Deadlines of violations: calendar days (Art. 15 fixes) or working days (Art. 13 requests).

Working days are counted in the policy's time zone and calendar: weekends, the public
holidays and make-up working days of the policy's ``holiday_calendar`` country from the
maintained ``holidays`` library (for China, the State Council's annual schedule), then the
policy's own ``holidays`` (added days off) and ``extra_working_days`` (which override
everything else). A deadline is the end of its last day in that zone, stored as an aware
UTC time, so it survives restarts and reads the same on every machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from trainguard.exceptions import ContractError


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: str
    weekend_days: frozenset[int]
    holidays: frozenset[dt.date]
    extra_working_days: frozenset[dt.date]
    country: str = ""  # ISO 3166 code of the holidays library's calendar; "" = none

    @classmethod
    def from_policy(cls, policy: object) -> WorkingCalendar:
        section = policy.violations  # type: ignore[attr-defined]
        return cls(
            section.timezone,
            frozenset(section.weekend_days),
            frozenset(section.holidays),
            frozenset(section.extra_working_days),
            section.holiday_calendar,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.holidays:
            return False
        if self.country:
            calendar = _country_calendar(self.country)
            is_holiday = day in calendar  # first: a lookup fills the day's year
            if day in calendar.weekend_workdays:  # a make-up working day (调休)
                return True
            if is_holiday:
                return False
        return day.weekday() not in self.weekend_days

    def days_off(self, year: int) -> dict[dt.date, str]:
        """The country's public holidays of ``year`` with their names (for docs and UIs)."""
        if not self.country:
            return {}
        import holidays

        # A calendar of its own: filling a year twice moves observed days twice.
        return dict(holidays.country_holidays(self.country, years=year, observed=True))

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The end of the ``days``-th working day after the local day of ``start``."""
        day = aware(start).astimezone(self.zone).date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            counted += self.is_working_day(day)
        return self.end_of(day)

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The end of the local day ``days`` calendar days after ``start``."""
        return self.end_of(aware(start).astimezone(self.zone).date() + dt.timedelta(days=days))

    def end_of(self, day: dt.date) -> dt.datetime:
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
        return midnight.astimezone(dt.UTC)


@cache
def _country_calendar(country: str) -> Any:
    import holidays

    # observed=True: a holiday on a weekend moves as the schedule moves it; expand=True
    # fills each year on first use, so deadlines years ahead still count holidays.
    return holidays.country_holidays(country, observed=True, expand=True)


def aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ContractError(
            f"time {moment.isoformat()} has no timezone",
            expected="an aware time (ISO 8601 with an offset)",
        )
    return moment.astimezone(dt.UTC)


def sla_state(
    reported_at: dt.datetime, deadline: dt.datetime, now: dt.datetime, at_risk_fraction: float
) -> str:
    """``on_time``, ``at_risk`` (that share of the time used) or ``overdue``."""
    if now >= deadline:
        return "overdue"
    total = (deadline - reported_at).total_seconds()
    used = (now - reported_at).total_seconds()
    return "at_risk" if total > 0 and used / total >= at_risk_fraction else "on_time"
