"""PI detection: every kind and spelling found, near misses rejected, offsets into the original."""

from __future__ import annotations

import pyarrow as pa
import pytest

from trainguard.scanners.pi import (
    find_pi,
    luhn_valid,
    prefilter_pattern,
    scan_pi,
    valid_resident_id,
)

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
        "版本2.10.300.4发布",  # a dotted version with an impossible octet
        "Version 1.2.3 released",  # three parts: not an address
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


# Digit groups as people write them: spaces, hyphens, dots, full-width and Unicode dashes,
# one separator throughout a value. Offsets cut exactly the written value.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证110105 19491231 002X已登记", [("resident_id", "110105 19491231 002X")]),
        ("证件号110105-19491231-002X。", [("resident_id", "110105-19491231-002X")]),
        ("证件号110105.1949.1231.002X。", [("resident_id", "110105.1949.1231.002X")]),
        (
            "全角１１０１０５　１９４９１２３１　００２Ｘ完",
            [("resident_id", "１１０１０５　１９４９１２３１　００２Ｘ")],
        ),
        ("证号110105－19491231－002x", [("resident_id", "110105－19491231－002x")]),
        ("手机138.1234.5678", [("mobile_phone", "138.1234.5678")]),
        ("手机138 1234 5678。", [("mobile_phone", "138 1234 5678")]),
        ("手机138\u20131234\u20135678", [("mobile_phone", "138\u20131234\u20135678")]),
        ("手机１３８－１２３４－５６７８", [("mobile_phone", "１３８－１２３４－５６７８")]),
        ("座机010 6234 5678", [("landline_phone", "010 6234 5678")]),
        ("座机0571.8765.4321", [("landline_phone", "0571.8765.4321")]),
        ("座机(010) 62345678", [("landline_phone", "(010) 62345678")]),
        ("卡号6222.0212.3456.7890.128", [("bank_card", "6222.0212.3456.7890.128")]),
        (
            "卡号６２２２　０２１２　３４５６　７８９０　１２８",
            [("bank_card", "６２２２　０２１２　３４５６　７８９０　１２８")],
        ),
        ("Amex 3714 496353 98431 ok", [("bank_card", "3714 496353 98431")]),
        ("Diners 3056-930902-5904 ok", [("bank_card", "3056-930902-5904")]),
    ],
)
def test_finds_separated_forms(text: str, expected: list[tuple[str, str]]) -> None:
    """Grouped values are found whole, at their original offsets."""
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "身份证110105 19491231-002X",  # two different separators
        "编号110105 19491231 0021",  # grouped, but the check digit is wrong
        "日期2019-03-07 12:30",  # a date and a time
        "电话138 1234 567",  # one digit short
        "金额1 234 567 890元",  # thousands grouped with spaces
        "订单1701234567890",  # a 13-digit millisecond timestamp: not a Visa prefix
        "sku 5555 5555 5555 4445",  # grouped like a card, Luhn fails
        "0571 1234 5678",  # the local number cannot start with 1
    ],
)
def test_rejects_separated_near_misses(text: str) -> None:
    """Grouping does not turn a near miss into a value."""
    assert kinds(text) == []


# Payment cards of every major network, 13-19 digits (ISO/IEC 7812, Luhn).
@pytest.mark.parametrize(
    "card",
    [
        "4222222222222",  # Visa, 13 digits
        "30569309025904",  # Diners Club, 14
        "38520000023237",  # Diners Club, 14
        "371449635398431",  # American Express, 15
        "378282246310005",  # American Express, 15
        "4111111111111111",  # Visa, 16
        "5555555555554444",  # Mastercard, 16
        "2223003122003222",  # Mastercard 2-series, 16
        "6011111111111117",  # Discover, 16
        "3530111333300000",  # JCB, 16
        "6200000000000005",  # UnionPay, 16
        "6222021234567890128",  # UnionPay debit, 19
        "4000000000000000006",  # Visa, 19
    ],
)
def test_finds_cards_of_every_network(card: str) -> None:
    """Each network's test number is one bank card, alone and inside Chinese text."""
    assert kinds(card) == [("bank_card", card)]
    assert kinds(f"卡号{card}已绑定") == [("bank_card", card)]


