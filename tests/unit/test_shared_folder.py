"""gate.shared: the files the gate's tasks hand on, through a folder at a URL.

Here the URL is a ``file://`` folder (fsspec's local filesystem); the S3 server case,
with workers that share nothing else, is tests/integration/test_shared_url.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ConfigError
from trainguard.gate.shared import SharedFolder

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def _worker(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> SharedFolder:
    home = tmp_path / name
    monkeypatch.setenv("TRAINGUARD_HOME", str(home))
    monkeypatch.setenv("TRAINGUARD_SHARED_URL", f"file://{tmp_path / 'bucket'}/prefix")
    return SharedFolder.of(home / "scans" / "k1" / "shards")


def test_what_one_worker_pushes_another_pulls_at_the_same_relative_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _worker(tmp_path, "a", monkeypatch)
    writer.local.mkdir(parents=True)
    (writer.local / "scan-1.parquet").write_bytes(b"one")
    (writer.local / "scan-2.parquet").write_bytes(b"two")
    (writer.local / ".scan-3.parquet.99.partial").write_bytes(b"half")  # never handed on
    writer.push(["scan-*.parquet", ".scan-*"])
    assert writer.url == f"file://{tmp_path / 'bucket'}/prefix/scans/k1/shards"
    assert sorted(p.name for p in (tmp_path / "bucket/prefix/scans/k1/shards").iterdir()) == [
        "scan-1.parquet",
        "scan-2.parquet",
    ]

    reader = _worker(tmp_path, "b", monkeypatch)
    reader.local.mkdir(parents=True)
    (reader.local / "scan-1.parquet").write_bytes(b"stale")  # an older copy is replaced
    assert reader.pull(["scan-1.parquet", "scan-2*", "absent"]) == [
        "scan-1.parquet",
        "scan-2.parquet",
    ]
    assert (reader.local / "scan-1.parquet").read_bytes() == b"one"
    assert (reader.local / "scan-2.parquet").read_bytes() == b"two"
    assert not list(reader.local.glob(".*"))

    reader.delete(["scan-1.*"])
    assert reader.pull(["*"]) == ["scan-2.parquet"]
    reader.delete()
    assert reader.pull(["*"]) == []
    assert not (tmp_path / "bucket/prefix/scans/k1/shards").exists()


def test_without_a_url_the_local_folder_is_the_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("TRAINGUARD_SHARED_URL", raising=False)
    folder = SharedFolder.of(tmp_path / "scans")
    folder.local.mkdir()
    (folder.local / "scan-1.parquet").write_bytes(b"one")
    assert not folder.remote
    folder.push(["*"])
    assert folder.pull(["*"]) == []
    folder.delete()
    assert (folder.local / "scan-1.parquet").read_bytes() == b"one"


def test_a_scheme_without_its_driver_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path))
    monkeypatch.setenv("TRAINGUARD_SHARED_URL", "nosuchscheme://bucket/prefix")
    with pytest.raises(ConfigError, match=r"TRAINGUARD_SHARED_URL=nosuchscheme://"):
        SharedFolder.of(tmp_path / "scans").pull(["*"])


def test_a_folder_outside_the_home_has_no_shared_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRAINGUARD_SHARED_URL", f"file://{tmp_path / 'bucket'}")
    with pytest.raises(ConfigError, match="outside TRAINGUARD_HOME"):
        SharedFolder.of(tmp_path / "elsewhere")
