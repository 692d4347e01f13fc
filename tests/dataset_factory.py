"""Writes small, valid datasets of the DESIGN.md contract for tests to break on purpose."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

CONTRACT_TEXT = b"Licence agreement for tests.\n"
FIXTURES = Path(__file__).parent / "fixtures"


def fixture_sentences() -> list[str]:
    """The hand-written sentences of fixtures/benign_*.txt (English, then Chinese): real
    text that no generator here produced."""
    return [
        line
        for name in ("benign_en.txt", "benign_zh.txt")
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("@@")
    ]


def default_sources() -> list[dict[str, Any]]:
    return [
        {
            "id": "wiki",
            "kind": "open_source",
            "license": "CC-BY-SA-4.0",
            "origin": "domestic",
            "collected_at": "2025-01-01",
            "contains_personal_info": False,
            "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
        },
        {
            "id": "books",
            "kind": "commercial",
            "license": "LicenseRef-trainguard-commercial-contract",
            "origin": "domestic",
            "collected_at": "2025-01-01",
            "contains_personal_info": False,
            "contract_ref": "evidence/contract.txt",
            "contract_sha256": hashlib.sha256(CONTRACT_TEXT).hexdigest(),
        },
        {
            "id": "crawl",
            "kind": "self_collected",
            "license": "LicenseRef-trainguard-self-collected",
            "origin": "foreign",
            "collected_at": "2025-01-01",
            "contains_personal_info": False,
            "collection_record": "evidence/crawl.csv",
            "robots_txt_respected": True,
        },
    ]


def default_records(n: int = 30) -> list[dict[str, str]]:
    """Varied text, Chinese and English from every source (distinct, well formed)."""
    from trainguard.local.demo_data import sample_text

    sources = ["wiki", "books", "crawl"]
    return [
        {
            "record_id": f"r{i:04d}",
            "source_id": sources[i % 3],
            "text": sample_text(random.Random(i), "zh" if i % 2 else "en"),
        }
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
    (root / "dataset.yaml").write_text(
        yaml.safe_dump(
            manifest
            or {
                "name": "tiny",
                "stage": "pretraining",
                "modality": "text",
                "languages": ["zh", "en"],
                "description": "test data",
            },
            allow_unicode=True,
        )
    )
    (root / "sources.yaml").write_text(
        yaml.safe_dump(default_sources() if sources is None else sources)
    )
    (root / "evidence").mkdir(exist_ok=True)
    (root / "evidence" / "contract.txt").write_bytes(CONTRACT_TEXT)
    (root / "evidence" / "crawl.csv").write_text("crawl_id,robots\nc1,obeyed\n")
    (root / "records").mkdir(exist_ok=True)
    rows = default_records() if records is None else records
    # The manual spot check of TC260-003 9.2: every record, when there are fewer than 4,000.
    (root / "review").mkdir(exist_ok=True)
    (root / "review" / "manual_verdicts.csv").write_text(
        "record_id,reviewer_id,verdict,reviewed_at\n"
        + "".join(
            f"{r['record_id']},rev1,pass,2026-01-01T00:00:00\n"
            for r in rows
            if isinstance(r.get("record_id"), str) and r.get("record_id")
        )
    )
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), root / "records" / "part-0.parquet")
    else:
        (root / "records" / "part-0.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return root


RULES = (
    "# Rules {v}\n\n## Goals\ng\n\n## Data format\nd\n\n## Method\nm\n\n"
    "## Quality indicators\nq\n\n## Functional rules\nf\n\n## Safety rules\ns\n"
)


def finetuning_records(n: int = 120) -> list[dict[str, Any]]:
    """Two batches of 60 under rules v1, labelled by L1/L2, reviewed by R1."""
    return [
        {
            "record_id": f"f{i:04d}",
            "source_id": "wiki",
            "prompt": f"问题 {i}：灌溉方法是什么？",
            "response": f"回答 {i}：图书馆介绍了新的灌溉方法。",
            "annotation_type": "safety" if i % 5 == 0 else "functional",
            "annotator_id": f"L{i % 2 + 1}",
            "reviewer_id": "R1",
            "annotation_batch": f"B{i // 60 + 1}",
            "rules_version": "v1",
            "label": "good" if i % 7 else "bad",
            "second_label": ("good" if i % 7 else "bad") if i % 2 == 0 else None,
        }
        for i in range(n)
    ]


def annotators_csv(rows: list[tuple[str, str, str, float]] | None = None) -> str:
    rows = rows or [
        ("L1", "labeler", "v1", 0.9),
        ("L2", "labeler", "v1", 0.9),
        ("R1", "reviewer", "v1", 0.95),
    ]
    return (
        "annotator_id,role,trained_rules_version,trained_at,assessment_score,assessed_at\n"
        + "".join(
            f"{a},{r},{v},2026-01-01T00:00:00,{s},2026-01-02T00:00:00\n" for a, r, v, s in rows
        )
    )


def write_finetuning_dataset(
    root: Path,
    *,
    records: list[dict[str, Any]] | None = None,
    annotators: str | None = None,
    rules: dict[str, str] | None = None,
    wrong_checks: int = 0,
    checks_per_batch: int = 20,
) -> Path:
    rows = finetuning_records() if records is None else records
    write_dataset(
        root,
        records=rows,
        fmt="jsonl",
        manifest={
            "name": "tiny-ft",
            "stage": "finetuning",
            "modality": "text",
            "languages": ["zh"],
        },
    )
    annotation = root / "annotation"
    (annotation / "rules").mkdir(parents=True, exist_ok=True)
    for version, text in (rules or {"v1": RULES.format(v="v1")}).items():
        (annotation / "rules" / f"{version}.md").write_text(text)
    (annotation / "annotators.csv").write_text(annotators or annotators_csv())
    lines = ["record_id,checker_id,verdict,checked_at"]
    for batch in sorted({r["annotation_batch"] for r in rows}):
        members = [r["record_id"] for r in rows if r["annotation_batch"] == batch]
        for k, record_id in enumerate(members[:checks_per_batch]):
            verdict = "incorrect" if batch == "B1" and k < wrong_checks else "correct"
            lines.append(f"{record_id},QA,{verdict},2026-01-03T00:00:00")
    (annotation / "spot_checks.csv").write_text("\n".join(lines) + "\n")
    return root
