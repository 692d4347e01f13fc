"""PI detection: every kind and spelling found, near misses rejected, offsets into the original."""

from __future__ import annotations

import pyarrow as pa
import pytest

from trainguard.scanners.pi import find_pi, luhn_valid, scan_pi, valid_resident_id

pytestmark = pytest.mark.unit

VALID_ID = "11010519491231002X"  # GB 11643 example: check digit X
VALID_CARD = "6222021234567890128"  # Luhn-valid, 19 digits


def kinds(text: str) -> list[tuple[str, str]]:
    return [(m.kind.value, text[m.start : m.end]) for m in find_pi(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手机13812345678请回电", [("mobile_phone", "13812345678")]),
        ("电话+86 138 1234 5678。", [("mobile_phone", "+86 138 1234 5678")]),
        ("0086-138-1234-5678", [("mobile_phone", "0086-138-1234-5678")]),
        ("全角１３８１２３４５６７８号码", [("mobile_phone", "１３８１２３４５６７８")]),
        ("零宽138\u200b1234\u200b5678好", [("mobile_phone", "138\u200b1234\u200b5678")]),
        ("座机010-62345678转", [("landline_phone", "010-62345678")]),
        ("(0755)2345678", [("landline_phone", "(0755)2345678")]),
        ("邮箱zhang.san@example.com谢谢", [("email", "zhang.san@example.com")]),
        (f"身份证{VALID_ID}已登记", [("resident_id", VALID_ID)]),
        ("旧证号110105491231002。", [("resident_id", "110105491231002")]),
        (f"卡号{VALID_CARD}", [("bank_card", VALID_CARD)]),
        ("卡 6222 0212 3456 7890 128 ok", [("bank_card", "6222 0212 3456 7890 128")]),
        ("护照E12345678办理", [("passport", "E12345678")]),
        ("来自192.168.10.23的请求", [("ip_address", "192.168.10.23")]),
        ("v6 2001:db8::8a2e:370:7334 here", [("ip_address", "2001:db8::8a2e:370:7334")]),
        ("车牌京A12345停在", [("license_plate", "京A12345")]),
        ("粤B·D12345新能源", [("license_plate", "粤B·D12345")]),
    ],
)
def test_finds_each_kind_with_original_offsets(text: str, expected: list[tuple[str, str]]) -> None:
    """Each kind is found, and its offsets cut the value out of the original text."""
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "身份证110105194912310021",  # wrong check digit
        "身份证110105194902300026",  # 30 February
        "卡号6222021234567890127",  # Luhn fails
        "订单2138123456789012",  # a mobile number inside a longer digit run
        "编号138123456789",  # 12 digits: not a mobile number
        "版本1.2.3.4.5发布",  # a dotted version, not an IPv4 address
        "地址999.1.1.1无效",  # out-of-range octet
        "时间12:30:45开始",  # a clock time, not IPv6
        "only 2023 and 42 here",
    ],
)
def test_rejects_near_misses(text: str) -> None:
    """Near misses of every kind are not reported."""
    assert kinds(text) == []


def test_checksums() -> None:
    """GB 11643 mod 11-2 and Luhn agree with known values."""
    assert valid_resident_id(VALID_ID) and not valid_resident_id(VALID_ID[:-1] + "1")
    assert luhn_valid("4539578763621486") and not luhn_valid("4539578763621487")


def test_email_inside_digits_wins_over_phone() -> None:
    """A phone-like run inside an email address is one email, not two values."""
    assert kinds("user13812345678@example.cn") == [("email", "user13812345678@example.cn")]


def test_batch_scan_reports_only_rows_with_pi() -> None:
    """The prefiltered batch scan returns matches by row, skipping rows without PI."""
    texts = pa.array(["no pi here", "电话13812345678", None, "mail a@b.cn and 13912345678"])
    found = scan_pi(texts)
    assert sorted(found) == [1, 3]
    assert [m.kind.value for m in found[3]] == ["email", "mobile_phone"]
