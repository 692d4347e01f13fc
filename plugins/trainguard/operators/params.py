"""The trigger parameters every gate DAG shares (conf keys other tools rely on)."""

from __future__ import annotations

from typing import Any


def gate_params(*, path: str, model_name: str, base_model: bool = False) -> dict[str, Any]:
    """repo, path, rev, policy, lexicons and model_name, with this DAG's defaults; a
    fine-tuning DAG also takes its base model."""
    from airflow.sdk import Param

    fine_tuning = {
        "base_model": Param(
            "",
            type="string",
            pattern=r"^(models:/[^/]+/[0-9]+)?$",
            description="base model the fine-tuning continues (models:/NAME/VERSION); its "
            "data's lineage joins the fine-tuned model's export",
        )
    }
    return {
        **(fine_tuning if base_model else {}),
        "repo": Param(
            "",
            type="string",
            minLength=1,
            description="git repository whose dataset is DVC-tracked",
        ),
        "path": Param(path, type="string", description="dataset directory inside the repository"),
        "rev": Param("clean", type="string", description="git tag, branch or commit"),
        "policy": Param("", type="string", description="policy YAML (empty: defaults)"),
        "lexicons": Param([], type="array", description="extra lexicon CSVs (term,risk)"),
        "model_name": Param(model_name, type="string"),
    }


def scan_retry_args() -> dict[str, Any]:
    """Retries of the mapped shard scans, from ``[trainguard] scan_retries`` (default 0).

    A scan is idempotent (it reads one shard and returns counts), so on a distributed
    executor a scan lost with its worker is simply run again elsewhere; the production
    stack sets 2. Embedded runs keep 0, so a corrupt shard fails at once.
    """
    import datetime

    from trainguard.settings import int_option

    return {
        "retries": int_option("scan_retries"),
        "retry_delay": datetime.timedelta(seconds=int_option("scan_retry_delay_seconds")),
    }
