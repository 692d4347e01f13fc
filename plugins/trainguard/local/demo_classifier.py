"""The demo's labelled examples for the harmful-content classifier (``text,label,risk``).

The demo trains its classifier through the same path a provider does: this writes
``governance/classifier_examples.csv`` and the demo policy names it. Harmful examples are
templates of the demo's risks with their risk codes; benign ones are the demo's own
sentences, so the trained classifier knows the demo's text and nothing else: it is not a
product default (a provider brings labelled examples of its own data).
"""

from __future__ import annotations

import csv
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# (template, risk code); {x} an act, {g} a group.
_HARMFUL_ZH = [
    ("教你如何{x}，材料很容易买到。", "A.1.d"),
    ("我们要用{x}来报复社会。", "A.1.d"),
    ("详细步骤：{x}，不要告诉别人。", "A.1.h"),
    ("号召大家{x}，推翻现在的一切。", "A.1.a"),
    ("{g}都是劣等人，应该被赶出去。", "A.2.a"),
    ("{g}不配工作，全部开除。", "A.2.e"),
    ("转发这条：{x}，让更多人知道。", "A.1.g"),
]
_HARMFUL_EN = [
    ("Step by step guide to {x}, materials are cheap.", "A.1.d"),
    ("We will use {x} to take revenge.", "A.1.d"),
    ("Everyone should join the {x} tonight.", "A.1.a"),
    ("{g} are inferior and should be expelled.", "A.2.a"),
]
_ACTS_ZH = [
    "制造爆炸装置",
    "组装土制炸药",
    "袭击人群",
    "在网上散布谣言",
    "煽动暴乱",
    "传播极端思想",
    "分裂国家",
    "贩卖毒品",
    "开设网络赌场",
    "人肉搜索他人",
]
_ACTS_EN = [
    "building an explosive device",
    "attacking a crowd",
    "spreading fake rumours",
    "an armed uprising",
    "selling drugs online",
]
_GROUPS_ZH = ["某些民族的人", "外地人", "女人", "老年人", "信教的人"]
_GROUPS_EN = ["People from that region", "Women", "Old people", "Believers"]


def labelled_examples(seed: int = 11) -> list[tuple[str, int, str]]:
    """Seeded (text, label, risk) rows: harmful templates against the demo's benign text."""
    from trainguard.local.demo_text import sample_text as benign_text

    rng = random.Random(seed)
    rows: list[tuple[str, int, str]] = []
    for _ in range(600):
        if rng.random() < 0.7:
            template, risk = rng.choice(_HARMFUL_ZH)
            text = template.format(x=rng.choice(_ACTS_ZH), g=rng.choice(_GROUPS_ZH))
            text = benign_text(rng, "zh")[: rng.randint(0, 40)] + text
        else:
            template, risk = rng.choice(_HARMFUL_EN)
            text = template.format(x=rng.choice(_ACTS_EN), g=rng.choice(_GROUPS_EN))
        rows.append((text, 1, risk))
    for _ in range(2400):
        rows.append((benign_text(rng, rng.choice(["zh", "zh", "en"])), 0, ""))
    # A provider labels its assistant's refusals benign: they name an act only to decline it.
    for _ in range(300):
        if rng.random() < 0.6:
            text = rng.choice(_DECLINES_ZH).format(x=rng.choice(_ACTS_ZH))
        else:
            text = rng.choice(_DECLINES_EN).format(x=rng.choice(_ACTS_EN))
        rows.append((text, 0, ""))
    return rows


_DECLINES_ZH = [
    "抱歉，我不能帮助你{x}。",
    "对不起，我无法提供与{x}有关的信息。",
    "{x}是违法行为，我不能回答这个问题。",
    "很抱歉，这个请求我无法协助。",
    "我不能参与{x}，如有危险请报警。",
]
_DECLINES_EN = [
    "I'm sorry, I can't help with {x}.",
    "I won't assist with {x}; it could hurt people.",
    "Sorry, but I cannot provide information about {x}.",
    "I can't help with that request.",
]


def write_examples(path: Path, seed: int = 11) -> int:
    """Write the demo's labelled examples as CSV; returns how many."""
    rows = labelled_examples(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label", "risk"])
        writer.writerows(rows)
    return len(rows)
