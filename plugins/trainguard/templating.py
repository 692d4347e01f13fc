"""The Jinja2 environment every page and report renders through: autoescaped, strict.

Autoescape is on for every template, so a value can never become markup; undefined
names fail the render instead of printing nothing; ``trim_blocks`` and ``lstrip_blocks``
let a template put one tag per line without adding blank lines to the output.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _environment(package: str) -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )


def template(
    package: str,
    name: str,
    *,
    filters: dict[str, Any] | None = None,
    helpers: dict[str, Any] | None = None,
) -> Any:
    """``templates/<name>`` of ``package``, with the filters and globals it uses."""
    environment = _environment(package)
    environment.filters.update(filters or {})
    environment.globals.update(helpers or {})
    return environment.get_template(name)
