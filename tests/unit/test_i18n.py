"""Simplified Chinese: a complete catalogue, official clause titles, the reader's language
chosen as browsers and the CLI ask for it, and every finding message renderable in it.

The expected Chinese is written here by hand from the official texts (the Measures'
Chinese title, TC260-003's, the numbering of Chinese legal articles), not from the
catalogue: a wrong entry in the catalogue fails these tests.
"""

from __future__ import annotations

import gettext
import json
import re
import string
from pathlib import Path

import pytest

from trainguard.exceptions import ConfigError
from trainguard.findings import Finding, GateReport, Status, beyond
from trainguard.i18n import (
    LOCALE_DIR,
    Text,
    chinese_number,
    clause_title,
    finding_message,
    from_accept_language,
    resolve,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PO = LOCALE_DIR / "zh" / "LC_MESSAGES" / "trainguard.po"


def _extracted() -> set[str]:
    """Every message the code and templates mark, extracted as `make i18n` does."""
    from babel.messages import frontend
    from babel.messages.extract import extract_from_dir

    # parse_mapping_cfg since Babel 2.14; parse_mapping before (make test-lowest has 2.12)
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse(config)
    keywords = {"Text": None, "N_": None, "_": None, "gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _fields(text: str) -> list[str]:
    """The placeholders of a message: str.format fields and %-style names."""
    braces = sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)
    return braces + sorted(re.findall(r"%\((\w+)\)s", text))


def test_the_chinese_catalogue_translates_every_message_with_the_same_placeholders() -> None:
    from babel.messages.pofile import read_po

    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    entries = {m.id: m for m in catalogue if m.id}
    extracted = _extracted()
    assert len(extracted) > 250  # the extraction found the templates and the checks
    assert sorted(extracted - set(entries)) == [], "run `make i18n` and translate"
    for message_id in extracted:
        entry = entries[message_id]
        assert entry.string and not entry.fuzzy, f"untranslated: {message_id!r}"
        assert _fields(entry.string) == _fields(message_id), f"placeholders of {message_id!r}"


def test_the_compiled_catalogue_is_the_po_file() -> None:
    """The .mo the package ships says what the .po says (`make i18n` compiles it)."""
    from babel.messages.pofile import read_po

    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    compiled = gettext.GNUTranslations(PO.with_suffix(".mo").open("rb"))
    stale = [m.id for m in catalogue if m.id and compiled.gettext(m.id) != m.string]
    assert stale == [], "run `make i18n`"


@pytest.mark.parametrize(
    ("clause", "chinese"),
    [
        ("Art. 7(3)", "《办法》第七条第（三）项"),
        (
            "Art. 4; TC260-003 9.3",
            "《办法》第四条；TC260-003《生成式人工智能服务安全基本要求》 9.3",
        ),
        ("Art. 13, Art. 15 (draft)", "《办法》第十三条、第十五条"),
        ("Art. 7(1), 7(2); TC260-003 5.1 a", None),
        ("Art. 7(4) veracity, accuracy", "《办法》第七条第（四）项 真实性、准确性"),
        (
            "Art. 16; GB 45438-2025",
            "《办法》第十六条；GB 45438-2025《网络安全技术 人工智能生成合成内容标识方法》",
        ),
        ("Art. 8; GB/T 45674-2025", None),
    ],
)
def test_clauses_carry_their_official_chinese_titles(clause: str, chinese: str | None) -> None:
    shown = clause_title(clause, "zh")
    if chinese is not None:
        assert shown == chinese
    assert "Art." not in shown and clause_title(clause, "en") == clause
    if "7(1), 7(2)" in clause:
        assert shown.startswith("《办法》第七条第（一）项、第七条第（二）项；TC260-003《")
    if "45674" in clause:
        assert shown.endswith("《网络安全技术 生成式人工智能数据标注安全规范》")


def test_article_numbers_are_written_as_chinese_legal_text_writes_them() -> None:
    assert [chinese_number(n) for n in (1, 7, 10, 13, 17, 20)] == [
        "一",
        "七",
        "十",
        "十三",
        "十七",
        "二十",
    ]


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),  # Chrome set to Simplified Chinese
        ("en-US,en;q=0.5", "en"),  # Firefox, English
        ("zh-cn", "zh"),  # Safari's lower case
        ("fr-CH, fr;q=0.9, zh-Hans;q=0.8, en;q=0.7", "zh"),  # first one spoken here
        ("en;q=0.3, zh-TW;q=0.8", "zh"),  # quality wins over position
        ("de-DE,de;q=0.9", None),
        ("zh;q=0, en", "en"),  # q=0 means "not this one"
        ("", None),
    ],
)
def test_accept_language_picks_the_first_language_trainguard_speaks(
    header: str, language: str | None
) -> None:
    assert from_accept_language(header) == language