# Cases from a peer's public recognizer tests (microsoft/presidio,
# presidio-analyzer/tests/test_credit_card_recognizer.py and test_ip_recognizer.py):
# text, and the spans that peer expects at its default threshold.
PRESIDIO_CASES = [
    ("4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", [(0, 16), (17, 36), (37, 56)]),
    ("122000000000003", [(0, 15)]),
    ("my credit card: 122000000000003", [(16, 31)]),
    ("371449635398431", [(0, 15)]),
    ("5019717010103742", [(0, 16)]),
    ("30569309025904", [(0, 14)]),
    ("6011000400000000", [(0, 16)]),
    ("3528000700000000", [(0, 16)]),
    ("6759649826438453", [(0, 16)]),
    ("4917300800000000", [(0, 16)]),
    ("4484070000000000", [(0, 16)]),
    ("my credit card number is 4012-8888-8888-1882", []),
    ("36168002586008", []),
    ("microsoft.com 192.168.0.1", [(14, 25)]),
    ("my ip: 192.168.0", []),
    ("microsoft.com 684D:1111:222:3333:4444:5555:6:77", [(14, 47)]),
    ("684D:1111:222:3333:4444:5555:77", []),
    ("2345:0425:2CA1:0000:0000:0567:5673:23b5", [(0, 39)]),
    ("2345:0425:2CA1::0567:5673:23b5", [(0, 30)]),
    ("my ip: ::1", [(7, 10)]),
    ("connecting from ::1", [(16, 19)]),
    ("2400:c401::5054:ff:fe1b:b031", [(0, 28)]),
    ("fe80::1", [(0, 7)]),
    ("2001:db8:85a3::8a2e:370", [(0, 23)]),
    ("fe80::1%eth0", [(0, 12)]),
    ("Connect to [2001:db8::1]:8080", [(12, 23)]),
    ("Visit http://[2001:db8::1]/path", [(14, 25)]),
    ("SSH to user@2001:db8::1", [(12, 23)]),
    ("::ffff:192.0.2.1", [(0, 16)]),
    ("::ffff:0:192.168.1.1", [(0, 20)]),
    ("[::ffff:192.168.1.1]:80", [(1, 19)]),
    ("::192.168.1.1", [(0, 13)]),
    ("::ffff:256.0.0.1", []),
    ("::ffff:192.168.1", []),
    ("64:ff9b::192.0.2.1", [(0, 18)]),
    ("2001:db8:85a3::8a2e:192.168.0.1", [(0, 31)]),
    ("0:0:0:0:0:FFFF:129.144.52.38", [(0, 28)]),
    ("NAT64: 64:ff9b::198.51.100.1", [(7, 28)]),
    ("2001:db8::256.1.1.1", []),
    ("IPs: 192.168.1.1, 10.0.0.1, 2001:db8::1", [(5, 16), (18, 26), (28, 39)]),
    ("MAC address aa:bb:cc:dd:ee:ff", []),
    ("Time 12:34:56", []),
    ("Ratio 1:2:3:4", []),
    ("Port 80:443", []),
    ("abc:def:ghi", []),
    ("file:///path/to/file", []),
    ("std::cout", []),
    ("MyClass::toString", []),
    (":::", []),
    ("IP192.168.1.1text", []),
    ("text192.168.1.1", []),
    ("(192.168.1.1)", [(1, 12)]),
    ("IP: 192.168.1.1.", [(4, 15)]),
    ("Server IP: 2400:c401::5054:ff:fe1b:b031.", [(11, 39)]),
    ("2001:db8::1.", [(0, 11)]),
    ("fe80::1text", []),
    ("text2001:db8::1", []),
    ("192.168.1.1.1", [(0, 11)]),
    ("256.256.256.256", []),
    ("gggg:hhhh::1234", []),
    ("12345:db8::1", []),
    ("2001::db8::1", []),
    ("192.168.2.1@eth0", [(0, 11)]),
    ("text::ffff:192.0.2.1", [(11, 20)]),
    ("foo2001:db8::10.0.0.1", [(13, 21)]),
    ("Multicast ff02::1", [(10, 17)]),
    ("192.168.1.0/24", [(0, 14)]),
    ("2001:db8::/32", [(0, 13)]),
    ("fe80::/10", [(0, 9)]),
    ("::1/128", [(0, 7)]),
    ("fe80::1%eth0/64", [(0, 15)]),
    ("2001:db8::%eth0/128", [(0, 19)]),
    ("::ffff:192.168.1.0/96", [(0, 21)]),
    ("Route is 10.0.0.0/8.", [(9, 19)]),
    ("10.0.0.0/123", [(0, 8)]),
    ("2001:db8::/9999", [(0, 10)]),
]


