"""The chain from a fine-tuned (or fixed) model version to its base models' data.

A fine-tuned model was trained on its own data and, through its base model, on the base
model's: the provenance export (Art. 17) follows ``trainguard.base_model`` tags down the
chain and shows, for each base, the dataset version its gates admitted and their decision.
"""

from __future__ import annotations

import re
from typing import Any

from trainguard.tracking import BASE_MODEL_TAG, TAG_PREFIX, gate_decision, mlflow_errors

MAX_BASE_DEPTH = 10  # a chain longer than this is a cycle or a mistake; it is cut there


def base_chain(client: Any, tags: dict[str, str]) -> list[dict[str, Any]]:
    """The models a fine-tuned (or fixed) version continues, nearest first, each with the
    dataset version its gates admitted and their decisions: the data of a fine-tuned
    model includes its base model's data (Art. 7, 17). A base that is no longer
    registered stays in the chain, marked, so the export shows the gap."""
    from mlflow.exceptions import MlflowException

    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    uri = tags.get(BASE_MODEL_TAG, "")
    while uri and uri not in seen and len(chain) < MAX_BASE_DEPTH:
        seen.add(uri)
        link: dict[str, Any] = {
            "model": uri,
            "found": False,
            "dataset": None,
            "md5": None,
            "gate_run_ids": [],
            "decision": None,
        }
        chain.append(link)
        match = re.fullmatch(r"models:/([^/]+)/([0-9]+)", uri)
        if not match:
            break
        with mlflow_errors(f"read the base model {uri}"):
            try:
                base = client.get_model_version(match.group(1), match.group(2))
            except MlflowException as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(exc.error_code):
                    raise
                break
            base_tags = base.tags
            gate_ids = [r for r in base_tags.get(f"{TAG_PREFIX}gate_run_id", "").split(",") if r]
            decisions = [gate_decision(client.get_run(run_id)) for run_id in gate_ids]
        link.update(
            {
                "found": True,
                "dataset": f"{base_tags.get(f'{TAG_PREFIX}dataset.path')}@"
                f"{base_tags.get(f'{TAG_PREFIX}dataset.rev')}",
                "md5": base_tags.get(f"{TAG_PREFIX}dataset.digest"),
                "gate_run_ids": gate_ids,
                # None when no gate run is recorded; else pass only if every gate passed.
                "decision": None
                if not decisions
                else "pass"
                if all(d == "pass" for d in decisions)
                else "fail",
            }
        )
        uri = base_tags.get(BASE_MODEL_TAG, "")
    return chain


def base_chain_lines(chain: list[dict[str, Any]]) -> list[str]:
    """The chain for a terminal: a line per base model, nearest first."""
    return [
        f"base model {link['model']}: "
        + (
            f"dataset {link['dataset']} (DVC md5 {link['md5']}), gate "
            f"{str(link['decision'] or 'not recorded').upper()} "
            f"({', '.join(link['gate_run_ids']) or 'no gate run'})"
            if link["found"]
            else "NOT FOUND in this MLflow: its data cannot be traced"
        )
        for link in chain
    ]
