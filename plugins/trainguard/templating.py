"""The Jinja2 environment every page and report renders through: autoescaped, strict.

Autoescape is on for every template, so a value can never become markup; undefined
names fail the render instead of printing nothing; ``trim_blocks`` and ``lstrip_blocks``
let a template put one tag per line without adding blank lines to the output.

Templates are translated with Jinja's i18n extension (``{{ _('...') }}``, ``{% trans %}``):
``language_context`` gives a render its language's gettext and the helpers that show
clauses, finding messages and statuses in it. They travel with each render, not in the
shared environment, so two requests in two languages never see each other's.
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
        extensions=["jinja2.ext.i18n"],
    )


def language_context(language: str, *, chosen: bool = False) -> dict[str, Any]:
    """What a template needs to speak ``language``: gettext for ``_()`` and ``{% trans %}``,
    ``clause()`` (official Chinese titles), ``message()`` of a finding, ``label()`` of a
    status, ``tr()`` of a ``Text`` made in Python, and ``language`` for ``<html lang>``.

    ``chosen``: the reader picked it (``?lang=``), so links carry it on (``lang_query``,
    ``lang_param``); otherwise the browser's Accept-Language keeps choosing."""
    from trainguard.i18n import LANGUAGES, Text, clause_title, finding_message, translations

    translated = translations(language)
    return {
        "lang_query": f"?lang={language}" if chosen else "",
        "lang_param": f"lang={language}&" if chosen else "",
        "tr": lambda value: value.render(language) if isinstance(value, Text) else value,
        "language": language,
        "languages": list(LANGUAGES.items()),
        "_": translated.gettext,
        "gettext": translated.gettext,
        "ngettext": translated.ngettext,
        "clause": lambda text: clause_title(str(text or ""), language),
        "message": lambda finding: finding_message(finding, language),
        "label": lambda status: translated.gettext(str(status or "?").upper()),
    }


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
