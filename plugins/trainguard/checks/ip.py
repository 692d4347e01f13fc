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
    from trainguard.checks.base import ScanView

CHECKS = {
    "ip.optout": "Art. 7(2)",
    "ip.copyright": "Art. 7(2); TC260-003 5.1 a",
}


def measure(view: ScanView) -> Measures:
    """Per source: records matching withdrawn works, records with copyright notices."""
    out = Measures(messages=MESSAGES)
    for source_id in sorted(view.dataset.sources):
        rows = view.by_source.get(source_id, [])
        withdrawn = view.ids([r for r in rows if view.optout_work[r]])
        noticed = view.ids([r for r in rows if view.copyright_notice[r]])
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
