"""The fan-in as a reduce of partials: the same answer however the records are sharded,
partitioned or merged, and the same as the single-process reference it replaced.

The records are real sentences (tests/fixtures/benign_*.txt, written by hand), each used
several times with a different numeral so that near-duplicates occur naturally, plus a
pirated-software advert (a lexicon term) in every 37th record.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from trainguard.checks.base import Offenders, Partial, Sample
from trainguard.checks.stats import sample_key
from trainguard.gate.decide import evaluate
from trainguard.policy import load_policy

from dataset_factory import fixture_sentences, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

PIRACY = "本站提供盗版软件下载，破解版全部免费，无需注册。"
SOURCES = ("wiki", "books", "crawl")


def records(n: int = 900) -> list[dict[str, str]]:
    lines = fixture_sentences()
    out = []
    for i in range(n):
        text = f"{lines[(i * 7) % len(lines)]} ({i % 4})"
        if i % 37 == 0:
            text = PIRACY + f" {i}"
        out.append({"record_id": f"r{i:05d}", "source_id": SOURCES[i % 3], "text": text})
    return out


def sharded(root: Path, rows: list[dict[str, str]], shards: int) -> Path:
    """The same records in ``shards`` contiguous Parquet shards (row order kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_dataset(root, records=rows)
    for old in (root / "records").iterdir():
        old.unlink()
    size = math.ceil(len(rows) / shards)
    for index in range(shards):
        chunk = rows[index * size : (index + 1) * size]
        pq.write_table(
            pa.table({k: [r[k] for r in chunk] for k in ("record_id", "source_id", "text")}),
            root / "records" / f"part-{index:03d}.parquet",
        )
    return root


def outcome(root: Path, tmp_path: Path, workers: int = 1) -> tuple[dict, list]:
    lexicon = tmp_path / "lexicon.csv"
    lexicon.write_text("term,risk\n盗版软件下载,A.3.a\n", encoding="utf-8")
    report = evaluate(root, load_policy(None), extra_lexicons=[str(lexicon)], workers=workers)
    findings = [
        (f.check, f.source_id, f.status.value, list(f.record_ids), f.records)
        for f in report.findings
    ]
    return report.tables, findings


@pytest.fixture(scope="module")
def one_shard(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list]:
    tmp = tmp_path_factory.mktemp("one")
    return outcome(sharded(tmp / "d", records(), 1), tmp)


def test_sharding_and_partitioning_do_not_change_the_decision(
    one_shard: tuple[dict, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three shards merged as a tree, and the band keys spread over ~30 partitions, give
    the tables and findings of one shard in one partition, offenders included."""
    monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", "16")  # 57 partitions, 2-pair chunks
    assert outcome(sharded(tmp_path / "d", records(), 3), tmp_path) == one_shard


def planned(tmp_path: Path, root: Path, groups: int, lexicons: list[str]) -> tuple:
    """``root``'s shards scanned into ``tmp_path/work`` and the near-duplicate stages
    planned in ``tmp_path/staged``, as the DAG's scan and plan tasks leave them."""
    from trainguard.gate.decide import SHARDS_DIR
    from trainguard.gate.duplicates import plan_stages
    from trainguard.gate.reduce import merged_scans
    from trainguard.gate.scan import ScanResources, scan_shard

    resources = ScanResources.build(root, load_policy(None), lexicons)
    work = tmp_path / "work"
    for shard in resources.dataset.shards:
        scan_shard(resources, shard, work / SHARDS_DIR)
    names, offsets, partial = merged_scans(resources, work / SHARDS_DIR)
    staged = tmp_path / "staged"
    staged.mkdir()
    scans = work / SHARDS_DIR
    plan = plan_stages(scans, names, offsets, partial.records, staged, groups=groups)
    return resources, work, staged, plan


def test_near_duplicate_stages_as_mapped_groups_decide_the_same(
    one_shard: tuple[dict, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The near-duplicate stages run group by group as the DAG's mapped tasks run them
    (in any order, one group retried after it finished), then the gate confirms from
    their folder: the tables and findings of one process, and the folder is gone."""
    from trainguard.gate.decide import decide
    from trainguard.gate.duplicates import pairs_stage, windows_stage
    from trainguard.scanners.minhash import ESTIMATE_MARGIN

    monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", "50")  # 18 partitions, 18 windows
    lexicon = tmp_path / "lexicon.csv"
    lexicon.write_text("term,risk\n盗版软件下载,A.3.a\n", encoding="utf-8")
    root = sharded(tmp_path / "d", records(), 3)
    resources, work, staged, plan = planned(tmp_path, root, 32, [str(lexicon)])
    assert plan.groups == 18
    for group in reversed(range(plan.groups)):
        pairs_stage(staged, plan, group)
    pairs_stage(staged, plan, 3)  # a retry of a finished group
    cutoff = resources.policy.quality.near_duplicate_similarity - ESTIMATE_MARGIN
    for group in range(plan.groups):
        windows_stage(staged, plan, group, cutoff)
    windows_stage(staged, plan, 5, cutoff)
    report = decide(resources, work, staged_duplicates=staged)
    findings = [
        (f.check, f.source_id, f.status.value, list(f.record_ids), f.records)
        for f in report.findings
    ]
    assert (report.tables, findings) == one_shard
    assert report.metrics["scan.near_duplicate_groups_mapped"] == 18
    assert not staged.exists()


def test_an_unfinished_staging_is_not_used(tmp_path: Path) -> None:
    """A staged folder whose window stage did not finish (or none at all) is ignored: the
    gate finds the near-duplicates itself."""
    from trainguard.gate.decide import decide
    from trainguard.gate.duplicates import pairs_stage

    root = sharded(tmp_path / "d", records(300), 2)
    resources, work, staged, plan = planned(tmp_path, root, 4, [])
    pairs_stage(staged, plan, 0)
    report = decide(resources, work, staged_duplicates=staged)
    assert report.metrics["scan.near_duplicate_groups_mapped"] == 0
    assert report.metrics["scan.near_duplicates"] > 0
    missing = decide(resources, work, staged_duplicates=tmp_path / "never-made")
    assert missing.metrics["scan.near_duplicates"] == report.metrics["scan.near_duplicates"]


def test_shards_scanned_by_forked_workers_decide_the_same(
    one_shard: tuple[dict, list], tmp_path: Path
) -> None:
    """`trainguard scan --workers 2`: three shards scanned by two forked processes give
    the tables and findings of one shard scanned in this process."""
    assert outcome(sharded(tmp_path / "d", records(), 3), tmp_path, workers=2) == one_shard


def test_a_worker_that_dies_blocks_the_gate_naming_its_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard worker killed mid-scan (here it exits at once, as the OOM killer would end
    it) is a GateError naming the shards left unscanned: never a decision on the rest."""
    import importlib
    import os

    from trainguard.exceptions import GateError
    from trainguard.gate.scan import scan_shard

    module = importlib.import_module("trainguard.gate.decide")  # the package exports decide()

    def dies_on_the_second(resources, shard, out_dir, **kwargs):
        if shard.name.endswith("001.parquet"):
            os._exit(9)
        return scan_shard(resources, shard, out_dir, **kwargs)

    monkeypatch.setattr(module, "scan_shard", dies_on_the_second)
    with pytest.raises(GateError, match=r"died .*not scanned: .*part-001\.parquet") as raised:
        outcome(sharded(tmp_path / "d", records(300), 3), tmp_path, workers=2)
    assert "cannot decide" in str(raised.value)


def test_near_duplicates_match_the_single_process_reference(one_shard: tuple) -> None:
    """The band-partitioned stage names exactly the records ``minhash.near_duplicates``
    (all signatures in memory) names, per source and in row order."""
    import pyarrow as pa

    from trainguard.scanners.minhash import near_duplicates, signatures
    from trainguard.scanners.squeeze import squeeze

    rows = records()
    texts = squeeze(pa.array([r["text"] for r in rows])).to_pylist()
    duplicate_of = near_duplicates(
        signatures(texts),
        load_policy(None).quality.near_duplicate_similarity,
        lambda indices: {i: texts[i] for i in indices},
    )
    _, findings = one_shard
    for source in SOURCES:
        expected = [
            r["record_id"]
            for r, d in zip(rows, duplicate_of, strict=True)
            if d >= 0 and r["source_id"] == source
        ]
        found = next(f for f in findings if f[0] == "quality.duplicates" and f[1] == source)
        assert expected, "the fixture must hold near-duplicates"
        assert (found[3], found[4]) == (expected[:100], len(expected))


def test_duplicate_of_matches_the_reference_whatever_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The annotations' ``duplicate_of`` names, for every record, the earliest record of
    its cluster as ``minhash.near_duplicates`` does, when the records are read, spilled,
    estimated and named 7 at a time over three shards (every stage crosses batch and
    shard boundaries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainguard.scanners.minhash import near_duplicates, signatures
    from trainguard.scanners.squeeze import squeeze

    rows = records(600)
    texts = squeeze(pa.array([r["text"] for r in rows])).to_pylist()
    reference = near_duplicates(
        signatures(texts),
        load_policy(None).quality.near_duplicate_similarity,
        lambda indices: {i: texts[i] for i in indices},
    )
    expected = [rows[d]["record_id"] if d >= 0 else None for d in reference.tolist()]
    assert sum(e is not None for e in expected) > 100, "the fixture must hold near-duplicates"
    root = sharded(tmp_path / "d", rows, 3)
    found = {}
    for batch in ("7", "65536"):
        monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", batch)
        out = tmp_path / f"annotations-{batch}.parquet"
        evaluate(root, load_policy(None), annotations_out=out)
        table = pq.read_table(out, columns=["record_id", "duplicate_of"])
        assert table.column("record_id").to_pylist() == [r["record_id"] for r in rows]
        found[batch] = table.column("duplicate_of").to_pylist()
    assert found["7"] == found["65536"] == expected


def test_a_bad_batch_size_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainguard.exceptions import ConfigError
    from trainguard.settings import batch_rows

    for value in ("0", "-5", "many", "1.5"):
        monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", value)
        with pytest.raises(ConfigError, match=rf"TRAINGUARD_BATCH_ROWS='{value}': expected"):
            batch_rows()
    monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", "100")
    assert batch_rows() == 100


def test_the_automated_sample_is_the_exact_smallest_fraction(one_shard: tuple) -> None:
    """corpus.automated names the lexicon hits among the ceil(10% x N) records with the
    smallest sampling keys, smallest key first: computed here by sorting every key."""
    rows = records()
    policy = load_policy(None)
    wanted = math.ceil(policy.corpus.automated_sample_fraction * len(rows))
    name = "tiny"  # dataset_factory's manifest name
    drawn = sorted(rows, key=lambda r: sample_key(name, r["record_id"]))[:wanted]
    expected = [r["record_id"] for r in drawn if PIRACY in r["text"]]
    tables, findings = one_shard
    assert tables["corpus"][0]["automated_sampled"] == wanted
    assert tables["corpus"][0]["automated_pass_rate"] == pytest.approx(1 - len(expected) / wanted)
    found = next(f for f in findings if f[0] == "corpus.automated" and f[2] == "fail")
    assert expected and (found[3], found[4]) == (expected, len(expected))


def test_offenders_keep_the_first_ids_and_the_full_count() -> None:
    first, later = Offenders([f"a{i}" for i in range(80)]), Offenders([f"b{i}" for i in range(50)])
    merged = first.merge(later)
    assert len(merged) == 130
    assert list(merged) == [f"a{i}" for i in range(80)] + [f"b{i}" for i in range(20)]


def test_a_partial_survives_json_and_refuses_to_merge_out_of_order() -> None:
    import numpy as np

    partial = Partial(shard_records={2: 3})
    partial.count("records:wiki", 3)
    partial.label("languages:wiki", {"en"})
    partial.offend("ip.optout:wiki", ["x1"])
    partial.sample("manual", 2).offer(
        np.array([0.5, 0.1, 0.3]), 2, np.arange(3), ["x0", "x1", "x2"].__getitem__
    )
    again = Partial.from_json(partial.to_json())
    assert again.to_json() == partial.to_json()
    assert again.samples["manual"].payloads() == ["x1", "x2"]
    with pytest.raises(ValueError, match="shard order"):
        again.merge(Partial(shard_records={1: 5}))


def test_a_sample_breaks_key_ties_by_shard_then_row() -> None:
    import numpy as np

    sample = Sample(2)
    sample.offer(np.array([0.2, 0.2]), 1, np.array([0, 1]), lambda i: f"s1r{i}")
    sample.merge(Sample(2))
    merged = Sample(2, [(0.2, 0, 9, "s0r9")]).merge(sample)
    assert merged.payloads() == ["s0r9", "s1r0"]


def test_a_killed_reduce_leaves_no_spill_behind(tmp_path: Path) -> None:
    """A reduce removes the band-key folder a killed reduce left (its process is gone),
    not one of a reduce still running (this process), and none of its own."""
    import os
    import subprocess
    import sys

    from trainguard.versioning import staging_prefix

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    shards = tmp_path / "work" / "shards"
    left = shards / f"{staging_prefix('bands', dead.pid)}x1"
    running = shards / f"{staging_prefix('bands', os.getpid())}x2"
    for folder in (left, running):
        folder.mkdir(parents=True)
        (folder / "signatures.u32").write_bytes(b"\0" * 512)
    root = sharded(tmp_path / "d", records(60), 1)
    evaluate(root, load_policy(None), workdir=tmp_path / "work")
    assert not left.exists()
    assert running.exists()
    assert sorted(p.name for p in shards.iterdir() if p.is_dir()) == [running.name]
