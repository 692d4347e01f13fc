"""The output filter a serving layer applies: the immediate measure of Art. 15.

When a violation is triaged its content goes into a store-backed blocklist (the
registry's ``tg_filter_entries``), effective before any retraining:

- a harmful or unlawful output: blocked when a generated text equals it, contains it, or
  nearly duplicates it (character 4-gram Jaccard >= 0.8), after normalisation;
- a personal-information deletion or masking request: blocked when a generated text
  contains a value whose HMAC is on the list (the values themselves are never stored);
- an IP complaint: blocked when half or more of a generated text's 8-grams come from the
  withdrawn work.

``check_output(text)`` returns a ``Verdict`` naming the violations that block the text.
Entries keep hashes, HMACs and PI-masked text only.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.personal_info import mask_pi

if TYPE_CHECKING:
    from trainguard.violations import Registry, Violation

NEAR_DUPLICATE_JACCARD = 0.8
WORK_OVERLAP = 0.5
_SPACE = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalise(text: str) -> str:
    """NFKC, zero-width characters removed, case folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    return _SPACE.sub(" ", text).strip()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def char_grams(text: str, size: int) -> set[str]:
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))} if text else set()


def hashed_grams(text: str, size: int) -> set[str]:
    return {hashlib.blake2b(g.encode(), digest_size=6).hexdigest() for g in char_grams(text, size)}


def entries_for(violation: Violation) -> list[dict[str, Any]]:
    """The filter entries that block a violation's content."""
    subject = violation.subject
    if violation.kind == "harmful_output":
        text = normalise(subject["output"])
        return [{"kind": "output", "value": sha256(text), "detail": {"text": text}}]
    if violation.kind == "pi_request":
        return [
            {"kind": "pi", "value": item["hmac"], "detail": {"pi_kind": item["kind"]}}
            for item in subject["pi"]
        ]
    if violation.kind == "ip_complaint" and subject.get("work_grams"):
        return [
            {
                "kind": "work",
                "value": subject["work_sha256"],
                "detail": {"work_id": subject["work_id"], "grams": subject["work_grams"]},
            }
        ]
    return []  # a data finding is fixed in the data; nothing to block at serving time


def gates_enforce(violation: Violation) -> bool:
    """Whether every gate refuses data holding this violation's content: it was not
    rejected and has content to look for (a data finding or a complaint naming only a
    source has none; ``entries_for``)."""
    return violation.status != "rejected" and bool(entries_for(violation))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    violations: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "violations": list(self.violations),
            "reasons": list(self.reasons),
        }


class ReportedContent:
    """Content reported through the registry, matched against text.

    The output filter screens generated text with it; every gate screens its training
    records with it (``reported.*`` checks), so retraining on an older revision cannot
    bring back a value under deletion, a withdrawn work or a reported output.
    """

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.outputs = [
            (e, char_grams(e["detail"]["text"], 4)) for e in entries if e["kind"] == "output"
        ]
        self.pi = {e["value"]: e for e in entries if e["kind"] == "pi"}
        self.works = [(e, set(e["detail"]["grams"])) for e in entries if e["kind"] == "work"]

    @classmethod
    def of_violations(cls, violations: list[Violation]) -> ReportedContent:
        """Every reported item of every violation not rejected, filtered yet or not."""
        entries = [
            {**entry, "violation_id": violation.id}
            for violation in violations
            if gates_enforce(violation)
            for entry in entries_for(violation)
        ]
        return cls(entries)

    @property
    def screens_text(self) -> bool:
        """Whether any entry needs the text itself (outputs, works), not only PI HMACs."""
        return bool(self.outputs or self.works)

    def pi_violation(self, digest: str) -> str | None:
        """The violation whose deletion request covers this PI value's HMAC."""
        entry = self.pi.get(digest)
        return entry["violation_id"] if entry else None

    def text_matches(self, normal: str) -> list[tuple[str, str, str]]:
        """(kind, violation id, reason) for each reported output or withdrawn work that the
        ``normalise``d text reproduces: contains it or nearly duplicates it (output), or
        takes half its 8-grams from it (work)."""
        found: list[tuple[str, str, str]] = []
        # A text has at most len - 3 distinct 4-grams, and a Jaccard similarity of t needs
        # t * |banned| of them: shorter texts skip the grams (most of a corpus, exactly).
        most_grams = max(len(normal) - 3, 1)
        grams: set[str] | None = None
        for entry, banned in self.outputs:
            if entry["detail"]["text"] in normal:
                near = True
            elif most_grams < NEAR_DUPLICATE_JACCARD * len(banned):
                near = False
            else:
                grams = char_grams(normal, 4) if grams is None else grams
                union = len(grams | banned) or 1
                near = len(grams & banned) / union >= NEAR_DUPLICATE_JACCARD
            if near:
                found.append(
                    ("output", entry["violation_id"], "reproduces a reported harmful output")
                )
        if self.works:
            hashed = hashed_grams(normal, 8)
            for entry, work in self.works:
                if len(hashed) >= 5 and len(hashed & work) / len(hashed) >= WORK_OVERLAP:
                    found.append(
                        (
                            "work",
                            entry["violation_id"],
                            f"copies withdrawn work {entry['detail']['work_id']}",
                        )
                    )
        return found


