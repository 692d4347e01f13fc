"""Art. 13, 15: what was removed stays removed.

Every gate screens its records against the violation registry (``violations.filtering.
ReportedContent``): a personal-information value under a deletion request (matched by its
HMAC), a work withdrawn by an IP complaint, an output reported as harmful. Per source,
the records holding any of them; the ``legality_sources`` suite fails on one. So a later
training run on an older dataset revision cannot bring back what a fix removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainguard.checks.base import Measures, Message

if TYPE_CHECKING:
    from trainguard.checks.base import ScanView

CHECKS = {
    "reported.pi_deletion": "Art. 13",
    "reported.withdrawn_work": "Art. 15; Art. 7(2)",
    "reported.harmful_output": "Art. 15",
}
# The kind of registry entry each check counts (violations.filtering.entries_for).
_ENTRY_KIND = {
    "reported.pi_deletion": "pi",
    "reported.withdrawn_work": "work",
    "reported.harmful_output": "output",
}
_COLUMN = {
    "reported.pi_deletion": "reported_pi",
    "reported.withdrawn_work": "reported_works",
    "reported.harmful_output": "reported_outputs",
}


def measure(view: ScanView) -> Measures:
    """Per source and check: the records holding reported content, and which violations."""
    out = Measures(messages=MESSAGES)
    for source_id in sorted(view.dataset.sources):
        rows = view.by_source.get(source_id, [])
        columns: dict[str, object] = {}
        for check, kind in _ENTRY_KIND.items():
            hits = [r for r in rows if any(e["kind"] == kind for e in view.reported[r])]
            violations = sorted(
                {e["violation"] for r in hits for e in view.reported[r] if e["kind"] == kind}
            )
            out.offenders[f"{check}:{source_id}"] = view.ids(hits)
            columns[_COLUMN[check]] = len(hits)
            columns[f"{_COLUMN[check]}_violations"] = ", ".join(violations)
        out.sources[source_id] = columns
    for check, kind in _ENTRY_KIND.items():
        out.metrics[f"{_COLUMN[check]}"] = float(
            sum(1 for entries in view.reported if any(e["kind"] == kind for e in entries))
        )
    return out


MESSAGES: dict[str, Message] = {
    "reported.pi_deletion": lambda row, _: (
        f"{row['reported_pi']} record(s) hold personal information under a deletion request "
        f"({row['reported_pi_violations']}): use the revision that fixed it"
    ),
    "reported.withdrawn_work": lambda row, _: (
        f"{row['reported_works']} record(s) copy a work withdrawn by an IP complaint "
        f"({row['reported_works_violations']}): use the revision that fixed it"
    ),
    "reported.harmful_output": lambda row, _: (
        f"{row['reported_outputs']} record(s) reproduce an output reported as harmful "
        f"({row['reported_outputs_violations']}): use the revision that fixed it"
    ),
}
