"""The dataset contract: valid data loads; each kind of bad input names file, row and field."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainguard.contract import load_dataset
from trainguard.exceptions import ContractError

from dataset_factory import default_records, default_sources, write_dataset

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def load_and_validate(root: Path) -> None:
    load_dataset(root).validate_records()


def test_valid_dataset_loads_and_counts_records(tmp_path: Path) -> None:
    """A dataset that follows the contract loads, and the record pass counts per source."""
    dataset = load_dataset(write_dataset(tmp_path / "d"))
    stats = dataset.validate_records()
    assert stats.records == 30
    assert dict(stats.by_source) == {"wiki": 10, "books": 10, "crawl": 10}
    assert stats.characters > 0 and stats.bytes > stats.characters  # CJK takes 3 UTF-8 bytes


def test_jsonl_shards_load_like_parquet(tmp_path: Path) -> None:
    """JSONL shards are read through the same contract as Parquet."""
    stats = load_dataset(write_dataset(tmp_path / "d", fmt="jsonl")).validate_records()
    assert stats.records == 30


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A missing sources.yaml is reported with its path."""
    root = write_dataset(tmp_path / "d")
    (root / "sources.yaml").unlink()
    with pytest.raises(ContractError, match=r"sources\.yaml: required file is missing"):
        load_dataset(root)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    """Broken YAML names the file and the line of the problem."""
    root = write_dataset(tmp_path / "d")
    (root / "dataset.yaml").write_text("name: tiny\nstage: [pretraining\n")
    with pytest.raises(ContractError, match=r"dataset\.yaml, row \d+: malformed YAML"):
        load_dataset(root)


def test_unknown_source_id_names_shard_row_and_field(tmp_path: Path) -> None:
    """A record whose source_id is not registered is reported with shard, row and field."""
    records = default_records()
    records[7]["source_id"] = "mystery"
    root = write_dataset(tmp_path / "d", records=records)
    with pytest.raises(ContractError) as caught:
        load_and_validate(root)
    message = str(caught.value)
    assert "part-0.parquet, row 8, field 'source_id'" in message
    assert "unknown source_id 'mystery'" in message and "books, crawl, wiki" in message


def test_duplicate_record_id_names_both_places(tmp_path: Path) -> None:
    """A repeated record_id names the row and where it was first seen."""
    records = default_records()
    records[12]["record_id"] = records[3]["record_id"]
    root = write_dataset(tmp_path / "d", records=records, fmt="jsonl")
    with pytest.raises(
        ContractError,
        match=r"row 13, field 'record_id': duplicate record_id "
        r"'r0003' \(first seen in part-0\.jsonl row 4\)",
    ):
        load_and_validate(root)


def _two_shards_with_repeats(tmp_path: Path) -> Path:
    """Two Parquet shards; r0005 repeats in shard 2 row 9, r0001 later in row 20."""
    records = default_records(60)
    records[38]["record_id"] = records[4]["record_id"]
    records[49]["record_id"] = records[0]["record_id"]
    root = write_dataset(tmp_path / "d", records=records[:30])
    pq.write_table(pa.Table.from_pylist(records[30:]), root / "records" / "part-1.parquet")
    return root


def test_first_repeat_across_shards_and_batches_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across shards and batches, the earliest repeated id is named with both places."""
    monkeypatch.setenv("TRAINGUARD_BATCH_ROWS", "7")
    root = _two_shards_with_repeats(tmp_path)
    with pytest.raises(
        ContractError,
        match=r"part-1\.parquet, row 9, field 'record_id': duplicate record_id "
        r"'r0004' \(first seen in part-0\.parquet row 5\)",
    ):
        load_and_validate(root)


def test_ids_whose_hashes_collide_are_compared_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids are compared by a 64-bit hash first: when every hash collides (forced here), the
    ids themselves decide: distinct ids pass, a repeat is still named."""
    import trainguard.contract

    monkeypatch.setattr(trainguard.contract, "hash", lambda _text: 7, raising=False)
    load_and_validate(write_dataset(tmp_path / "clean"))
    with pytest.raises(ContractError, match=r"row 9, .*'r0004' \(first seen in part-0"):
        load_and_validate(_two_shards_with_repeats(tmp_path))


def test_wrong_column_type_names_field_and_expected_type(tmp_path: Path) -> None:
    """A text column stored as integers is rejected with the expected type."""
    root = write_dataset(tmp_path / "d")
    table = pa.table({"record_id": ["a", "b"], "source_id": ["wiki", "wiki"], "text": [1, 2]})
    pq.write_table(table, root / "records" / "part-0.parquet")
    with pytest.raises(
        ContractError,
        match=r"field 'text': wrong column type int64 "
        r"\(expected string\)",
    ):
        load_and_validate(root)