@pytest.mark.parametrize(("text", "spans"), PRESIDIO_CASES)
def test_agrees_with_a_peers_public_cases(text: str, spans: list[tuple[int, int]]) -> None:
    """Cards and addresses are found at exactly the spans the peer's tests expect."""
    assert [(m.start, m.end) for m in find_pi(text)] == spans


@pytest.mark.parametrize("text", ["Unspecified ::", "src=:: dst=", "::/0", "slice a[::2]"])
def test_unspecified_address_and_slices_are_not_pi(text: str) -> None:
    """Deliberate difference from the peer, which scores these 0.05-0.15 (below its
    threshold): ``::`` names no host and ``[::2]`` is a Python slice."""
    assert kinds(text) == []


def test_prefilter_admits_every_separated_and_full_width_form() -> None:
    """The batch prefilter never drops a row the validated patterns would match."""
    rows = [text for text, _ in PRESIDIO_CASES if find_pi(text)] + [
        "手机138.1234.5678",
        "１９２．１６８．１．１",
        "ｆｅ８０：：１",
        "粤Ｂ１２３４５",
        "证号110105－19491231－002x",
        "手机138\u20131234\u20135678",
        "卡号６２２２　０２１２　３４５６　７８９０",
        "卡号6222\u00a00212\u00a03456\u00a07890",
    ]
    found = scan_pi(pa.array(rows))
    assert sorted(found) == [i for i, text in enumerate(rows) if find_pi(text)]
    assert len(found) == len(rows)


def _compatibility_forms() -> dict[str, list[str]]:
    """Every character whose NFKC form is one character of the PI alphabet, by that form."""
    import unicodedata

    forms: dict[str, list[str]] = {}
    for point in range(0x80, 0x110000):
        normal = unicodedata.normalize("NFKC", chr(point))
        if len(normal) == 1 and normal.isascii() and (normal.isalnum() or normal in ".:@-"):
            forms.setdefault(normal, []).append(chr(point))
    return forms


@pytest.mark.parametrize(
    "text",
    [
        "手机①③⑧①②③④⑤⑥⑦⑧",  # circled digits, a common way past keyword filters
        "手机𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",  # mathematical bold digits
        "手机⑬⑧①②③④⑤⑥⑦⑧",  # one character, two digits
        "服务器 ⒈⒈⒈1",  # "1." in one character: 1.1.1.1 in four
        "邮箱 zhang﹫example.com",  # small commercial at
        "主机 192﹒168․1﹒1",  # small full stop and one-dot leader
        "地址 fe80﹕﹕1",  # small colons
        "车牌粤\u200bB12345",  # a zero-width space between province and letter
        "车牌粤𝐁12345",  # a mathematical capital
        "电话010﹣62345678",  # small hyphen-minus
    ],
)
def test_prefilter_admits_compatibility_forms(text: str) -> None:
    """The validated patterns read NFKC text, so the prefilter must admit every character
    that normalises into a PI value: mathematical, circled, superscript and small forms,
    not only full-width ones (the recall defect of issue 19)."""
    assert find_pi(text), text
    assert scan_pi(pa.array([text])) == {0: find_pi(text)}


def test_prefilter_admits_any_mix_of_compatibility_forms() -> None:
    """Each character of real PI values swapped, at random, for a character with the same
    NFKC form: every spelling the validator accepts passes the prefilter."""
    import random

    forms = _compatibility_forms()
    values = [
        "手机13812345678", "邮箱 zhang.san@example.com", f"证号{VALID_ID}", f"卡号{VALID_CARD}",
        "IP 192.168.1.1", "IPv6 fe80::1", "车牌粤B12345", "车牌京A·F0236", "护照E12345678",
        "电话010-62345678", "(0755)2345678", "2001:db8::1", "护照EA1234567",
    ]  # fmt: skip
    rng = random.Random(19)
    spellings = []
    for value in values:
        for _ in range(300):
            spellings.append(
                "".join(
                    rng.choice(forms[char]) if char in forms and rng.random() < 0.5 else char
                    for char in value
                )
            )
    validated = [i for i, text in enumerate(spellings) if find_pi(text)]
    assert len(validated) == len(spellings)
    import pyarrow.compute as pc

    admitted = pc.match_substring_regex(pa.array(spellings), prefilter_pattern()).to_pylist()
    assert [spellings[i] for i in validated if not admitted[i]] == []


