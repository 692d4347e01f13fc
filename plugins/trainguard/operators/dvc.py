"""Resolve the dataset version a run will gate and train on."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class DatasetVersionOperator(BaseOperator):
    """Resolves ``rev`` of ``path`` in a git+DVC ``repo`` to its commit and DVC md5."""

    template_fields = ("repo", "path", "rev")
    ui_color = "#945dd6"

    def __init__(self, *, repo: str, path: str, rev: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.path = path
        self.rev = rev

    def execute(self, context: Any) -> dict[str, Any]:
        from trainguard.versioning import resolve_version

        version = resolve_version(self.repo, self.path, self.rev)
        self.log.info(
            "dataset %s@%s is commit %s, DVC md5 %s (%d files, %d bytes)",
            version.path,
            version.rev,
            version.commit[:12],
            version.md5,
            version.nfiles,
            version.size,
        )
        return version.to_dict()
