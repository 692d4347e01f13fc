"""The values the demo plants: personal information in the formats real text carries it
(spaced, dashed, full-width, with country prefixes), and decoys that look like PI but are
not (order numbers, expired IDs), so the scanner's precision is measured, not assumed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random


def _resident_id(rng: random.Random) -> str:
    region = rng.choice(["110101", "310104", "440305", "330106", "510107", "420102"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = region + birth + f"{rng.randint(0, 999):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return digits + str((10 - total % 10) % 10)


def _full_width(text: str) -> str:
    return text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def _mobile(rng: random.Random) -> tuple[str, str]:
    number = "1" + rng.choice("3456789") + "".join(str(rng.randint(0, 9)) for _ in range(9))
    style = rng.randint(0, 4)
    if style == 1:
        return number, f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return number, f"0086-{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 3:  # full-width digits, as typed on some Chinese keyboards
        return number, _full_width(number)
    if style == 4:  # zero-width spaces pasted in from a web page
        return number, f"{number[:3]}\u200b{number[3:7]}\u200b{number[7:]}"
    if rng.random() < 0.3:  # grouped with dots or en dashes
        sep = rng.choice([".", "\u2013"])
        return number, sep.join([number[:3], number[3:7], number[7:]])
    return number, number


def _grouped(value: str, sizes: tuple[int, ...], rng: random.Random) -> str:
    """``value`` cut into groups of ``sizes`` joined by one separator, as people type it."""
    sep = rng.choice([" ", "-", ".", "\u3000", "－"])
    groups, at = [], 0
    for size in sizes:
        groups.append(value[at : at + size])
        at += size
    return sep.join(groups)


# Card networks by IIN prefix and length (ISO/IEC 7812): UnionPay, Visa, Mastercard,
# American Express, Diners Club, JCB; with the grouping each is printed in.
_CARD_NETWORKS = [
    ("622202", 16, (4, 4, 4, 4)),
    ("622202", 19, (4, 4, 4, 4, 3)),
    ("4", 13, (4, 4, 4, 1)),
    ("4", 16, (4, 4, 4, 4)),
    ("51", 16, (4, 4, 4, 4)),
    ("37", 15, (4, 6, 5)),
    ("36", 14, (4, 6, 4)),
    ("3530", 16, (4, 4, 4, 4)),
]


_PI_TEMPLATES = {
    "mobile_phone": [
        "我的手机号是{v}，请尽快联系我。",
        "联系电话{v}，工作日可拨打。",
        "Call me at {v} after six.",
    ],
    "email": ["邮箱{v}欢迎来信。", "请把材料发到{v}谢谢。", "My email is {v} for updates."],
    "resident_id": ["身份证号码{v}已经登记。", "办理业务时提供了证件号{v}。"],
    "bank_card": ["退款请打到卡号{v}。", "银行卡 {v} 已绑定。"],
    "landline_phone": ["办公室座机{v}，上午有人。", "Office line {v} is open."],
    "passport": ["护照号{v}用于出境登记。", "Passport {v} was scanned."],
    "ip_address": ["登录地址{v}异常。", "Request came from {v} twice."],
    "license_plate": ["车牌{v}停在门口。", "我的车{v}被剐蹭了。"],
}
PI_KINDS = list(_PI_TEMPLATES)
SENSITIVE_DEMO_KINDS = ("resident_id", "bank_card")
# Values that look like PI but are not: they must never be reported.
_DECOYS = [
    "订单号2138123456789012已发货。",
    "旧证件110105194912310021作废。",
    "卡号6222021234567890127无效。",
    "版本2.10.300.4发布。",
    "证件号110105 19491231-002X格式有误。",
    "金额1 234 567 890元已入账。",
    "会议时间12:30:45开始。",
    "Ticket 138123456789 closed.",
]


def _resident_id_written(rng: random.Random) -> tuple[str, str]:
    value = _resident_id(rng)
    style = rng.randint(0, 3)
    if style == 1:  # region, birth date, sequence
        return value, _grouped(value, (6, 8, 4), rng)
    if style == 2:
        return value, _grouped(value, (6, 4, 4, 4), rng)
    return value, _full_width(value) if style == 3 else value


def _bank_card_written(rng: random.Random) -> tuple[str, str]:
    prefix, length, groups = rng.choice(_CARD_NETWORKS)
    card = _luhn_complete(prefix, length, rng)
    return card, _grouped(card, groups, rng) if rng.random() < 0.5 else card


def _landline_written(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(["010", "021", "0755", "0571"])
    local = str(rng.randint(2, 8)) + "".join(
        str(rng.randint(0, 9)) for _ in range(7 if len(area) == 3 else 6)
    )
    style = rng.random()
    if style < 0.2 and len(local) == 8:
        return area + local, _grouped(area + local, (len(area), 4, 4), rng)
    return area + local, f"{area}-{local}" if style < 0.7 else f"({area}){local}"


def _ip_written(rng: random.Random) -> tuple[str, str]:
    """IPv4 mostly; IPv6 compressed, IPv4-mapped (RFC 4291 2.5.5.2), link-local with a
    zone index, and upper case."""
    v4 = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    form = rng.randint(0, 9)
    if form < 6:
        return v4, v4
    if form == 6:
        return f"::ffff:{v4}", f"::ffff:{v4}"
    group, other = f"{rng.randint(1, 0xFFFF):x}", f"{rng.randint(1, 0xFFFF):x}"
    if form == 7:
        value = f"fe80::{group}:{other}%eth{rng.randint(0, 3)}"
        return value, value
    value = f"2001:db8:{group}::{other}"
    return value, value.upper() if form == 9 else value


def _pi_value(kind: str, rng: random.Random, index: int) -> tuple[str, str]:
    """(canonical value, how it is written in the text)."""
    written_by_kind = {
        "mobile_phone": _mobile,
        "resident_id": _resident_id_written,
        "bank_card": _bank_card_written,
        "landline_phone": _landline_written,
        "ip_address": _ip_written,
    }
    if kind in written_by_kind:
        return written_by_kind[kind](rng)
    if kind == "email":
        value = f"user{index:04d}@example{rng.randint(1, 9)}.cn"
        return value, value.upper() if rng.random() < 0.2 else value
    if kind == "passport":
        value = rng.choice("EG") + "".join(str(rng.randint(0, 9)) for _ in range(8))
        return value, value
    province = rng.choice("京沪粤浙苏川鄂湘")
    letter = rng.choice("ABCDEFGHJK")
    tail = "".join(str(rng.randint(0, 9)) for _ in range(5))
    return province + letter + tail, province + letter + tail
