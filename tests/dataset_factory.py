"""Writes small, valid datasets of the DESIGN.md contract for tests to break on purpose."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

CONTRACT_TEXT = b"Licence agreement for tests.\n"


def default_sources() -> list[dict[str, Any]]:
    return [
        {"id": "wiki", "kind": "open_source", "license": "CC-BY-SA-4.0", "origin": "domestic",
         "collected_at": "2025-01-01", "contains_personal_info": False,
         "license_url": "https://creativecommons.org/licenses/by-sa/4.0/"},
        {"id": "books", "kind": "commercial",
         "license": "LicenseRef-trainguard-commercial-contract", "origin": "domestic",
         "collected_at": "2025-01-01", "contains_personal_info": False,
         "contract_ref": "evidence/contract.txt",
         "contract_sha256": hashlib.sha256(CONTRACT_TEXT).hexdigest()},
        {"id": "crawl", "kind": "self_collected",
         "license": "LicenseRef-trainguard-self-collected", "origin": "foreign",
         "collected_at": "2025-01-01", "contains_personal_info": False,
         "collection_record": "evidence/crawl.csv", "robots_txt_respected": True},
    ]


def default_records(n: int = 30) -> list[dict[str, str]]:
    sources = ["wiki", "books", "crawl"]
    return [
        {"record_id": f"r{i:04d}", "source_id": sources[i % 3],
         "text": f"记录 {i}: 图书馆介绍了新的灌溉方法。 Record {i} describes irrigation."}
        for i in range(n)
    ]


def write_dataset(
    root: Path,
    *,
    sources: list[dict[str, Any]] | None = None,
    records: list[dict[str, Any]] | None = None,
    fmt: str = "parquet",
    manifest: dict[str, Any] | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.yaml").write_text(yaml.safe_dump(manifest or {
        "name": "tiny", "stage": "pretraining", "modality": "text", "languages": ["zh", "en"],
        "description": "test data"}, allow_unicode=True))
    (root / "sources.yaml").write_text(
        yaml.safe_dump(default_sources() if sources is None else sources))
    (root / "evidence").mkdir(exist_ok=True)
    (root / "evidence" / "contract.txt").write_bytes(CONTRACT_TEXT)
    (root / "evidence" / "crawl.csv").write_text("crawl_id,robots\nc1,obeyed\n")
    (root / "records").mkdir(exist_ok=True)
    rows = default_records() if records is None else records
    # The manual spot check of TC260-003 9.2: every record, when there are fewer than 4,000.
    (root / "review").mkdir(exist_ok=True)
    (root / "review" / "manual_verdicts.csv").write_text(
        "record_id,reviewer_id,verdict,reviewed_at\n" + "".join(
            f"{r['record_id']},rev1,pass,2026-01-01T00:00:00\n" for r in rows
            if isinstance(r.get("record_id"), str) and r.get("record_id")))
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), root / "records" / "part-0.parquet")
    else:
        (root / "records" / "part-0.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return root
