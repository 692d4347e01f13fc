"""Labels of generated text (Art. 16; GB 45438-2025 Appendix E): explicit, implicit, signed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.cli.main import main
from trainguard.exceptions import ContractError
from trainguard.export.signing import generate_keypair
from trainguard.labelling import FIELDS, label_text, verify_label

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.unit
ANSWER_ZH = "长城是中国古代的军事防御工程，总长度超过两万公里。"
ANSWER_EN = "Descale a kettle by boiling a mixture of water and citric acid, then rinse it."


@pytest.fixture
def ed25519(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    private = tmp_path / "label-signing.pem"
    public = generate_keypair(private)
    monkeypatch.setenv("TRAINGUARD_EXPORT_SIGNING_KEY", str(private))
    return public


def test_a_chinese_answer_gets_both_labels_signed(ed25519: Path) -> None:
    labelled = label_text(ANSWER_ZH, producer="Demo Generative Services Co.", produce_id="a-1")
    assert labelled.text == f"【AI生成】{ANSWER_ZH}"
    assert list(labelled.aigc) == list(FIELDS)  # the seven fields, in the standard's order
    assert labelled.aigc["Label"] == "1" and labelled.aigc["ProduceID"] == "a-1"
    assert labelled.aigc["ReservedCode1"].startswith("ed25519:")
    assert verify_label(labelled.to_dict(), public_key=ed25519) == []


def test_an_english_answer_gets_the_english_label_once(ed25519: Path) -> None:
    once = label_text(ANSWER_EN, producer="demo", produce_id="b-2")
    assert once.text == f"[AI-generated]{ANSWER_EN}"
    again = label_text(once.text, producer="demo", produce_id="b-2")
    assert again.text == once.text  # not labelled twice


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(text=d["text"] + " Edited."), "signature does not match"),
        (lambda d: d["metadata"]["AIGC"].update(ContentProducer="other"), "does not match"),
        (lambda d: d.update(text=d["text"].removeprefix("[AI-generated]")), "no explicit label"),
        (lambda d: d["metadata"]["AIGC"].pop("PropagateID"), "AIGC.PropagateID is missing"),
        (lambda d: d["metadata"]["AIGC"].update(Label="7"), "not 1, 2 or 3"),
        (lambda d: d["metadata"]["AIGC"].update(Extra="x"), "unknown fields: Extra"),
        (lambda d: d["metadata"].pop("AIGC"), "no implicit label"),
    ],
)
def test_every_change_to_a_labelled_output_is_named(
    ed25519: Path, change: Callable[[dict[str, Any]], object], problem: str
) -> None:
    document = label_text(ANSWER_EN, producer="demo", produce_id="c-3").to_dict()
    change(document)
    assert any(problem in found for found in verify_label(document, public_key=ed25519))


def test_fields_hold_only_allowed_characters(ed25519: Path) -> None:
    with pytest.raises(ContractError, match="ContentProducer"):
        label_text(ANSWER_EN, producer='Demo "Co"')
    with pytest.raises(ContractError, match="ProduceID"):
        label_text(ANSWER_EN, producer="demo", produce_id="x" * 257)
    with pytest.raises(ContractError, match="Label"):
        label_text(ANSWER_EN, producer="demo", label="4")


def test_an_hmac_signed_label_needs_the_shared_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINGUARD_EXPORT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("TRAINGUARD_EXPORT_KEY", "label-secret")
    document = label_text(ANSWER_ZH, producer="demo", produce_id="d-4").to_dict()
    assert document["metadata"]["AIGC"]["ReservedCode1"].startswith("hmac-sha256:")
    assert verify_label(document) == []
    assert verify_label(document, hmac_key="another-secret") != []


def test_the_cli_labels_and_verifies(
    ed25519: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer, labelled = tmp_path / "answer.txt", tmp_path / "answer.label.json"
    answer.write_text(ANSWER_ZH, encoding="utf-8")
    assert main(["label", "--file", str(answer), "--producer", "demo", "--out", str(labelled)]) == 0
    assert main(["label", "verify", str(labelled), "--public-key", str(ed25519)]) == 0
    document = json.loads(labelled.read_text(encoding="utf-8"))
    document["text"] += "!"
    labelled.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["label", "verify", str(labelled), "--public-key", str(ed25519)]) == 1
    assert "signature does not match" in capsys.readouterr().err
    labelled.write_text("{not json", encoding="utf-8")
    assert main(["label", "verify", str(labelled), "--public-key", str(ed25519)]) == 2
    assert "not JSON (line 1" in capsys.readouterr().err
