"""Finding violations: filters, sorting and paging, for the API, the page and the CLI alike.

One query object and one function, so ``GET /api/v1/violations?...``, the Governance page's
filter form and any script ask the same question the same way. The registry is read once
and filtered here: registries hold thousands of violations, not millions (Art. 13/15
complaints), and the SLA state a filter may ask for is computed, not stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    from trainguard.violations.registry import Registry, Violation

SORT_KEYS = ("deadline", "reported_at", "updated_at", "status", "kind", "owner", "id")
MAX_PAGE = 500


@dataclass(frozen=True)
class ViolationQuery:
    status: str | None = None
    kind: str | None = None
    open_only: bool = False
    owner: str | None = None
    model: str | None = None  # model name, or name/version
    text: str | None = None  # in the id, summary or owner, case-insensitive
    due_within_days: int | None = None  # open ones whose deadline is this close (or past)
    overdue: bool = False  # open ones past their deadline
    sort: str = "deadline"  # a SORT_KEYS name; "-deadline" sorts descending
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.sort.removeprefix("-") not in SORT_KEYS:
            raise ContractError(
                f"cannot sort by '{self.sort}'",
                field="sort",
                expected=f"one of {', '.join(SORT_KEYS)}, optionally with a leading '-'",
            )
        if not 1 <= self.limit <= MAX_PAGE:
            raise ContractError("page size out of range", field="limit", expected=f"1..{MAX_PAGE}")
        if self.offset < 0:
            raise ContractError("negative offset", field="offset", expected="0 or more")


@dataclass(frozen=True)
class ViolationPage:
    violations: list[Violation]
    total: int  # matching violations, before paging


def search(
    registry: Registry, query: ViolationQuery, now: dt.datetime | None = None
) -> ViolationPage:
    now = now or dt.datetime.now(dt.UTC)
    found = registry.list(status=query.status, kind=query.kind, open_only=query.open_only)
    found = [v for v in found if _matches(v, query, now)]
    key = query.sort.removeprefix("-")
    found.sort(key=lambda v: (str(getattr(v, key)), v.id), reverse=query.sort.startswith("-"))
    return ViolationPage(found[query.offset : query.offset + query.limit], len(found))


def _matches(violation: Violation, query: ViolationQuery, now: dt.datetime) -> bool:
    if query.owner and violation.owner != query.owner:
        return False
    if query.model:
        name, _, version = query.model.partition("/")
        if violation.model_name != name or (version and violation.model_version != version):
            return False
    if query.text:
        needle = query.text.casefold()
        haystack = f"{violation.id} {violation.summary} {violation.owner}".casefold()
        if needle not in haystack:
            return False
    if query.overdue and not (violation.open and violation.deadline <= now):
        return False
    if query.due_within_days is not None:
        horizon = now + dt.timedelta(days=query.due_within_days)
        if not (violation.open and violation.deadline <= horizon):
            return False
    return True
