"""Lexicon matching: evasions caught, boundaries respected, bad lexicons named."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from trainguard.exceptions import ContractError
from trainguard.scanners.lexicon import Lexicon

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def lexicon(tmp_path: Path, rows: str) -> Lexicon:
    path = tmp_path / "lexicon.csv"
    path.write_text("term,risk\n" + rows, encoding="utf-8")
    return Lexicon.load([path])


@pytest.mark.parametrize(
    "text",
    [
        "如何制作炸弹",
        "如何制 作 炸 弹",
        "制-作·炸！弹",
        "制\u200b作炸弹",
        "ＢＯＭＢ MAKING guide",
        "Bomb-making guide",
    ],
)
def test_evasions_are_caught(tmp_path: Path, text: str) -> None:
    """Spaces, punctuation, zero-width characters, full width and case do not hide a term."""
    matcher = lexicon(tmp_path, "制作炸弹,A.1.d\nbomb making,A.1.d\n").matcher
    assert matcher.match(pa.array([text])) == {0: {"A.1.d"}}


def test_hits_never_straddle_two_records(tmp_path: Path) -> None:
    """A term split across the end of one record and the start of the next is no hit."""
    matcher = lexicon(tmp_path, "制作炸弹,A.1.d\n").matcher
    assert matcher.match(pa.array(["今天制作", "炸弹很多", "制作炸弹"])) == {2: {"A.1.d"}}


def test_several_risks_in_one_record(tmp_path: Path) -> None:
    """A record with two terms carries both risk codes; clean records are absent."""
    matcher = lexicon(tmp_path, "血腥暴力,A.1.f\n地域黑,A.2.d\n").matcher
    assert matcher.match(pa.array(["血腥暴力和地域黑", "普通文本", None])) == {
        0: {"A.1.f", "A.2.d"}
    }


def test_unknown_risk_code_names_row(tmp_path: Path) -> None:
    """A risk code outside the 31-risk taxonomy is rejected with its line."""
    with pytest.raises(
        ContractError,
        match=r"lexicon\.csv, row 3, field 'risk': unknown risk "
        r"code 'A\.9\.z'",
    ):
        lexicon(tmp_path, "暴力,A.1.f\n坏词,A.9.z\n")


def test_wrong_header_is_rejected(tmp_path: Path) -> None:
    """A lexicon without the term,risk header is rejected."""
    path = tmp_path / "bad.csv"
    path.write_text("word,code\n暴力,A.1.f\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"expected term,risk"):
        Lexicon.load([path])


def test_coverage_counts_terms_per_risk(tmp_path: Path) -> None:
    """Coverage counts the distinct terms of each risk code."""
    coverage = lexicon(tmp_path, "a1,A.1.a\na2,A.1.a\nb,A.2.b\n").coverage()
    assert coverage == {"A.1.a": 2, "A.2.b": 1}


def test_non_utf8_lexicon_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A lexicon saved in GBK is bad input with its file named, like every CSV."""
    path = tmp_path / "gbk.csv"
    path.write_bytes("term,risk\n暴力,A.1.f\n".encode("gbk"))
    with pytest.raises(ContractError, match=r"gbk\.csv: not UTF-8 text"):
        Lexicon.load([path])
