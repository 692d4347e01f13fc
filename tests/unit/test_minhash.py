"""Near-duplicates: MinHash LSH candidates confirmed by exact Jaccard."""

from __future__ import annotations

import random

import numpy as np
import pytest

from trainguard.local.demo_data import sample_text
from trainguard.scanners.minhash import jaccard, near_duplicates, signatures, similarity

pytestmark = pytest.mark.unit


def corpus(n: int = 2000, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [sample_text(rng, rng.choice(["zh", "en"])) for _ in range(n)]


def test_signature_estimates_jaccard() -> None:
    """The signature agreement estimates the exact Jaccard similarity within 0.15."""
    texts = corpus(50)
    edited = [t[: len(t) // 2] + "插入" + t[len(t) // 2 :] for t in texts]
    a, b = signatures(texts), signatures(edited)
    for i in range(50):
        assert abs(similarity(a[i], b[i]) - jaccard(texts[i], edited[i])) < 0.15


def test_finds_planted_copies_and_points_to_the_earlier_record() -> None:
    """Lightly edited copies are found and point at their original; nothing else is."""
    texts = corpus()
    originals = list(range(0, 100, 5))
    for i in originals:
        t = texts[i]
        texts.append(t[: len(t) // 3] + "，" + t[len(t) // 3 :])
    sigs = signatures(texts)
    duplicate_of = near_duplicates(sigs, 0.7, lambda idx: {i: texts[i] for i in idx})
    for copy, original in zip(range(2000, 2000 + len(originals)), originals, strict=True):
        assert duplicate_of[copy] == original
    flagged = np.flatnonzero(duplicate_of >= 0)
    for i in flagged:  # every report is a true near-duplicate
        assert jaccard(texts[i], texts[duplicate_of[i]]) >= 0.7


def test_short_texts_get_signatures() -> None:
    """Texts shorter than a shingle still get a signature, equal for equal texts."""
    sigs = signatures(["ab", "ab", "xyz"])
    assert (sigs[0] == sigs[1]).all() and not (sigs[0] == sigs[2]).all()


def test_a_record_longer_than_a_chunk_gets_the_same_signature_in_bounded_memory() -> None:
    """Issue 18: one 10 MB record made a (128 x 10 M) matrix, about 3 GB. Pieces that
    overlap by SHINGLE - 1 give exactly the whole text's signature."""
    import random

    from trainguard.scanners import minhash

    rng = random.Random(5)
    alphabet = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    text = "".join(rng.choice(alphabet) for _ in range(3 * minhash._CHUNK_CHARS + 123))
    whole = minhash._chunk_signatures([text])[0]
    assert (minhash.signatures([text])[0] == whole).all()
    assert (minhash.signatures(["short one", text, "another"])[1] == whole).all()