def test_a_fifteen_digit_amex_number_is_a_card_not_a_legacy_id() -> None:
    """370102850312006 also has the shape of a legacy ID (region 370102, born 1985-03-12):
    the Luhn check and the Amex prefix decide, since the legacy ID has no check digit."""
    assert kinds("卡号370102850312006") == [("bank_card", "370102850312006")]
    assert kinds("旧证号370102850312007") == [("resident_id", "370102850312007")]
    assert kinds("旧证号110105491231002。") == [("resident_id", "110105491231002")]


@pytest.mark.parametrize(
    "text", ["第3.2.1.4节规定", "见 Section 5.1.2.3 of the standard", "按5.1.2.3条执行"]
)
def test_section_numbers_are_not_addresses(text: str) -> None:
    """Standards number their clauses as dotted quads; marked as sections, they are not PI."""
    assert kinds(text) == []


def test_an_address_after_unrelated_text_is_still_found() -> None:
    """The section rule looks only at a marker right before or after the number."""
    assert kinds("第一台服务器192.168.1.1宕机") == [("ip_address", "192.168.1.1")]
    assert kinds("DNS 8.8.8.8 ok") == [("ip_address", "8.8.8.8")]


def test_a_beijing_legacy_id_that_passes_luhn_stays_an_id() -> None:
    """110105491231001 passes Luhn and starts with UATP's 1, but it is a legacy ID (region
    110105, born 1949-12-31): only Amex prefixes take a 15-digit number from the IDs."""
    assert kinds("旧证号110105491231001。") == [("resident_id", "110105491231001")]
    assert kinds("UATP 122000000000003") == [("bank_card", "122000000000003")]  # no real date


def test_compiled_normal_forms_find_what_python_finds() -> None:
    """The compiled per-character normalisation (used once a process has loaded the
    compiled engine) gives every PI spelling the same matches, at the same offsets, as
    Python's, with and without the hyperscan pass that says which patterns can match;
    rows whose characters vanish or expand are left to Python."""
    import random
    from pathlib import Path

    from trainguard.scanners.pi import _normal_forms, _normal_map
    from trainguard.scanners.squeeze import map_characters, squeeze

    squeeze(pa.array(["load the compiled engine"]), engine="compiled")
    forms = _compatibility_forms()
    rng = random.Random(23)
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    sentences = (fixtures / "benign_zh.txt").read_text(encoding="utf-8").splitlines()[1:40]
    values = [
        "13812345678", "zhang.san@example.com", VALID_ID, VALID_CARD, "192.168.1.1",
        "fe80::1", "粤B12345", "京A·F0236", "E12345678", "010-62345678", "(0755)2345678",
        "110105 19491231 002X", "6222 0212 3456 7890 128", "+86 138 1234 5678",
    ]  # fmt: skip
    texts = []
    for sentence in sentences:
        value = rng.choice(values)
        spelt = "".join(
            rng.choice(forms[c]) if c in forms and rng.random() < 0.3 else c for c in value
        )
        cut = rng.randrange(len(sentence) + 1)
        texts.append(sentence[:cut] + spelt + sentence[cut:])
        texts.append(sentence[:cut] + "\u200b".join(value) + sentence[cut:])
        texts.append(sentence[:cut] + "①③⑧" + value + sentence[cut:])
    normals, possible = _normal_forms(pa.array(texts))
    assert sum(normal is not None for normal in normals) > len(texts) // 2
    for text, normal, patterns in zip(texts, normals, possible, strict=True):
        if normal is not None:
            assert find_pi(text, normal) == find_pi(text), text
            assert find_pi(text, normal, patterns) == find_pi(text), text
    _, neighbourly = map_characters(pa.array(texts), _normal_map())
    assert [normal is None for normal in normals] == neighbourly.tolist()
