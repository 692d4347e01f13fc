"""Provenance-export jobs of the Governance page and the REST API: write, sign and zip a
model version's bundle in the background, one folder per job, readable by every worker.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainguard.exceptions import ContractError, ExportError, LineageError, TrainguardError

EXPORT_JOB_ID = re.compile(r"^[0-9a-f]{16}$")
# An export job still "running" after this long was cut off (the server restarted).
STALE_EXPORT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class ExportJobs:
    """Export jobs on disk: ``<root>/<id>/job.json`` and, when done, the bundle and its zip.

    Kept on disk rather than in memory so every API-server worker sees every job.
    """

    root: Path

    @classmethod
    def default(cls) -> ExportJobs:
        from trainguard.settings import trainguard_home

        return cls(trainguard_home() / "exports" / "jobs")

    def _folder(self, job_id: str) -> Path:
        if not EXPORT_JOB_ID.fullmatch(job_id):
            raise ContractError("not an export job id", field="job_id", expected="16 hex digits")
        return self.root / job_id

    def _write(self, job: dict[str, Any]) -> dict[str, Any]:
        folder = self._folder(job["id"])
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / "job.json.partial"
        staging.write_text(json.dumps(job, indent=2), encoding="utf-8")
        staging.replace(folder / "job.json")
        return job

    def start(
        self, model_name: str, version: str, *, requested_by: str, language: str = "en"
    ) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return self._write(
            {
                "id": secrets.token_hex(8),
                "model_name": model_name,
                "model_version": str(version),
                "state": "queued",
                "requested_by": requested_by,
                "requested_at": now,
                "finished_at": None,
                "error": None,
                "archive": None,
                "manifest_sha256": None,
                "algorithm": None,
                "files": [],
                "language": language,  # of report.html
            }
        )

    def get(self, job_id: str) -> dict[str, Any]:
        path = self._folder(job_id) / "job.json"
        try:
            job = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LineageError(f"no export job {job_id}") from None
        if job["state"] in ("queued", "running"):
            started = dt.datetime.fromisoformat(job["requested_at"])
            if dt.datetime.now(dt.UTC) - started > STALE_EXPORT:
                job.update(
                    state="failed",
                    error="interrupted: the server stopped before the "
                    "export finished; start it again",
                )
        return job

    def list(self, limit: int = 20) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        jobs = [
            self.get(folder.name)
            for folder in self.root.iterdir()
            if EXPORT_JOB_ID.fullmatch(folder.name) and (folder / "job.json").is_file()
        ]
        return sorted(jobs, key=lambda j: j["requested_at"], reverse=True)[:limit]

    def run(self, job_id: str) -> dict[str, Any]:
        """Write, sign and zip the bundle; the job records the outcome, never raises."""
        from trainguard.export.bundle import export_bundle

        job = self.get(job_id)
        self._write({**job, "state": "running"})
        folder = self._folder(job_id)
        try:
            result = export_bundle(
                job["model_name"],
                job["model_version"],
                folder / "bundle",
                overwrite=True,
                exported_by=f"{job['requested_by']} (Governance API)",
                language=job.get("language", "en"),
            )
            archive = folder / f"{job['model_name']}-v{job['model_version']}-provenance.zip"
            _zip_folder(result.out, archive)
        except TrainguardError as exc:
            return self._write(
                {**job, "state": "failed", "error": str(exc)[:1000], "finished_at": _now()}
            )
        except Exception as exc:  # noqa: BLE001 - recorded on the job, which the UI shows
            return self._write(
                {
                    **job,
                    "state": "failed",
                    "finished_at": _now(),
                    "error": f"unexpected {type(exc).__name__}; see the server log",
                }
            )
        return self._write(
            {
                **job,
                "state": "done",
                "finished_at": _now(),
                "archive": archive.name,
                "files": result.files,
                "manifest_sha256": result.manifest_sha256,
                "algorithm": result.algorithm,
            }
        )

    def archive(self, job_id: str) -> Path:
        job = self.get(job_id)
        if job["state"] != "done":
            raise ExportError(f"export job {job_id} is {job['state']}, not done")
        return self._folder(job_id) / job["archive"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _zip_folder(folder: Path, archive: Path) -> None:
    """A zip whose bytes depend only on the files (fixed timestamps, sorted names)."""
    staging = archive.with_name(archive.name + ".partial")
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(f"{archive.stem}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, path.read_bytes())
    staging.replace(archive)
