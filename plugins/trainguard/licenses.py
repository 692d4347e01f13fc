"""SPDX licence expressions, parsed with ``license-expression`` and judged against the policy.

``LicenseRef-...`` identifiers are the SPDX way to name licences outside the list (a
commercial contract, a user authorisation); they are accepted as symbols and judged by
the policy's allow and deny lists like any other.

Beyond the lists, each licence has a class: the category of the ScanCode LicenseDB index
that ``license-expression`` ships (Permissive, Public Domain, Copyleft, Copyleft Limited,
Source-available, Proprietary Free, Free Restricted, Commercial, ...), a maintained list
of some 2,600 licences. The policy allows or denies classes; its allow and deny lists
override a class; non-commercial terms are refused to a commercial service and
no-derivatives terms to everyone (a model trained on a work is an adaptation of it). A
licence with neither a listed verdict nor an allowed or denied class is left to a reviewer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

LICENSE_REF_PREFIX = "LicenseRef-"


class LicenceVerdict(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LicenceJudgement:
    verdict: LicenceVerdict
    expression: str
    denied: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()  # neither listed nor of an allowed or denied class
    non_commercial: tuple[str, ...] = ()
    no_derivatives: tuple[str, ...] = ()
    classes: tuple[tuple[str, str], ...] = ()  # (licence, its LicenseDB class or "unknown")

    def class_of(self, key: str) -> str:
        return dict(self.classes).get(key, "unknown")

    def classes_of_allowed(self, listed: set[str]) -> list[str]:
        """The licences of the expression allowed by their class, not by the allow list."""
        return [
            key
            for key, _ in self.classes
            if key.lower() not in listed and key not in self.denied and key not in self.unlisted
        ]


@cache
def _classes() -> dict[str, str]:
    """SPDX key (lower case) -> ScanCode LicenseDB category, from license-expression's index."""
    import json
    from importlib import resources

    text = (
        resources.files("license_expression")
        .joinpath("data/scancode-licensedb-index.json")
        .read_text(encoding="utf-8")
    )
    classes: dict[str, str] = {}
    for entry in json.loads(text):
        category = entry.get("category")
        if not category:
            continue
        for key in [entry.get("spdx_license_key"), *entry.get("other_spdx_license_keys", [])]:
            if key:
                classes.setdefault(key.lower(), category)
    return classes


def licence_class(key: str) -> str | None:
    """The LicenseDB class of an SPDX licence key, or None when the index does not know it."""
    return _classes().get(key.lower())


@cache
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def unknown_licence_symbols(identifiers: Iterable[str]) -> list[str]:
    """The identifiers that are neither SPDX licence ids nor ``LicenseRef-...``."""
    return [
        identifier
        for identifier in identifiers
        if not identifier.startswith(LICENSE_REF_PREFIX) and not _is_spdx_id(identifier)
    ]


def _is_spdx_id(identifier: str) -> bool:
    try:
        return not _licensing().validate(identifier).invalid_symbols
    except AttributeError:
        # license_expression reports some syntax errors by reading an attribute its own
        # ExpressionError lacks (found by fuzzing the policy): not an identifier either.
        return False


def parse_licence(expression: str) -> Any:
    """Parse an SPDX expression; raises ``ValueError`` with the reason when it is not one."""
    from license_expression import ExpressionError

    try:
        parsed = _licensing().parse(expression, validate=False)
    except ExpressionError as exc:
        raise ValueError(f"'{expression}' is not an SPDX licence expression ({exc})") from None
    except (AttributeError, TypeError, IndexError) as exc:
        # license_expression's parser fails this way on some malformed input (fuzzing
        # found "MIT AND (" shapes); it is still bad input, not a bug of ours.
        raise ValueError(
            f"'{expression}' is not an SPDX licence expression ({type(exc).__name__})"
        ) from None
    if parsed is None:
        raise ValueError("empty licence expression")
    unknown = [key for key in _symbol_keys(parsed) if key in unknown_licence_symbols([key])]
    if unknown:
        raise ValueError(
            f"'{expression}' names unknown licence(s) {', '.join(unknown)}; use SPDX identifiers "
            "or LicenseRef-<name> for licences outside the SPDX list"
        )
    return parsed


def _symbol_keys(parsed: Any) -> list[str]:
    from license_expression import LicenseWithExceptionSymbol

    symbols = parsed.symbols if hasattr(parsed, "symbols") else [parsed]
    keys = []
    for symbol in symbols:
        if isinstance(symbol, LicenseWithExceptionSymbol):
            symbol = symbol.license_symbol
        keys.append(symbol.key)
    return keys


def judge_licence(
    expression: str,
    *,
    allow: Iterable[str],
    deny: Iterable[str],
    commercial: bool,
    allow_classes: Iterable[str] = (),
    deny_classes: Iterable[str] = (),
) -> LicenceJudgement:
    """Judge an expression: AND needs every part acceptable, OR needs one acceptable branch.

    A licence is denied by the deny list, by non-commercial terms (commercial service) or by
    no-derivatives terms; else allowed by the allow list; else judged by its class.
    """
    from license_expression import AND, OR, LicenseWithExceptionSymbol

    allow_keys = {key.lower() for key in allow}
    deny_keys = {key.lower() for key in deny}
    allowed_classes = {name.lower() for name in allow_classes}
    denied_classes = {name.lower() for name in deny_classes}
    parsed = parse_licence(expression)

    def leaf_verdict(key: str) -> LicenceVerdict:
        if key.lower() in deny_keys:
            return LicenceVerdict.DENIED
        if (commercial and is_non_commercial(key)) or is_no_derivatives(key):
            return LicenceVerdict.DENIED
        if key.lower() in allow_keys:
            return LicenceVerdict.ALLOWED
        category = (licence_class(key) or "").lower()
        if category in denied_classes:
            return LicenceVerdict.DENIED
        if category in allowed_classes:
            return LicenceVerdict.ALLOWED
        return LicenceVerdict.UNKNOWN

    rank = {LicenceVerdict.ALLOWED: 0, LicenceVerdict.UNKNOWN: 1, LicenceVerdict.DENIED: 2}

    def evaluate(node: Any) -> LicenceVerdict:
        if isinstance(node, AND):
            return max((evaluate(arg) for arg in node.args), key=rank.__getitem__)
        if isinstance(node, OR):
            return min((evaluate(arg) for arg in node.args), key=rank.__getitem__)
        if isinstance(node, LicenseWithExceptionSymbol):
            node = node.license_symbol
        return leaf_verdict(node.key)

    keys = _symbol_keys(parsed)
    return LicenceJudgement(
        verdict=evaluate(parsed),
        expression=str(parsed),
        denied=tuple(k for k in keys if leaf_verdict(k) is LicenceVerdict.DENIED),
        unlisted=tuple(k for k in keys if leaf_verdict(k) is LicenceVerdict.UNKNOWN),
        non_commercial=tuple(k for k in keys if is_non_commercial(k)),
        no_derivatives=tuple(k for k in keys if is_no_derivatives(k)),
        classes=tuple((k, licence_class(k) or "unknown") for k in keys),
    )


def is_no_derivatives(key: str) -> bool:
    """Creative Commons ND licences forbid adaptations; a trained model is one."""
    upper = key.upper()
    return "-ND-" in upper or upper.endswith("-ND")


def is_non_commercial(key: str) -> bool:
    """Creative Commons NC licences forbid commercial use, so a commercial service can't train."""
    upper = key.upper()
    return "-NC-" in upper or upper.endswith("-NC")
