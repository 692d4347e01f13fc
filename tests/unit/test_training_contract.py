"""The training contract's request, declaration and trainer lookup (no MLflow needed)."""

from __future__ import annotations

import pytest

from trainguard.exceptions import ContractError
from trainguard.training import Trainer, TrainingRequest, entry_point_trainer

pytestmark = pytest.mark.unit

DATASET = {
    "repo": "/srv/data-repo",
    "path": "datasets/finetuning",
    "rev": "fix-V-20261204-0000abcd-datasets-finetuning",
    "commit": "a" * 40,
    "md5": "0123456789abcdef0123456789abcdef",
    "size": 1024,
    "nfiles": 3,
    "remote": "/srv/dvc-remote",
}


def request(**changes: object) -> TrainingRequest:
    fields: dict[str, object] = {
        "model_name": "support-bot",
        "stage": "finetuning",
        "dataset": DATASET,
        "gate_run_id": "f" * 32,
        "violation_ids": ["V-20261204-0000abcd"],
        "base_model_uri": "models:/support-bot/7",
    }
    return TrainingRequest(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_request_survives_the_dag_conf_and_keeps_its_id() -> None:
    original = request()
    conf = original.to_conf()
    assert conf["trainguard_request"]["request_id"] == original.request_id
    again = TrainingRequest.from_conf(conf)
    assert again == original
    assert again.request_id == original.request_id
    assert again.version.md5 == DATASET["md5"]


def test_the_request_id_names_the_data_the_gate_and_the_violations() -> None:
    ids = {
        request().request_id,
        request(dataset={**DATASET, "md5": "f" * 32}).request_id,
        request(gate_run_id="e" * 32).request_id,
        request(violation_ids=["V-20261204-0000ffff"]).request_id,
    }
    assert len(ids) == 4
    # Not the base model or a retry: the same order is the same request.
    assert request(base_model_uri="models:/support-bot/8").request_id == request().request_id


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        (None, "trainguard_request"),
        ({"something": "else"}, "trainguard_request"),
        ({"trainguard_request": {"dataset": {"repo": "r"}}}, "trainguard_request.dataset"),
        (
            {"trainguard_request": {"dataset": DATASET, "stage": "finetuning", "gate_run_id": "g"}},
            "trainguard_request.model_name",
        ),
    ],
)
def test_a_conf_without_a_valid_request_is_refused_naming_the_field(
    conf: dict[str, object] | None, field: str
) -> None:
    with pytest.raises(ContractError) as refused:
        TrainingRequest.from_conf(conf)
    assert refused.value.field == field


def test_a_tampered_request_is_refused() -> None:
    conf = request().to_conf()
    conf["trainguard_request"]["dataset"] = {**DATASET, "md5": "f" * 32}  # id kept: a swap
    with pytest.raises(ContractError, match="does not match"):
        TrainingRequest.from_conf(conf)


@pytest.mark.parametrize("value", ["", "dag", "dag:", "airflow:x", "entry_point:  "])
def test_a_malformed_declaration_is_named(value: str) -> None:
    with pytest.raises(ContractError, match="dag:<dag_id> or entry_point:<name>"):
        Trainer.parse(value, model_name="support-bot")


def test_declarations_parse() -> None:
    assert Trainer.parse("dag:team_training", model_name="m") == Trainer("dag", "team_training")
    assert str(Trainer.parse("entry_point:ngram", model_name="m")) == "entry_point:ngram"


def test_an_unknown_entry_point_lists_the_installed_ones() -> None:
    with pytest.raises(ContractError, match=r"no trainer 'nope'.*installed: ngram, responder"):
        entry_point_trainer("nope")
    assert callable(entry_point_trainer("responder"))
