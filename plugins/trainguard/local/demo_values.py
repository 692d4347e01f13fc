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
    return number, number


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
    "版本1.2.3.4.5发布。",
    "会议时间12:30:45开始。",
    "Ticket 138123456789 closed.",
]


def _pi_value(kind: str, rng: random.Random, index: int) -> tuple[str, str]:
    """(canonical value, how it is written in the text)."""
    if kind == "mobile_phone":
        return _mobile(rng)
    if kind == "email":
        value = f"user{index:04d}@example{rng.randint(1, 9)}.cn"
        return value, value.upper() if rng.random() < 0.2 else value
    if kind == "resident_id":
        value = _resident_id(rng)
        return value, value
    if kind == "bank_card":
        card = _luhn_complete("622202", rng.choice([16, 19]), rng)
        spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
        return card, spaced if rng.random() < 0.5 else card
    if kind == "landline_phone":
        area = rng.choice(["010", "021", "0755", "0571"])
        local = str(rng.randint(2, 8)) + "".join(
            str(rng.randint(0, 9)) for _ in range(7 if len(area) == 3 else 6)
        )
        return area + local, f"{area}-{local}" if rng.random() < 0.7 else f"({area}){local}"
    if kind == "passport":
        value = rng.choice("EG") + "".join(str(rng.randint(0, 9)) for _ in range(8))
        return value, value
    if kind == "ip_address":
        if rng.random() < 0.7:
            value = (
                f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
                f"{rng.randint(1, 254)}"
            )
        else:
            value = f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
        return value, value
    province = rng.choice("京沪粤浙苏川鄂湘")
    letter = rng.choice("ABCDEFGHJK")
    tail = "".join(str(rng.randint(0, 9)) for _ in range(5))
    return province + letter + tail, province + letter + tail
