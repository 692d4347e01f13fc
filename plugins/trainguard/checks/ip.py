"""Art. 7(2): no intellectual-property infringement in the training data.

Per source, the records the shard scans matched against the opt-out / takedown registry
(equal or near-duplicate of a withdrawn work) and the records that carry a third party's
copyright notice or licence header. The detectors are ``scanners.ip``; the
``legality_sources`` suite decides on the counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainguard.checks.base import Measures, Message
from trainguard.i18n import Text

if TYPE_CHECKING:
    from trainguard.checks.base import Partial, ScanBatch, Tally

CHECKS = {
    "ip.optout": "Art. 7(2)",
    "ip.copyright": "Art. 7(2); TC260-003 5.1 a",
}


def tally(batch: ScanBatch, partial: Partial) -> None:
    """Name the records matching withdrawn works, and those carrying copyright notices."""
    withdrawn: dict[str, list[str]] = {}
    noticed: dict[str, list[str]] = {}
    for record_id, source_id, work, notice in zip(
        batch["record_id"],
        batch["source_id"],
        batch["optout_work"],
        batch["copyright_notice"],
        strict=True,
    ):
        if work:
            withdrawn.setdefault(source_id, []).append(record_id)
        if notice:
            noticed.setdefault(source_id, []).append(record_id)
    for source_id, ids in withdrawn.items():
        partial.offend(f"ip.optout:{source_id}", ids)
    for source_id, ids in noticed.items():
        partial.offend(f"ip.copyright:{source_id}", ids)


def measure(tally: Tally) -> Measures:
    """Per source: records matching withdrawn works, records with copyright notices."""
    out = Measures(messages=MESSAGES)
    for source_id in sorted(tally.dataset.sources):
        withdrawn = tally.offenders(f"ip.optout:{source_id}")
        noticed = tally.offenders(f"ip.copyright:{source_id}")
        out.offenders[f"ip.optout:{source_id}"] = withdrawn
        out.offenders[f"ip.copyright:{source_id}"] = noticed
        out.sources[source_id] = {"optout_hits": len(withdrawn), "copyright_notices": len(noticed)}
    return out


MESSAGES: dict[str, Message] = {
    "ip.optout": lambda row, _: Text(
        "{count:,} record(s) match works withdrawn in the opt-out registry",
        {"count": row["optout_hits"]},
    ),
    "ip.copyright": lambda row, _: Text(
        "{count:,} record(s) carry copyright notices or licence headers",
        {"count": row["copyright_notices"]},
    ),
}
