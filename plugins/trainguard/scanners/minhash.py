"""MinHash signatures and LSH, vectorised with numpy.

Shingles are 5-character windows of the squeezed text (squeeze.squeeze: no spaces or
punctuation, so the same words re-spaced still collide). Each shingle is a 5-codepoint
polynomial hash computed for a whole chunk of records at once; the 128 permutations are
multiply-add hashes modulo 2^32 (odd multipliers make them permutations), minimised per
record with ``np.minimum.reduceat``.
Python never loops over shingles, which is where per-record tokenising spends its time.

LSH uses 32 bands of 4 rows: a pair with Jaccard 0.7 becomes a candidate with
probability 1 - (1 - 0.7**4)**32 > 0.999 (16x8 gives only 0.61 at 0.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SHINGLE = 5
NUM_PERM = 128
BANDS, ROWS = 32, 4
_CHUNK_CHARS = 64_000  # bounds the (shingles x 128) matrix to ~50 MB
# The estimate of 128 permutations has a standard error of about 0.04 near 0.7: candidates
# are kept from this far below the threshold (then confirmed exactly) so none is lost.
ESTIMATE_MARGIN = 0.15

_rng = np.random.default_rng(20240229)
_MULT = _rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
_ADD = _rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32)
_BASE = np.uint64(1_000_003)
_EMPTY = np.uint32(0xFFFFFFFF)


def signatures(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), 128) uint32 MinHash signatures; texts shorter than 5 use one shingle."""
    out = np.full((len(texts), NUM_PERM), _EMPTY, dtype=np.uint32)
    start = 0
    while start < len(texts):
        end, chars = start, 0
        while end < len(texts) and (chars < _CHUNK_CHARS or end == start):
            chars += len(texts[end])
            end += 1
        if end == start + 1 and len(texts[start]) > _CHUNK_CHARS:
            out[start] = _long_signature(texts[start])
        else:
            out[start:end] = _chunk_signatures(texts[start:end])
        start = end
    return out


def _long_signature(text: str) -> np.ndarray:
    """The signature of one text longer than a chunk, a chunk at a time.

    The minimum over a set is the minimum of the minima over pieces that cover it: pieces
    overlapping by SHINGLE - 1 characters hold every shingle of the text and no other,
    so the result is exactly ``_chunk_signatures([text])``, in memory bounded by the
    chunk rather than by the text (a 10 MB record needed about 3 GB at once).
    """
    signature = np.full(NUM_PERM, _EMPTY, dtype=np.uint32)
    for begin in range(0, len(text) - SHINGLE + 1, _CHUNK_CHARS):
        piece = text[begin : begin + _CHUNK_CHARS + SHINGLE - 1]
        np.minimum(signature, _chunk_signatures([piece])[0], out=signature)
    return signature


def _chunk_signatures(texts: Sequence[str]) -> np.ndarray:
    # Short texts are padded to one full shingle so that every record has a signature.
    padded = [t if len(t) >= SHINGLE else t + "\0" * (SHINGLE - len(t)) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = len(codes) - SHINGLE + 1
    hashes = np.zeros(windows, dtype=np.uint64)
    for k in range(SHINGLE):
        hashes = hashes * _BASE + codes[k : k + windows]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    counts = lengths - SHINGLE + 1
    # Keep windows that lie inside one text: window i of text t is starts[t] + j, j < counts[t].
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    keep = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
    hashes = ((hashes[keep] * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)).astype(np.uint32)
    # (128, S): a permutation per row, then the minimum over each text's shingles. Rows
    # keep the reductions contiguous (reduceat down columns is several times slower).
    # x -> a*x + b (mod 2^32) with odd a is a permutation of uint32; 32-bit arithmetic
    # halves the memory traffic, which is what bounds the speed.
    permuted = _MULT[:, None] * hashes[None, :]
    permuted += _ADD[:, None]
    return np.minimum.reduceat(permuted, first, axis=1).T


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of signature rows (broadcasting)."""
    return (a == b).mean(axis=-1)


def shingle_set(text: str) -> set[str]:
    if len(text) < SHINGLE:
        return {text}
    return {text[i : i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two squeezed texts' 5-character shingles."""
    return set_jaccard(shingle_set(a), shingle_set(b))


def set_jaccard(first: set[str], second: set[str]) -> float:
    """Jaccard similarity of two shingle sets (``shingle_set``; never empty)."""
    return len(first & second) / len(first | second)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, 32) uint64: one LSH key per band of 4 signature rows; equal keys share a bucket."""
    bands = np.ascontiguousarray(sigs).view(np.uint64).reshape(len(sigs), BANDS, ROWS // 2)
    return bands[:, :, 0] * np.uint64(0x9E3779B97F4A7C15) ^ bands[:, :, 1]


def candidate_pairs(sigs: np.ndarray, cutoff: float) -> list[tuple[int, int]]:
    """(earlier, later) pairs sharing an LSH band whose estimated similarity >= cutoff.

    Within a bucket each member is compared with the bucket's earliest record only, so a
    bucket of k records costs k comparisons, not k squared.
    """
    n = len(sigs)
    pairs: set[tuple[int, int]] = set()
    all_keys = band_keys(sigs)
    for band in range(BANDS):
        keys = all_keys[:, band]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        lengths = np.diff(np.r_[starts, n])
        # Only buckets holding two or more records can yield pairs (most hold one).
        for start, length in zip(
            starts[lengths > 1].tolist(), lengths[lengths > 1].tolist(), strict=True
        ):
            group = order[start : start + length]
            head = int(group.min())
            members = group[group != head]
            close = members[similarity(sigs[members], sigs[head]) >= cutoff]
            pairs.update((head, int(member)) for member in close)
    return sorted(pairs)


def near_duplicates(
    sigs: np.ndarray, threshold: float, texts: Callable[[list[int]], dict[int, str]]
) -> np.ndarray:
    """For each record, the earliest record of its near-duplicate cluster, or -1.

    Candidates come from LSH and the signature estimate; each is confirmed with the exact
    Jaccard similarity of the two texts (``texts`` returns them by index), so template-
    like but distinct records are not reported.
    """
    pairs = candidate_pairs(sigs, threshold - ESTIMATE_MARGIN)
    needed = sorted({i for pair in pairs for i in pair})
    text_of = texts(needed) if needed else {}
    parent = list(range(len(sigs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        if jaccard(text_of[a], text_of[b]) >= threshold:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the earliest record is the representative
    roots = np.fromiter((find(i) for i in range(len(sigs))), dtype=np.int64, count=len(sigs))
    return np.where(roots == np.arange(len(sigs)), -1, roots)
