"""Art. 7(3): personal information only with consent.

The consent ledger (``consents.csv``) answers, for each PI value the scan finds, whether
it is covered: a ledger row with its kind and HMAC lists ``training`` among its purposes,
is not withdrawn (as of the check), and, for sensitive kinds, carries
``sensitive_consent: true`` (separate consent, PIPL Art. 29; TC260-003 5.1 d). ``measure``
turns the scan's verdicts into the per-source columns the ``legality_sources`` suite checks.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainguard.checks.base import Measures, Message
from trainguard.contract import ConsentRow, PIKind
from trainguard.i18n import Text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trainguard.checks.base import Partial, ScanBatch, Tally

CHECKS = {
    "pi.consent": "Art. 7(3)",
    "pi.declaration": "Art. 7(3); TC260-003 5.1 c",
}

TRAINING_PURPOSE = "training"


class ConsentVerdict(enum.StrEnum):
    COVERED = "covered"
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    PURPOSE_MISSING = "purpose_missing"
    SENSITIVE_CONSENT_MISSING = "sensitive_consent_missing"


@dataclass(frozen=True)
class ConsentLedger:
    rows: dict[tuple[str, str], list[ConsentRow]]
    sensitive_kinds: frozenset[str]

    @classmethod
    def build(
        cls, rows: Iterable[ConsentRow] | None, sensitive_kinds: Iterable[str]
    ) -> ConsentLedger:
        index: dict[tuple[str, str], list[ConsentRow]] = {}
        for row in rows or ():
            index.setdefault((row.pi_kind.value, row.pi_hmac), []).append(row)
        return cls(index, frozenset(str(kind) for kind in sensitive_kinds))

    def verdict(
        self, kind: PIKind | str, hmac_hex: str, *, now: dt.datetime | None = None
    ) -> ConsentVerdict:
        """The best verdict any ledger row gives this value (one valid row suffices)."""
        kind = PIKind(kind).value
        rows = self.rows.get((kind, hmac_hex))
        if not rows:
            return ConsentVerdict.NO_CONSENT
        now = now or dt.datetime.now(dt.UTC)
        best = ConsentVerdict.NO_CONSENT
        for row in rows:
            withdrawn = row.withdrawn_at is not None and _aware(row.withdrawn_at) <= now
            if withdrawn:
                problem = ConsentVerdict.WITHDRAWN
            elif TRAINING_PURPOSE not in row.purposes:
                problem = ConsentVerdict.PURPOSE_MISSING
            elif kind in self.sensitive_kinds and not row.sensitive_consent:
                problem = ConsentVerdict.SENSITIVE_CONSENT_MISSING
            else:
                return ConsentVerdict.COVERED
            best = problem if best is ConsentVerdict.NO_CONSENT else best
        return best


def _aware(moment: dt.datetime) -> dt.datetime:
    # A ledger time without zone is read as UTC rather than rejected mid-scan.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def tally(batch: ScanBatch, partial: Partial) -> None:
    """Count PI spans per source, kind and verdict; name the records with uncovered PI."""
    uncovered_ids: dict[str, list[str]] = {}
    for record_id, source_id, spans in zip(
        batch["record_id"], batch["source_id"], batch["pi"], strict=True
    ):
        for span in spans:
            partial.count(f"pi:{source_id}:{span['kind']}:{bool(span['covered'])}")
        if any(not span["covered"] for span in spans):
            uncovered_ids.setdefault(source_id, []).append(record_id)
    for source_id, ids in uncovered_ids.items():
        partial.offend(f"pi.consent:{source_id}", ids)


def measure(tally: Tally) -> Measures:
    """Per source: PI values found, covered and not, by kind; PI in undeclaring sources."""
    out = Measures(messages=MESSAGES)
    by_source: dict[str, Counter[tuple[str, bool]]] = {}
    for key, count in tally.partial.counts.items():
        if key.startswith("pi:"):
            head, kind, verdict = key.rsplit(":", 2)  # a source id may hold a colon
            source_id = head.removeprefix("pi:")
            by_source.setdefault(source_id, Counter())[(kind, verdict == "True")] += count
    by_kind: Counter[tuple[str, bool]] = Counter()
    for source_id in sorted(tally.dataset.sources):
        spans = by_source.get(source_id, Counter())
        by_kind.update(spans)
        found = sum(spans.values())
        covered = sum(n for (_, is_covered), n in spans.items() if is_covered)
        kinds: Counter[str] = Counter()
        found_kinds: Counter[str] = Counter()
        for (kind, is_covered), n in spans.items():
            found_kinds[kind] += n
            if not is_covered:
                kinds[kind] += n
        declared = tally.dataset.sources[source_id].contains_personal_info
        out.offenders[f"pi.consent:{source_id}"] = tally.offenders(f"pi.consent:{source_id}")
        out.sources[source_id] = {
            "pi_found": found,
            "pi_covered": covered,
            "pi_uncovered": found - covered,
            "pi_uncovered_kinds": ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
            # Every kind found, covered or not: the export states sensitive PI from it.
            "pi_found_kinds": ", ".join(f"{k} {v}" for k, v in sorted(found_kinds.items())),
            "pi_declared": declared,
            "pi_undeclared": found if not declared else 0,
        }
    for (kind, is_covered), count in sorted(by_kind.items()):
        out.metrics[f"pi.{'covered' if is_covered else 'uncovered'}.{kind}"] = float(count)
    out.metrics["scan.pi_found"] = float(sum(by_kind.values()))
    out.metrics["scan.pi_uncovered"] = float(
        sum(n for (_, is_covered), n in by_kind.items() if not is_covered)
    )
    return out


MESSAGES: dict[str, Message] = {
    "pi.consent": lambda row, _: Text(
        "{uncovered:,} personal-information value(s) without valid consent ({kinds}); "
        "{covered:,} covered",
        {
            "uncovered": row["pi_uncovered"],
            "kinds": row["pi_uncovered_kinds"],
            "covered": row["pi_covered"],
        },
    ),
    "pi.declaration": lambda row, _: Text(
        "{count:,} personal-information value(s) in a source that declares none",
        {"count": row["pi_undeclared"]},
    ),
}
