"""Consent reconciliation (Art. 7(3)): is each PI value found covered by the ledger?

A value is covered when a ledger row with its kind and HMAC lists ``training`` among its
purposes, is not withdrawn (as of the check), and, for sensitive kinds, carries
``sensitive_consent: true`` (separate consent, PIPL Art. 29; TC260-003 5.1 d).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from trainguard.contract import ConsentRow, PIKind

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