def test_an_explicit_language_wins_and_an_unknown_one_is_a_named_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAINGUARD_LANGUAGE", "zh")
    assert resolve() == "zh"
    assert resolve(accept_language="en-GB") == "en"
    assert resolve("en", accept_language="zh-CN") == "en"
    assert resolve(configured="zh_CN") == "zh"
    with pytest.raises(ConfigError, match=r"unknown language 'klingon'.*en, zh"):
        resolve("klingon")
    monkeypatch.setenv("TRAINGUARD_LANGUAGE", "fr")
    with pytest.raises(ConfigError, match="configured language"):
        resolve()


def _harmful_finding() -> Finding:
    from trainguard.checks.harmful import MESSAGES

    row = {
        "harmful_rate": 0.086,
        "harmful_sampled": 1200,
        "harmful_flagged": 103,
        "harmful_rate_low": 0.073,
        "harmful_rate_high": 0.101,
    }
    return Finding(
        check="harmful.rate",
        clauses=("Art. 7; TC260-003 5.1 a",),
        status=Status.FAIL,
        message=MESSAGES["harmful.rate"](row, "<= 0.05"),
        source_id="web-news",
    )


def test_a_finding_keeps_its_english_message_and_renders_in_chinese() -> None:
    finding = _harmful_finding()
    english = (
        "harmful rate 8.60% on a random sample of 1,200 (103 flagged; 95% bound 7.30%-10.10%) "
        "is above the 5% limit"
    )
    assert finding.message == english  # the JSON report's contract is unchanged
    record = json.loads(json.dumps(finding.to_dict()))
    assert record["message"] == english
    chinese = finding_message(record, "zh")
    assert chinese == (
        "随机抽样 1,200 条的有害率为 8.60%（标记 103 条；95% 置信区间 7.30%-10.10%），"
        "高于 5% 的上限"
    )
    assert finding_message(record, "en") == english
    # A report written before trainguard spoke Chinese has no template: English stays.
    assert finding_message({"message": "old"}, "zh") == "old"


def test_every_threshold_phrase_renders_in_both_languages() -> None:
    assert [str(beyond(t, percent=True)) for t in ("<= 0.05", ">= 0.9")] == [
        "above the 5% limit",
        "below the 90% minimum",
    ]
    assert beyond("between 1 and 5").render("zh") == "超出 1-5 的范围"
    assert beyond(">= 30", days=True).render("zh") == "低于 30 天 的下限"
    assert Text.from_dict(beyond("<= 0.05", percent=True).to_dict()).render("zh") == (
        "高于 5% 的上限"
    )


def test_the_cli_report_speaks_chinese() -> None:
    report = GateReport("pretraining", "md5:abc", 22_000, [_harmful_finding()])
    text = report.to_text("zh")
    assert "数据集 pretraining（22,000 条记录，md5:abc）" in text
    assert "结论：未通过" in text
    line = next(line for line in text.splitlines() if "harmful.rate" in line)
    assert line.startswith("  未通过 ") and "[来源 web-news]: 随机抽样 1,200 条的有害率" in line
    assert line.endswith("(《办法》第七条；TC260-003《生成式人工智能服务安全基本要求》 5.1 a)")
    assert "decision: FAIL" in report.to_text()


def test_the_cli_takes_lang_on_every_verb() -> None:
    from trainguard.cli.main import _parser

    parser, _handlers = _parser()
    from trainguard.cli.main import _finish_verbs

    _finish_verbs(parser)
    for argv in (["scan", "d", "--lang", "zh"], ["export", "create", "m", "1", "--out", "o"]):
        args = parser.parse_args(argv)
        assert getattr(args, "lang", None) in ("zh", None)
    with pytest.raises(SystemExit):
        parser.parse_args(["scan", "d", "--lang", "fr"])
