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
from trainguard.i18n import Text

if TYPE_CHECKING:
    from trainguard.checks.base import ScanView

CHECKS = {
    "reported.pi_deletion": "Art. 13",
    "reported.withdrawn_work": "Art. 15; Art. 7(2)",
    "reported.harmful_output": "Art. 15",
}
# Per check: the kind of registry entry it counts (violations.filtering.entries_for) and
# the column of the per-source table the suite reads.
_COUNTED = {
    "reported.pi_deletion": ("pi", "reported_pi"),
    "reported.withdrawn_work": ("work", "reported_works"),
    "reported.harmful_output": ("output", "reported_outputs"),
}


def measure(view: ScanView) -> Measures:
    """Per source and check: the records holding reported content, and which violations."""
    out = Measures(messages=MESSAGES)
    for check, (kind, column) in _COUNTED.items():
        holding = [
            sorted({e["violation"] for e in entries if e["kind"] == kind})
            for entries in view.reported
        ]
        for source_id in sorted(view.dataset.sources):
            hits = [r for r in view.by_source.get(source_id, []) if holding[r]]
            out.offenders[f"{check}:{source_id}"] = view.ids(hits)
            out.sources.setdefault(source_id, {}).update(
                {
                    column: len(hits),
                    f"{column}_violations": ", ".join(
                        sorted({v for r in hits for v in holding[r]})
                    ),
                }
            )
        out.metrics[column] = float(sum(1 for violations in holding if violations))
    return out


MESSAGES: dict[str, Message] = {
    "reported.pi_deletion": lambda row, _: Text(
        "{count:,} record(s) hold personal information under a deletion request "
        "({violations}): use the revision that fixed it",
        {"count": row["reported_pi"], "violations": row["reported_pi_violations"]},
    ),
    "reported.withdrawn_work": lambda row, _: Text(
        "{count:,} record(s) copy a work withdrawn by an IP complaint ({violations}): use "
        "the revision that fixed it",
        {"count": row["reported_works"], "violations": row["reported_works_violations"]},
    ),
    "reported.harmful_output": lambda row, _: Text(
        "{count:,} record(s) reproduce an output reported as harmful ({violations}): use "
        "the revision that fixed it",
        {"count": row["reported_outputs"], "violations": row["reported_outputs_violations"]},
    ),
}
