"""The export task: write the signed provenance bundle of a model version."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class ProvenanceExportOperator(BaseOperator):
    """Writes ``trainguard.export`` bundle of ``model_name`` version ``model_version``.

    ``out`` defaults to ``$TRAINGUARD_HOME/exports/<model>/v<version>``. Exporting the same
    version again rewrites byte-identical files, so the task is safe to retry.
    """

    template_fields = ("model_name", "model_version", "out")
    ui_color = "#7a5bd6"

    def __init__(
        self, *, model_name: str, model_version: str, out: str = "", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.model_version = model_version
        self.out = out

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from trainguard.exceptions import ExportError, LineageError
        from trainguard.export.bundle import default_export_dir, export_bundle

        out = self.out or str(default_export_dir(self.model_name, str(self.model_version)))
        try:
            result = export_bundle(
                self.model_name,
                str(self.model_version),
                out,
                overwrite=True,
                exported_by=f"Airflow {context['dag'].dag_id}, run {context['run_id']}",
            )
        except (ExportError, LineageError) as exc:  # a retry cannot fix these; MLflow down can
            raise AirflowFailException(str(exc)) from None
        self.log.info(
            "wrote %d files to %s (manifest sha256 %s, %s)",
            len(result.files),
            result.out,
            result.manifest_sha256,
            result.algorithm,
        )
        return {
            "out": str(result.out),
            "files": result.files,
            "manifest_sha256": result.manifest_sha256,
            "algorithm": result.algorithm,
        }
