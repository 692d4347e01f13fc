"""The demo-data generator: deterministic, DVC-pushed, with a ground-truth key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trainguard.contract import PIKind, SourceKind, load_dataset
from trainguard.local.demo_data import FINETUNING, PRETRAINING, DemoRepo, build_demo_repo
from trainguard.pipeline import workspace
from trainguard.versioning import fetch_version, resolve_version

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.integration


def test_same_seed_gives_same_dvc_digests(tmp_path: Path) -> None:
    """Two builds in different folders produce byte-identical datasets (same DVC md5)."""
    first = build_demo_repo(tmp_path / "a", scale=0.02)
    second = build_demo_repo(tmp_path / "b", scale=0.02)
    for rev in ("planted", "clean"):
        for path in (PRETRAINING, FINETUNING):
            assert (
                resolve_version(first.repo, path, rev).md5
                == resolve_version(second.repo, path, rev).md5
            )
    other_seed = build_demo_repo(tmp_path / "c", scale=0.02, seed=8)
    assert (
        resolve_version(other_seed.repo, PRETRAINING, "clean").md5
        != resolve_version(first.repo, PRETRAINING, "clean").md5
    )


def test_full_size_demo_meets_the_sizes_and_covers_every_source_kind(stack: Stack) -> None:
    """Pretraining has >= 20,000 records of >= 5 sources of every kind; finetuning >= 2,000."""
    for rev in ("planted", "clean"):
        pre = load_dataset(
            fetch_version(resolve_version(stack.demo.repo, PRETRAINING, rev), workspace())
        )
        stats = pre.validate_records()
        assert stats.records >= 20_000
        assert len(pre.sources) >= 5
        assert {s.kind for s in pre.sources.values()} == set(SourceKind)
        fine = load_dataset(
            fetch_version(resolve_version(stack.demo.repo, FINETUNING, rev), workspace())
        )
        assert fine.validate_records().records >= 2_000
        assert fine.annotation is not None and set(fine.annotation.rules) == {"v1", "v2"}


def test_ground_truth_lists_every_planted_problem_and_clean_fixes_them(stack: Stack) -> None:
    """'planted' names each problem kind; 'clean' has none of them left."""
    planted = stack.demo.ground_truth("planted")
    kinds = {
        p["problem"] for part in ("pretraining", "finetuning") for p in planted[part]["problems"]
    }
    assert kinds == {
        "forbidden_licence",
        "missing_evidence",
        "unconsented_pi",
        "harmful_over_threshold",
        "near_duplicates",
        "untrained_annotator",
        "poor_spot_check_accuracy",
        "withdrawn_work",
    }
    clean = stack.demo.ground_truth("clean")
    clean_kinds = {
        p["problem"] for part in ("pretraining", "finetuning") for p in clean[part]["problems"]
    }
    assert clean_kinds <= {"harmful_under_threshold"}
    pi = planted["pretraining"]["pi"]
    assert {span["kind"] for span in pi} == set(PIKind) - {PIKind.HEALTH, PIKind.BIOMETRIC}
    assert {span["kind"] for span in pi if not span["covered"]} == {span["kind"] for span in pi}
    assert all(span["covered"] for span in clean["pretraining"]["pi"])


def test_ground_truth_offsets_point_at_the_planted_values(stack: Stack) -> None:
    """Each PI span's offsets cut a value of its kind out of the record text."""
    import pyarrow as pa

    version = resolve_version(stack.demo.repo, PRETRAINING, "planted")
    dataset = load_dataset(fetch_version(version, workspace()))
    table = pa.Table.from_batches([b for _, _, b in dataset.iter_batches(["record_id", "text"])])
    texts = dict(
        zip(table.column("record_id").to_pylist(), table.column("text").to_pylist(), strict=True)
    )
    for span in stack.demo.ground_truth("planted")["pretraining"]["pi"]:
        value = texts[span["record_id"]][span["start"] : span["end"]]
        assert value and not value[0].isspace() and not value[-1].isspace()
        if span["kind"] == "email":
            assert "@" in value
        elif span["kind"] in ("mobile_phone", "resident_id", "bank_card"):
            assert sum(ch.isdigit() for ch in value) >= 11, span["kind"]


def _fetch(repo: str, workspace_dir: str) -> list[str]:
    version = resolve_version(repo, PRETRAINING, "clean")
    local = fetch_version(version, workspace_dir)
    return sorted(p.name for p in (local / "records").iterdir())


def test_concurrent_fetches_of_one_version_share_one_complete_copy(
    small_repo: DemoRepo, tmp_path: Path
) -> None:
    """Two Celery slots on one machine fetching the same version at once: both get it,
    one copy stays, no staging folder is left behind."""
    from concurrent.futures import ProcessPoolExecutor

    repo = str(small_repo.repo)
    shared = str(tmp_path / "datasets")
    with ProcessPoolExecutor(max_workers=4) as pool:
        listings = list(pool.map(_fetch, [repo] * 4, [shared] * 4))
    assert all(listing == listings[0] for listing in listings) and listings[0]
    assert [p.name for p in Path(shared).iterdir() if p.name.startswith(".fetch-")] == []
    assert len(list(Path(shared).iterdir())) == 1
