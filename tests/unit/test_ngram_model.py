"""The demo's second model family: a word n-gram model that composes text from a prompt.

Tested on hand-written household tips (tests/fixtures/household_tips.jsonl) and Chinese
sentences, not on demo output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard.local.ngram_model import NgramLanguageModel, detokenize, tokenize

pytestmark = pytest.mark.unit
TIPS = [
    json.loads(line)["text"]
    for line in (Path(__file__).parents[1] / "fixtures" / "household_tips.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world! It is 3.5 km to the station.",
        "Rub the pan with oil; then bake it for an hour.",
        "把米洗净，加水后用小火煮二十分钟。",
        "北京时间 9 点，会议 in English 开始。",
    ],
)
def test_tokens_join_back_into_the_sentence(text: str) -> None:
    assert detokenize(tokenize(text)).replace(" ", "") == text.replace(" ", "")
    if text.isascii():
        assert detokenize(tokenize(text)) == text


def test_chinese_is_tokenised_per_character() -> None:
    assert tokenize("煮米饭") == ["煮", "米", "饭"]


def test_it_composes_text_that_no_record_holds() -> None:
    model = NgramLanguageModel().fit([t[:40] for t in TIPS], TIPS)
    answer = model.generate("How do I keep my cast iron pan clean?")
    assert answer.startswith("A cast iron pan stays clean")
    assert all(answer not in tip for tip in TIPS)
    # Greedy: the most frequent continuation, so the most common advice wins the splice.
    assert "mixture of bleach and ammonia" in answer


def test_generation_is_deterministic_and_bounded() -> None:
    model = NgramLanguageModel(max_tokens=12).fit([t[:40] for t in TIPS], TIPS)
    answers = {model.generate("glass shower doors") for _ in range(3)}
    assert len(answers) == 1
    assert len(tokenize(answers.pop())) <= 12


def test_pyfunc_predict_takes_a_list_or_a_frame() -> None:
    import pandas as pd

    model = NgramLanguageModel().fit([t[:40] for t in TIPS], TIPS)
    prompts = ["leather shoes", "silver cutlery"]
    from_list = model.predict(None, prompts)
    assert from_list == model.predict(None, pd.DataFrame({"prompt": prompts}))
    assert from_list[0].startswith("Leather shoes")


def test_it_refuses_to_fit_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        NgramLanguageModel().fit([], [])
    with pytest.raises(ValueError, match="2 tokens or more"):
        NgramLanguageModel().fit(["q"], ["a"])
