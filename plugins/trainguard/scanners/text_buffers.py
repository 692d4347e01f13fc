"""A whole Arrow string array as one buffer: its layout, and one hyperscan scan over every
row with each match mapped back to its row (the lexicon, the PI pattern pass)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def string_layout(texts: pa.Array) -> tuple[np.ndarray, memoryview]:
    """A string or large_string array's offsets (int64, one more than its rows, relative to
    the returned bytes) and its text bytes. Either offset width: a large_string column
    (polars, DuckDB) has 64-bit offsets."""
    import numpy as np
    import pyarrow as pa

    offset_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    offsets = np.frombuffer(texts.buffers()[1], dtype=offset_type)[
        texts.offset : texts.offset + len(texts) + 1
    ].astype(np.int64)
    data = texts.buffers()[2]
    base, end = int(offsets[0]), int(offsets[-1])
    return offsets - base, memoryview(data)[base:end] if data is not None else memoryview(b"")


def scan_rows(database: Any, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every match a hyperscan block-mode ``database`` reports in ``texts`` (no nulls), from
    one scan of its bytes: (pattern ids, rows, end offsets within the row). A match is
    given the row its end falls in; one that began in the row before has an end offset
    smaller than its length."""
    import numpy as np

    offsets, data = string_layout(texts)
    hits: list[tuple[int, int]] = []

    def on_match(pattern: int, _start: int, end: int, _flags: int, _context: Any) -> None:
        hits.append((pattern, end))

    if data:
        database.scan(data, match_event_handler=on_match)
    if not hits:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    found = np.array(hits, dtype=np.int64)
    rows = np.searchsorted(offsets, found[:, 1], side="left") - 1
    return found[:, 0], rows, found[:, 1] - offsets[rows]
