"""GX Data Docs that read offline: no stylesheet, script or image fetched from the web.

GX writes its Data Docs with Bootstrap, jQuery, Font Awesome and Vega from public CDNs.
Behind a firewall, in MLflow's sandboxed artifact view or years later those requests
fail and the pages come out unstyled or blank. The tables themselves are rendered on
the server, so the pages only need the remote references removed and a stylesheet of
their own (``data/data_docs_offline.css``, shipped in the package). What is lost: the
client-side sorting of the index table and the Vega charts of distributions.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_REMOTE = r"""(?:https?:)?//[^"'\s>]+"""
_REMOTE_TAGS = [
    re.compile(rf"""<script[^>]*\ssrc=["']{_REMOTE}["'][^>]*>\s*</script>""", re.IGNORECASE),
    re.compile(rf"""<link[^>]*\shref=["']{_REMOTE}["'][^>]*/?>""", re.IGNORECASE),
    re.compile(rf"""<img[^>]*\ssrc=["']{_REMOTE}["'][^>]*/?>""", re.IGNORECASE),
]
MARKER = "trainguard-offline"
STYLE_OPEN = '<style id="trainguard-offline">'


def stylesheet() -> str:
    return (resources.files("trainguard") / "data" / "data_docs_offline.css").read_text(
        encoding="utf-8"
    )


def make_offline(site: Path) -> int:
    """Rewrite every page of the Data Docs site at ``site``; returns the pages rewritten."""
    style = STYLE_OPEN + stylesheet() + "</style>"  # a constant tag around shipped CSS
    rewritten = 0
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if MARKER in text:
            continue  # already rewritten (GX rebuilds only the pages it changes)
        for pattern in _REMOTE_TAGS:
            text = pattern.sub("", text)
        # A function, not a template: the stylesheet's backslashes are CSS escapes.
        text = re.sub(
            r"<head[^>]*>", lambda m: m.group(0) + style, text, count=1, flags=re.IGNORECASE
        )
        page.write_text(text, encoding="utf-8")
        rewritten += 1
    return rewritten


def remote_references(site: Path) -> list[str]:
    """Any stylesheet, script or image a page would still fetch (for tests and checks)."""
    found = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for pattern in _REMOTE_TAGS:
            found += [f"{page.name}: {m.group(0)[:120]}" for m in pattern.finditer(text)]
    return found
