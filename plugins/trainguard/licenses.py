"""SPDX licence expressions, parsed with ``license-expression`` and judged against the policy.

``LicenseRef-...`` identifiers are the SPDX way to name licences outside the list (a
commercial contract, a user authorisation); they are accepted as symbols and judged by
the policy's allow and deny lists like any other.
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
    unlisted: tuple[str, ...] = ()
    non_commercial: tuple[str, ...] = ()


@cache
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def unknown_licence_symbols(identifiers: Iterable[str]) -> list[str]:
    """The identifiers that are neither SPDX licence ids nor ``LicenseRef-...``."""
    return [
        identifier
        for identifier in identifiers
        if not identifier.startswith(LICENSE_REF_PREFIX)
        and _licensing().validate(identifier).invalid_symbols
    ]


def parse_licence(expression: str) -> Any:
    """Parse an SPDX expression; raises ``ValueError`` with the reason when it is not one."""
    from license_expression import ExpressionError

    try:
        parsed = _licensing().parse(expression, validate=False)
    except ExpressionError as exc:
        raise ValueError(f"'{expression}' is not an SPDX licence expression ({exc})") from None
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
    expression: str, *, allow: Iterable[str], deny: Iterable[str], commercial: bool
) -> LicenceJudgement:
    """Judge an expression: AND needs every part acceptable, OR needs one acceptable branch."""
    from license_expression import AND, OR, LicenseWithExceptionSymbol

    allow_keys = {key.lower() for key in allow}
    deny_keys = {key.lower() for key in deny}
    parsed = parse_licence(expression)

    def leaf_verdict(key: str) -> LicenceVerdict:
        if key.lower() in deny_keys:
            return LicenceVerdict.DENIED
        if commercial and is_non_commercial(key):
            return LicenceVerdict.DENIED
        if key.lower() in allow_keys:
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
    )


def is_non_commercial(key: str) -> bool:
    """Creative Commons NC licences forbid commercial use, so a commercial service can't train."""
    upper = key.upper()
    return "-NC-" in upper or upper.endswith("-NC")
