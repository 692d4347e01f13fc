"""The trigger parameters every gate DAG shares (conf keys other tools rely on)."""

from __future__ import annotations

from typing import Any


def gate_params(*, path: str, model_name: str) -> dict[str, Any]:
    """repo, path, rev, policy, lexicons and model_name, with this DAG's defaults."""
    from airflow.sdk import Param

    return {
        "repo": Param("", type="string", minLength=1,
                      description="git repository whose dataset is DVC-tracked"),
        "path": Param(path, type="string", description="dataset directory inside the repository"),
        "rev": Param("clean", type="string", description="git tag, branch or commit"),
        "policy": Param("", type="string", description="policy YAML (empty: defaults)"),
        "lexicons": Param([], type="array", description="extra lexicon CSVs (term,risk)"),
        "model_name": Param(model_name, type="string"),
    }
