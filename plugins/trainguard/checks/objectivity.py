"""Objectivity (Art. 7(4), Art. 4(2), Art. 12): label balance across protected groups.

Records may carry protected attributes as columns ``attr_<ground>`` (ethnicity, religion,
nationality, region, sex, age, profession). For each such column, the share of the
favourable label (policy ``objectivity.favourable_label``) in each group with enough
records gives the ratio of the lowest to the highest group rate (the four-fifths rule
uses 0.8) and the demographic-parity gap (highest minus lowest rate).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainguard.contract import Dataset
    from trainguard.gate.gx import Table
    from trainguard.policy import Policy

CHECKS = {"quality.objectivity": "Art. 7(4) objectivity; Art. 4(2); Art. 12"}
ATTRIBUTE_PREFIX = "attr_"


def objectivity_table(dataset: Dataset, policy: Policy) -> Table:
    """One row per protected attribute present with labels (empty when there is none)."""
    import pyarrow as pa

    from trainguard.gate.gx import Table

    first = next(dataset.iter_batches(), None)
    names = first[2].schema.names if first else []
    attributes = [n for n in names if n.startswith(ATTRIBUTE_PREFIX)]
    rows: list[dict[str, Any]] = []
    if not attributes or "label" not in names:
        return Table("attributes", rows, key="attribute", entity="attribute")
    table = pa.Table.from_batches([b for _, _, b in dataset.iter_batches(["label", *attributes])])
    favourable = policy.objectivity.favourable_label
    labels = table.column("label").to_pylist()
    for attribute in attributes:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for group, label in zip(table.column(attribute).to_pylist(), labels, strict=True):
            if group in (None, "") or label in (None, ""):
                continue
            counts[group][0] += 1
            counts[group][1] += label == favourable
        rates = {
            group: positive / total
            for group, (total, positive) in counts.items()
            if total >= policy.objectivity.min_group_size
        }
        if len(rates) < 2:
            continue  # fewer than two groups large enough to compare
        low, high = min(rates.values()), max(rates.values())
        rows.append(
            {
                "attribute": attribute.removeprefix(ATTRIBUTE_PREFIX),
                "groups": len(rates),
                "rates": ", ".join(f"{g} {r:.1%}" for g, r in sorted(rates.items())),
                "rate_ratio": low / high if high else 1.0,
                "parity_gap": high - low,
            }
        )
    return Table(
        "attributes",
        rows,
        key="attribute",
        entity="attribute",
        messages={
            "quality.objectivity": lambda row, t: (
                f"favourable-label rates differ across groups ({row['rates']}): ratio "
                f"{row['rate_ratio']:.2f}, parity gap {row['parity_gap']:.2f} ({t})"
            ),
        },
    )
