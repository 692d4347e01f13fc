"""A ``re`` pattern rewritten for hyperscan, matching a superset of what it matches.

Hyperscan has no look-arounds, back-references or conditionals, so a validated pattern
cannot be compiled into it as written. What the scan needs from hyperscan is only "which
patterns can match in which rows"; the exact ``re`` pattern then runs where it can. So the
rewrite only ever widens the language, never narrows it:

- a look-ahead, look-behind, anchor or ``\\b`` is dropped (each only ever rejects a
  match);
- a back-reference becomes the group it refers to (whatever the group captured, the group
  can match again);
- a conditional ``(?(g)yes|no)`` becomes ``(?:yes|no)``.

Every span the ``re`` pattern matches, the rewrite matches too, with the same start and
end. The output is a byte pattern for hyperscan's byte mode (no ``HS_FLAG_UTF8``), which
scans UTF-8 text: a non-ASCII character becomes its UTF-8 bytes, and a class holding any
becomes an alternation of them.

The rewrite reads ``re``'s own parse tree (``re._parser``), so it follows the pattern as
``re`` understands it rather than a second reading of the syntax; a construct it does not
know raises ``ValueError`` rather than widening or narrowing by guess.
"""

from __future__ import annotations

import re
from typing import Any


def superset_pattern(pattern: re.Pattern[str]) -> bytes:
    """``pattern`` as a hyperscan byte pattern that matches every span it matches, and
    possibly more. ``ValueError`` for what the rewrite does not know (flags that change
    matching, negated or Unicode-category classes, ``.``)."""
    import re._parser as parser  # the stdlib's own parse of ``re`` syntax

    if pattern.flags & ~(re.UNICODE | re.ASCII | re.VERBOSE):
        raise ValueError(f"flags that change matching are not supported: {pattern!r}")
    tree = parser.parse(pattern.pattern, pattern.flags)
    groups: dict[int, Any] = {}
    _collect_groups(tree, groups)
    return _emit(tree, groups).encode("ascii")


def _collect_groups(tree: Any, groups: dict[int, Any]) -> None:
    import re._constants as c

    for op, value in tree:
        if op is c.SUBPATTERN:
            groups[value[0]] = value[3]
            _collect_groups(value[3], groups)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            _collect_groups(value[2], groups)
        elif op is c.BRANCH:
            for branch in value[1]:
                _collect_groups(branch, groups)
        elif op is c.GROUPREF_EXISTS:
            _collect_groups(value[1], groups)
            if value[2] is not None:
                _collect_groups(value[2], groups)


def _byte_escapes(char: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in char.encode())


def _class(items: list[tuple[Any, Any]]) -> str:
    """A character class: ASCII members as a byte class, the others as UTF-8 sequences."""
    import re._constants as c

    ascii_parts, wide = [], []
    for op, value in items:
        if op is c.LITERAL:
            if value < 0x80:
                ascii_parts.append(_byte_escapes(chr(value)))
            else:
                wide.append(_byte_escapes(chr(value)))
        elif op is c.RANGE and value[1] < 0x80:
            ascii_parts.append(f"{_byte_escapes(chr(value[0]))}-{_byte_escapes(chr(value[1]))}")
        elif op is c.RANGE and value[1] - value[0] < 256:
            wide.extend(_byte_escapes(chr(point)) for point in range(value[0], value[1] + 1))
        else:  # NEGATE, CATEGORY, wide ranges: not needed by the PI patterns
            raise ValueError(f"character class member {op} {value!r} is not supported")
    alternatives = ([f"[{''.join(ascii_parts)}]"] if ascii_parts else []) + wide
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def _emit(tree: Any, groups: dict[int, Any]) -> str:
    import re._constants as c

    out = []
    for op, value in tree:
        if op is c.LITERAL:
            out.append(_byte_escapes(chr(value)))
        elif op is c.IN:
            out.append(_class(value))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, body = value
            upper = "" if high is c.MAXREPEAT else str(high)
            out.append(f"(?:{_emit(body, groups)}){{{low},{upper}}}")
        elif op is c.SUBPATTERN:
            if value[1] or value[2]:  # (?i:...) and the like change what matches
                raise ValueError("flags inside a group are not supported")
            out.append(f"(?:{_emit(value[3], groups)})")
        elif op is c.BRANCH:
            out.append(f"(?:{'|'.join(_emit(branch, groups) for branch in value[1])})")
        elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            continue  # look-arounds, anchors, \b: each only rejects matches
        elif op is c.GROUPREF:
            out.append(f"(?:{_emit(groups[value], groups)})")
        elif op is c.GROUPREF_EXISTS:
            _, yes, no = value
            no_text = _emit(no, groups) if no is not None else ""
            out.append(f"(?:{_emit(yes, groups)}|{no_text})")
        else:
            raise ValueError(f"regex construct {op} is not supported")
    return "".join(out)
