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
    from trainguard.checks.base import Partial, ScanBatch, Tally

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


def tally(batch: ScanBatch, partial: Partial) -> None:
    """Per source and check: the records holding reported content, and which violations."""
    for check, (kind, _) in _COUNTED.items():
        hits: dict[str, list[str]] = {}
        for record_id, source_id, entries in zip(
            batch["record_id"], batch["source_id"], batch["reported"], strict=True
        ):
            violations = {e["violation"] for e in entries if e["kind"] == kind}
            if violations:
                hits.setdefault(source_id, []).append(record_id)
                partial.label(f"{check}:{source_id}", violations)
        for source_id, ids in hits.items():
            partial.offend(f"{check}:{source_id}", ids)


def measure(tally: Tally) -> Measures:
    """Per source and check: the records holding reported content, and which violations."""
    out = Measures(messages=MESSAGES)
    for check, (_, column) in _COUNTED.items():
        total = 0
        for source_id in sorted(tally.dataset.sources):
            hits = tally.offenders(f"{check}:{source_id}")
            total += len(hits)
            out.offenders[f"{check}:{source_id}"] = hits
            out.sources.setdefault(source_id, {}).update(
                {
                    column: len(hits),
                    f"{column}_violations": ", ".join(sorted(tally.labels(f"{check}:{source_id}"))),
                }
            )
        out.metrics[column] = float(total)
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