def test_missing_record_column_is_named(tmp_path: Path) -> None:
    """A shard without the text column lists what is missing and what is expected."""
    root = write_dataset(tmp_path / "d", records=[{"record_id": "a", "source_id": "wiki"}])
    with pytest.raises(ContractError, match=r"missing column\(s\) text"):
        load_and_validate(root)


def test_unknown_licence_expression_names_the_source_field(tmp_path: Path) -> None:
    """A licence that is not SPDX names the source's field and suggests LicenseRef."""
    sources = default_sources()
    sources[0]["license"] = "Wiki-Licence-9"
    root = write_dataset(tmp_path / "d", sources=sources)
    with pytest.raises(ContractError) as caught:
        load_dataset(root)
    message = str(caught.value)
    assert "field 'sources[0].license'" in message
    assert "Wiki-Licence-9" in message and "LicenseRef-" in message


def test_invalid_licence_syntax_is_rejected(tmp_path: Path) -> None:
    """An unbalanced SPDX expression is bad input, not a crash."""
    sources = default_sources()
    sources[0]["license"] = "MIT AND ("
    with pytest.raises(ContractError, match=r"sources\[0\]\.license.*not an SPDX"):
        load_dataset(write_dataset(tmp_path / "d", sources=sources))


def test_source_without_required_evidence_names_what_is_missing(tmp_path: Path) -> None:
    """A commercial source without contract fields names the source and the missing fields."""
    sources = default_sources()
    del sources[1]["contract_ref"], sources[1]["contract_sha256"]
    with pytest.raises(ContractError) as caught:
        load_dataset(write_dataset(tmp_path / "d", sources=sources))
    message = str(caught.value)
    assert "sources[1] (id books)" in message and "TC260-003 5.1 c" in message
    assert "contract_ref, contract_sha256" in message


def test_unknown_source_field_is_rejected(tmp_path: Path) -> None:
    """A misspelt evidence key is caught rather than silently ignored."""
    sources = default_sources()
    sources[2]["colection_record"] = sources[2].pop("collection_record")
    with pytest.raises(ContractError, match=r"sources\[2\]\.colection_record'?: unknown field"):
        load_dataset(write_dataset(tmp_path / "d", sources=sources))


def test_csv_with_missing_column_names_the_column(tmp_path: Path) -> None:
    """A consent ledger missing pi_hmac names the file, the column and the expected header."""
    sources = default_sources()
    sources[0]["contains_personal_info"] = True
    root = write_dataset(tmp_path / "d", sources=sources)
    (root / "consents.csv").write_text(
        "subject_ref,pi_kind,purposes,sensitive_consent,"
        "granted_at,withdrawn_at\ns1,email,training,false,"
        "2025-01-01T00:00:00,\n"
    )
    with pytest.raises(ContractError) as caught:
        load_dataset(root)
    assert "consents.csv: missing column(s) pi_hmac" in str(caught.value)
    assert "expected header subject_ref,pi_kind,pi_hmac" in str(caught.value)


def test_csv_bad_value_names_row_and_field(tmp_path: Path) -> None:
    """A consent row with an unknown PI kind names its line and field."""
    sources = default_sources()
    sources[0]["contains_personal_info"] = True
    root = write_dataset(tmp_path / "d", sources=sources)
    (root / "consents.csv").write_text(
        "subject_ref,pi_kind,pi_hmac,purposes,sensitive_consent,granted_at,withdrawn_at\n"
        f"s1,email,{'a' * 64},training,false,2025-01-01T00:00:00,\n"
        f"s2,shoe_size,{'b' * 64},training,false,2025-01-01T00:00:00,\n"
    )
    with pytest.raises(ContractError, match=r"consents\.csv, row 3, field 'pi_kind'"):
        load_dataset(root)


def test_declared_personal_info_requires_a_consent_ledger(tmp_path: Path) -> None:
    """A source declaring PI without consents.csv is rejected, naming the source."""
    sources = default_sources()
    sources[2]["contains_personal_info"] = True
    with pytest.raises(ContractError, match=r"sources crawl declare personal information"):
        load_dataset(write_dataset(tmp_path / "d", sources=sources))


def test_invalid_jsonl_line_is_named(tmp_path: Path) -> None:
    """A broken JSONL line is reported by line number."""
    root = write_dataset(tmp_path / "d", fmt="jsonl")
    shard = root / "records" / "part-0.jsonl"
    lines = shard.read_text(encoding="utf-8").splitlines()
    lines[4] = '{"record_id": "x", "source_id": '
    shard.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"part-0\.jsonl, row 5: invalid JSON"):
        load_and_validate(root)


