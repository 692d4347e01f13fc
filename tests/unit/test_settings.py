"""settings.py: the one reader of the environment, and the provider metadata Airflow reads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from trainguard import settings

pytestmark = pytest.mark.unit


def test_env_falls_back_to_the_declared_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset or empty variable reads as its declared default; a set one wins."""
    monkeypatch.delenv("TRAINGUARD_SMTP", raising=False)
    assert settings.env("TRAINGUARD_SMTP") == "localhost:25"
    monkeypatch.setenv("TRAINGUARD_SMTP", "")
    assert settings.env("TRAINGUARD_SMTP") == "localhost:25"
    monkeypatch.setenv("TRAINGUARD_SMTP", "mail.example.org:587")
    assert settings.env("TRAINGUARD_SMTP") == "mail.example.org:587"


def test_an_undeclared_variable_is_a_bug_not_a_silent_empty_string() -> None:
    """Reading a name settings does not declare raises, so every setting is documented."""
    with pytest.raises(KeyError):
        settings.env("TRAINGUARD_NO_SUCH_SETTING")


def test_home_defaults_to_the_user_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """TRAINGUARD_HOME when set, else ~/.trainguard."""
    monkeypatch.delenv("TRAINGUARD_HOME", raising=False)
    assert settings.trainguard_home() == Path.home() / ".trainguard"
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path))
    assert settings.trainguard_home() == tmp_path


def test_provider_info_matches_airflows_schema() -> None:
    """get_provider_info() validates against Airflow's provider_info schema and declares
    every [trainguard] option with its default."""
    import jsonschema

    spec = importlib.util.find_spec("airflow")  # the schema file only; Airflow not imported
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    schema = json.loads((folder / "provider_info.schema.json").read_text(encoding="utf-8"))
    info = settings.get_provider_info()
    jsonschema.validate(info, schema)
    options = info["config"]["trainguard"]["options"]
    assert set(options) == set(settings.OPTIONS)
    assert options["scan_retries"]["default"] == "0"
    assert options["reviewer_roles"]["default"] == "op, admin"
    # The DAGs the wheel carries and the operator modules, as `airflow providers get` shows.
    dags = {d["dag-id"]: d["description"] for d in info["dags"]}
    assert {"pretraining_gate", "finetune_gate", "model_assessment"} <= set(dags)
    assert dags["model_assessment"].startswith("Assess what a model version says")
    assert "trainguard.operators.gate" in info["operators"][0]["python-modules"]


def test_the_entry_point_names_get_provider_info() -> None:
    """pyproject declares apache_airflow_provider -> trainguard.settings:get_provider_info."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    target = project["entry-points"]["apache_airflow_provider"]["provider_info"]
    assert target == "trainguard.settings:get_provider_info"
