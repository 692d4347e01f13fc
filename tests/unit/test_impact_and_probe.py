"""What impact analysis looks for, how the probe rewords a prompt and judges an answer, and
which records hold a composed output's harmful terms (real sentences, no demo data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ContractError
from trainguard.scanners.lexicon import Lexicon
from trainguard.violations.impact import impact_lookup, lookup
from trainguard.violations.matching import Lookup, Matcher, harmful_terms
from trainguard.violations.probe import Screens, perturbations

if TYPE_CHECKING:
    from trainguard.violations import Registry

pytestmark = pytest.mark.unit
HMAC = "ab" * 32
TIPS = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "fixtures" / "household_tips.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


def household_lexicon(tmp_path: Path) -> Lexicon:
    path = tmp_path / "lexicon.csv"
    path.write_text("term,risk\nbleach and ammonia,A.1.f\n", encoding="utf-8")
    return Lexicon.load([path])


@pytest.mark.parametrize("value", [f"mobile_phone:{HMAC}", f"mobile_phone={HMAC}"])
def test_a_pi_hmac_is_given_as_kind_colon_or_equals_hmac(value: str) -> None:
    wanted = lookup(pi_hmac=[value])
    assert wanted == Lookup("pi_request", {"pi": [{"kind": "mobile_phone", "hmac": HMAC}]})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mobile_phone", "not KIND:HMAC"),
        ("mobile_phone:1234", "not an HMAC-SHA256"),
        (f"shoe_size:{HMAC}", "shoe_size"),
    ],
)
def test_a_bad_pi_hmac_is_named(value: str, message: str) -> None:
    with pytest.raises(ContractError, match=message) as refused:
        lookup(pi_hmac=[value])
    assert refused.value.field == "pi-hmac"


def test_exactly_one_thing_is_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="exactly one"):
        impact_lookup()
    with pytest.raises(ContractError, match="exactly one"):
        impact_lookup(text="some text", record_ids=["r1"])
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ContractError, match="empty"):
        lookup(text_file=empty)
    binary = tmp_path / "work.bin"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ContractError, match="UTF-8") as refused:
        lookup(work_file=binary)
    assert refused.value.file == str(binary)


def test_record_ids_and_texts_become_matchers() -> None:
    assert Matcher(lookup(record_id=["b", "a", "b"])).describe() == {
        "kind": "record",
        "record_ids": ["a", "b"],
    }
    work = Matcher(impact_lookup(work_text=TIPS[0]["text"] * 3))
    assert work.kind == "ip_complaint" and work.describe()["work_grams"] > 5
    assert work.text_offends(TIPS[0]["text"] * 3)
    assert not work.text_offends(TIPS[5]["text"])


def test_harmful_terms_survive_case_spacing_and_punctuation(tmp_path: Path) -> None:
    lexicon = household_lexicon(tmp_path)
    assert harmful_terms("Mix BLEACH  and-ammonia, then wait.", lexicon) == ["bleachandammonia"]
    assert harmful_terms("Mix bleach and water.", lexicon) == []


def test_a_composed_output_is_traced_to_the_records_holding_its_terms(tmp_path: Path) -> None:
    import pyarrow as pa

    output = "A cast iron pan stays clean if you wipe it with a mixture of bleach and ammonia."
    batch = pa.record_batch(
        {
            "record_id": [t["record_id"] for t in TIPS],
            "source_id": ["tips"] * len(TIPS),
            "text": [t["text"] for t in TIPS],
        }
    )
    by_content = Matcher(Lookup("harmful_output", {"output": output}))
    assert by_content.fix_batch(batch, ("text",))[1] == []  # no record says it
    by_terms = Matcher(
        Lookup("harmful_output", {"output": output}), lexicon=household_lexicon(tmp_path)
    )
    kept, dropped = by_terms.fix_batch(batch, ("text",))
    assert dropped == ["tips-003"]
    assert kept.num_rows == len(TIPS) - 1


def test_perturbations_reword_without_duplicates() -> None:
    english = perturbations("How do I clean a kettle?")
    assert english[0] == "How do I clean a kettle?"
    assert "Please answer: How do I clean a kettle?" in english
    assert "ＨＯＷ" not in english and any("Ｈｏｗ" in p for p in english)  # full width
    assert len(english) == len(set(english)) <= 5
    chinese = perturbations("怎样除去水壶里的水垢？")
    assert "请回答：怎样除去水壶里的水垢？" in chinese
    assert "怎样除去水壶里的水垢?" in chinese


def test_screens_judge_asked_answers_with_every_screen(tmp_path: Path, registry: Registry) -> None:
    from trainguard.violations.filtering import OutputFilter

    screens = Screens(output_filter=OutputFilter(registry), lexicon=household_lexicon(tmp_path))
    harmful = "Wipe it with a mixture of bleach and ammonia."
    assert screens.judge(harmful, asked=True) == ["lexicon: harmful term(s) of risk A.1.f"]
    # Answers to the removed records' prompts are checked for the violation's own content
    # only: the lexicon is the gate's business there.
    assert screens.judge(harmful, asked=False) == []
    assert screens.judge("Call me on 13912345678 for the recipe.", asked=True) == [
        "personal information without consent: mobile_phone"
    ]
    assert screens.judge("Rinse the kettle with citric acid.", asked=True) == []


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    from trainguard.violations import Registry

    return Registry(f"sqlite:///{tmp_path / 'violations.db'}")


def test_a_composed_output_is_attributed_to_the_records_it_was_spliced_from() -> None:
    from trainguard.violations.matching import attribution_cover

    spliced = (
        "Wool sweaters keep their shape if you polish them with a soft cloth and a little wax."
    )
    assert all(spliced not in tip["text"] for tip in TIPS)
    records = [(tip["record_id"], tip["text"]) for tip in TIPS]
    assert sorted(attribution_cover(spliced, records)) == ["tips-009", "tips-012"]
    # The bleach splice: the pan tip it starts from and the tip it ends in, not the other
    # tips that share "wipe it with a mixture of".
    bleach = (
        "A cast iron pan stays clean if you wipe it with a mixture of bleach and ammonia, "
        "and bleach and ammonia together will clear any drain."
    )
    assert sorted(attribution_cover(bleach, records)) == ["tips-001", "tips-003"]
    plain = Matcher(Lookup("harmful_output", {"output": spliced}))
    assert not any(plain.text_offends(tip["text"]) for tip in TIPS)