def test_unreadable_parquet_shard_is_named(tmp_path: Path) -> None:
    """A corrupt Parquet file is reported as unreadable with its path."""
    root = write_dataset(tmp_path / "d")
    (root / "records" / "part-0.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ContractError, match=r"part-0\.parquet: unreadable Parquet shard"):
        load_and_validate(root)


def test_a_shard_linking_outside_the_dataset_is_refused_naming_the_link(tmp_path: Path) -> None:
    """Issue 18.6: a link to data no version records (another corpus, /etc) is not read."""
    root = write_dataset(tmp_path / "d")
    [shard] = sorted((root / "records").iterdir())
    outside = tmp_path / "elsewhere.parquet"
    outside.write_bytes(shard.read_bytes())
    link = root / "records" / "part-extra.parquet"
    link.symlink_to(outside)
    with pytest.raises(ContractError, match=r"part-extra\.parquet.*outside the dataset") as raised:
        load_dataset(root)
    assert str(outside) in str(raised.value)
    # Into the dataset itself, or a DVC cache (cache.type symlink), a link is fine.
    link.unlink()
    cache = tmp_path / "repo" / ".dvc" / "cache" / "files" / "md5" / "ab" / ("c" * 30)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(shard.read_bytes())
    link.symlink_to(cache)
    assert len(load_dataset(root).shards) == 2


# Issue 18, item 1: each of these gave a traceback (exit 1) before; each is now a contract
# error naming the file, the line or row, and the field.


def test_invalid_utf8_in_a_jsonl_record_names_its_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d", fmt="jsonl")
    shard = root / "records" / "part-0.jsonl"
    lines = shard.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b'"text": "', b'"text": "\xff\xfe', 1)
    shard.write_bytes(b"\n".join(lines))
    with pytest.raises(ContractError, match=r"part-0\.jsonl, row 4: not UTF-8 text"):
        load_and_validate(root)


def test_invalid_utf8_in_a_parquet_string_names_row_and_field(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d")
    shard = root / "records" / "part-0.parquet"
    table = pq.read_table(shard)
    raw = [s.encode() for s in table.column("text").to_pylist()]
    raw[2] = b"caf\xe9 au lait"  # Latin-1, as an old export writes it
    column = pa.array(raw, pa.binary()).view(pa.string())
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", column), shard)
    with pytest.raises(ContractError, match=r"row 3, field 'text': string is not valid UTF-8"):
        load_and_validate(root)


@pytest.mark.parametrize("alone", [False, True])
def test_a_record_larger_than_arrows_json_block_is_read(tmp_path: Path, alone: bool) -> None:
    """Arrow's JSON reader refuses a line over its 1 MB block; a 3 MB record is data."""
    records = default_records(1 if alone else 5)
    records[0]["text"] = "長文。" * 1_000_000
    root = write_dataset(tmp_path / "d", fmt="jsonl", records=records)
    stats = load_dataset(root).validate_records()
    assert stats.records == len(records)
    assert stats.characters >= 3_000_000


def test_an_impossible_date_in_sources_yaml_names_its_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d")
    path = root / "sources.yaml"
    path.write_text(path.read_text().replace("'2025-01-01'", "2025-02-30", 1))
    with pytest.raises(
        ContractError, match=r"sources\.yaml, row \d+: .*impossible date '2025-02-30'"
    ):
        load_dataset(root)


def test_a_folder_where_a_file_belongs_is_named(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d")
    (root / "dataset.yaml").unlink()
    (root / "dataset.yaml").mkdir()
    with pytest.raises(ContractError, match=r"dataset\.yaml: cannot read it"):
        load_dataset(root)


def test_a_csv_field_over_the_csv_limit_names_its_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d")
    (root / "consents.csv").write_text(
        "subject_ref,pi_kind,pi_hmac,purposes,sensitive_consent,granted_at\n"
        + "z" * 140_000
        + ",phone,ab,training,false,2025-01-01\n"
    )
    with pytest.raises(ContractError, match=r"consents\.csv, row 2: malformed CSV \(field larger"):
        load_dataset(root)


def test_a_bare_null_line_is_named_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzz test: pyarrow's JSON reader kills the process (SIGSEGV) on a
    block whose first value is `null`; the line is refused before Arrow sees it."""
    root = write_dataset(tmp_path / "d", fmt="jsonl")
    shard = root / "records" / "part-0.jsonl"
    shard.write_bytes(b"null\n" + shard.read_bytes())
    with pytest.raises(ContractError, match=r"part-0\.jsonl, row 1: not a JSON object"):
        load_and_validate(root)
