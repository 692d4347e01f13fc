"""Languages: English, the source text, and Simplified Chinese, through gettext catalogues.

Every message is written in English where it is made and marked for extraction (``Text``
in Python, ``_()`` and ``{% trans %}`` in templates); ``locale/zh/LC_MESSAGES/trainguard.po``
translates it, Babel extracts and compiles the catalogue (``make i18n``) and a unit test
fails on a message without a translation.

A finding keeps its English ``message`` (the JSON report's contract, which other tools read)
and the ``Text`` it was made from (``text``: template and parameters), so every reader, the
CLI, the Governance page and the export's report, renders it in its own reader's language.

The language of a request: ``--lang`` or ``?lang=``, else the ``Accept-Language`` header,
else the configured default (``TRAINGUARD_LANGUAGE``; the Airflow layer passes
``[trainguard] language``), else English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from trainguard.exceptions import ConfigError

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
DOMAIN = "trainguard"
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for "mark only"
    """Marks a constant for extraction; it is translated where it is shown."""
    return message


# Statuses and decisions as the pages show them (``label()`` in templates).
LABELS = (N_("PASS"), N_("FAIL"), N_("WARN"), N_("WAIVED"))


@cache
def translations(language: str) -> Any:
    """The gettext translations of ``language`` (English: the messages as written)."""
    import gettext

    if language == DEFAULT:
        return gettext.NullTranslations()
    # fallback=False: a wheel without its catalogue is a packaging bug, not English.
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])


def translate(message: str, language: str) -> str:
    return str(translations(language).gettext(message))


def language_of(value: str, *, where: str) -> str:
    """``zh``, ``zh-CN``, ``zh_Hans``, ``en-GB``... as one of ``LANGUAGES``."""
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    if primary not in LANGUAGES:
        raise ConfigError(
            f"{where}: unknown language {value!r}; expected one of "
            f"{', '.join(LANGUAGES)} ({', '.join(LANGUAGES.values())})"
        )
    return primary


def from_accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header that trainguard speaks."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def resolve(
    explicit: str | None = None,
    *,
    accept_language: str | None = None,
    configured: str | None = None,
) -> str:
    """The language to answer in: explicit, else the header's, else configured, else en."""
    if explicit:
        return language_of(explicit, where="--lang / ?lang=")
    chosen = from_accept_language(accept_language)
    if chosen:
        return chosen
    if configured is None:
        from trainguard.settings import env

        configured = env("TRAINGUARD_LANGUAGE")
    return language_of(configured, where="configured language") if configured else DEFAULT


class Text(str):
    """A message to render in any language: an English template with ``str.format`` fields
    (``"{rate:.2%} of records are empty"``) and the values that fill them. A value may be a
    ``Text`` itself ("is above the 5% limit"), rendered in the same language.

    A ``Text`` is the English string it renders to, so every reader of a message (JSON,
    logs, MLflow) gets the English it always had; ``render`` gives the other languages.
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None) -> Text:
        values = {key: _plain(value) for key, value in (params or {}).items()}
        self = super().__new__(cls, _render(template, values, DEFAULT))
        self.template, self.params = template, values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.template, self.params))

    def render(self, language: str = DEFAULT) -> str:
        return _render(self.template, self.params, language)

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "params": {
                key: value.to_dict() if isinstance(value, Text) else value
                for key, value in self.params.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Text:
        return cls(
            str(data["template"]),
            {
                key: cls.from_dict(value) if _is_text(value) else value
                for key, value in dict(data.get("params") or {}).items()
            },
        )


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so a Text's parameters serialise as JSON."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _render(template: str, params: Mapping[str, Any], language: str) -> str:
    if not template:
        return ""  # gettext("") is the catalogue's header, never a message
    values = {
        key: value.render(language) if isinstance(value, Text) else value
        for key, value in params.items()
    }
    return translate(template, language).format(**values)


def _is_text(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"template", "params"}


def finding_message(finding: Mapping[str, Any], language: str) -> str:
    """A finding of a JSON report, in ``language``: its ``text`` rendered when it has one
    (reports written before trainguard spoke Chinese have only the English message)."""
    text = finding.get("text")
    if language == DEFAULT or not _is_text(text):
        return str(finding.get("message", ""))
    try:
        return Text.from_dict(text).render(language)  # type: ignore[arg-type]
    except (KeyError, IndexError, ValueError):
        return str(finding.get("message", ""))  # a template from a newer release


# -------------------------------------------------------------------------- clause titles
# The standards a clause may cite, with their official Chinese titles.
STANDARDS_ZH = {
    "TC260-003": "TC260-003《生成式人工智能服务安全基本要求》",
    "GB/T 45674-2025": "GB/T 45674-2025《网络安全技术 生成式人工智能数据标注安全规范》",
    "GB 45438-2025": "GB 45438-2025《网络安全技术 人工智能生成合成内容标识方法》",
}
_QUALITIES_ZH = {
    "veracity": "真实性",
    "accuracy": "准确性",
    "objectivity": "客观性",
    "diversity": "多样性",
}
_DIGITS = "零一二三四五六七八九"


def chinese_number(number: int) -> str:
    """1-99 as written in legal text: 7 -> 七, 13 -> 十三, 20 -> 二十."""
    tens, ones = divmod(number, 10)
    if tens == 0:
        return _DIGITS[ones]
    return (_DIGITS[tens] if tens > 1 else "") + "十" + (_DIGITS[ones] if ones else "")


def clause_title(clause: str, language: str) -> str:
    """A clause as the reader's language cites it. In Chinese, "Art. 7(3); TC260-003 5.1 c"
    is "《办法》第七条第（三）项；TC260-003《生成式人工智能服务安全基本要求》5.1 c"
    (《办法》 is the Measures, 《生成式人工智能服务管理办法（征求意见稿）》, as the foot of
    every Chinese page and report says)."""
    if language == DEFAULT or not clause:
        return clause
    return "；".join(_clause_zh(part.strip()) for part in clause.split(";"))


def _clause_zh(part: str) -> str:
    for code, title in STANDARDS_ZH.items():
        if part.startswith(code):
            return title + part[len(code) :].replace(", ", "、")

    def article(match: re.Match[str]) -> str:
        text = f"第{chinese_number(int(match.group(1)))}条"
        if match.group(2):
            text += f"第（{chinese_number(int(match.group(2)))}）项"
        return text

    text = re.sub(r"Art\. (\d+)(?:\((\d+)\))?", lambda m: "《办法》" + article(m), part)
    text = re.sub(r"(?<=, )(\d+)\((\d+)\)", article, text)  # "Art. 7(1), 7(2)"
    text = text.replace(" (draft)", "").replace(", ", "、").replace("、《办法》", "、")
    for english, chinese in _QUALITIES_ZH.items():
        text = text.replace(english, chinese)
    return text
