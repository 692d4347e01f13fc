"""Shard scanning as Airflow dynamic task mapping: list the shards, scan each; then the
near-duplicate stages as mapped groups, then the gate."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from trainguard.operators.context import (
    VERSION_TASK_ID,
    as_list,
    publishing_gate_errors,
    pull_version,
)


class DatasetShardsOperator(BaseOperator):
    """Fetches the version, checks its contract once, and returns its shard names."""

    template_fields = ("policy",)
    ui_color = "#945dd6"

    def __init__(
        self, *, policy: str | None = None, version_task_id: str = VERSION_TASK_ID, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.version_task_id = version_task_id

    def execute(self, context: Any) -> list[str]:
        from trainguard.pipeline import list_shards

        version = pull_version(context, self.version_task_id)
        shards = publishing_gate_errors(
            context, lambda: list_shards(version, policy_path=self.policy or None)
        )
        self.log.info("%d shard(s) to scan: %s", len(shards), ", ".join(shards))
        return shards


class ShardScanOperator(BaseOperator):
    """Scans one shard (PI and consent, lexicon, IP, signatures); map it over the shards."""

    template_fields = ("policy", "lexicons")
    ui_color = "#f0c05a"

    def __init__(
        self,
        *,
        shard: str,
        policy: str | None = None,
        lexicons: list[str] | str | None = None,
        version_task_id: str = VERSION_TASK_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.policy = policy
        self.lexicons = lexicons
        self.version_task_id = version_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from trainguard.pipeline import scan_version_shard

        version = pull_version(context, self.version_task_id)
        summary = publishing_gate_errors(
            context,
            lambda: scan_version_shard(
                version,
                self.shard,
                policy_path=self.policy or None,
                lexicons=as_list(self.lexicons),
            ),
        )
        self.log.info(
            "scanned %s: %d records, %d PI values (%d without consent), %d lexicon hits",
            summary["shard"],
            summary["records"],
            summary["pi_found"],
            summary["pi_uncovered"],
            summary["lexicon_hits"],
        )
        return summary


class NearDuplicatePlanOperator(BaseOperator):
    """Spills the scans' LSH band keys; returns the groups the near-duplicate stages map over."""

    template_fields = ("policy", "lexicons")
    ui_color = "#7fb3d5"

    def __init__(
        self,
        *,
        policy: str | None = None,
        lexicons: list[str] | str | None = None,
        version_task_id: str = VERSION_TASK_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.lexicons = lexicons
        self.version_task_id = version_task_id

    def execute(self, context: Any) -> list[int]:
        from trainguard.pipeline import plan_near_duplicates

        version = pull_version(context, self.version_task_id)
        groups = publishing_gate_errors(
            context,
            lambda: plan_near_duplicates(
                version,
                run_id=context["run_id"],
                policy_path=self.policy or None,
                lexicons=as_list(self.lexicons),
            ),
        )
        self.log.info("near-duplicate stages in %d group(s)", len(groups))
        return groups


class NearDuplicateStageOperator(BaseOperator):
    """One group of a near-duplicate stage (``pairs`` or ``windows``); map it over the
    groups ``NearDuplicatePlanOperator`` returns. Idempotent: a retry redoes its group."""

    template_fields = ("policy", "lexicons")
    ui_color = "#a9cce3"

    def __init__(
        self,
        *,
        stage: str,
        group: int,
        policy: str | None = None,
        lexicons: list[str] | str | None = None,
        version_task_id: str = VERSION_TASK_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.group = group
        self.policy = policy
        self.lexicons = lexicons
        self.version_task_id = version_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from trainguard.pipeline import near_duplicate_stage

        version = pull_version(context, self.version_task_id)
        return publishing_gate_errors(
            context,
            lambda: near_duplicate_stage(
                version,
                self.stage,
                int(self.group),
                run_id=context["run_id"],
                policy_path=self.policy or None,
                lexicons=as_list(self.lexicons),
            ),
        )