class OutputFilter:
    """The blocklist loaded from the registry (``refresh()`` picks up new entries)."""

    def __init__(self, registry: Registry | None = None) -> None:
        from trainguard.violations import Registry

        self.registry = registry or Registry()
        self.refresh()

    def refresh(self) -> None:
        self.entries = self.registry.filter_entries()
        self.reported = ReportedContent(self.entries)

    def check_output(self, text: str) -> Verdict:
        blocked: dict[str, str] = {}
        if self.reported.screens_text:
            # Reported outputs are stored PI-masked: compare the masked text.
            masked, _ = mask_pi(text)
            for _, violation_id, reason in self.reported.text_matches(normalise(masked)):
                blocked.setdefault(violation_id, reason)
        if self.reported.pi:
            from trainguard.personal_info import pi_hmac
            from trainguard.scanners.pi import find_pi

            for match in find_pi(text):
                deleted = self.reported.pi_violation(pi_hmac(match.kind, match.value))
                if deleted is not None:
                    blocked.setdefault(
                        deleted, f"contains {match.kind.value} under a deletion request"
                    )
        if not blocked:
            return Verdict(True)
        ids = tuple(sorted(blocked))
        return Verdict(False, ids, tuple(f"{i}: {blocked[i]}" for i in ids))


def reported_content_for_gate() -> ReportedContent:
    """What the violation registry says no training data may hold (Art. 13, 15).

    Fails closed: a registry that is configured but cannot be read blocks the gate. A
    default (SQLite) registry that was never created means nothing was ever reported on
    this machine; it is not created by reading it.
    """
    from trainguard.exceptions import GateError, TrainguardError
    from trainguard.settings import env
    from trainguard.violations.registry import REGISTRY_URL_ENV, Registry, default_url

    if not env(REGISTRY_URL_ENV):
        url = default_url()
        if not Path(url.removeprefix("sqlite:///")).exists():
            return ReportedContent([])
    try:
        return ReportedContent.of_violations(Registry().list())
    except TrainguardError as exc:
        raise GateError(
            f"the violation registry cannot be read ({exc}): without it a gate cannot tell "
            "whether the data holds content under deletion or withdrawn (Art. 13, Art. 15)"
        ) from None


def check_output(text: str, registry: Registry | None = None) -> Verdict:
    """One-off check (a server keeps an ``OutputFilter`` and calls ``refresh`` instead)."""
    return OutputFilter(registry).check_output(text)


def triage_and_filter(registry: Registry, violation_id: str, *, actor: str) -> Violation:
    """Triage a reported violation and put its content into the filter (idempotent)."""
    violation = registry.get(violation_id)
    if violation.status == "reported":
        violation = registry.transition(violation_id, "triaged", actor=actor)
    if violation.status == "triaged":
        violation = registry.filter(violation_id, entries_for(violation), actor=actor)
    return violation


def move(
    registry: Registry, violation_id: str, to_status: str, *, actor: str, reason: str = ""
) -> Violation:
    """A reviewer's transition; ``filtered`` also puts the content into the output filter."""
    if to_status == "filtered":
        return registry.filter(violation_id, entries_for(registry.get(violation_id)), actor=actor)
    return registry.transition(violation_id, to_status, actor=actor, reason=reason)
