"""Near-duplicate detection speed and recall, against datasketch on the same records.

    python bench/dedup.py [--records 20000]

Generates CN/EN records with planted near-duplicates at several edit strengths, computes
each planted pair's exact Jaccard similarity (5-character shingles of the squeezed text),
then runs trainguard's detector (vectorised MinHash, 32x4 LSH, exact confirmation) and
datasketch (MinHash with 128 permutations + MinHashLSH at threshold 0.7) on the same
squeezed texts. Recall counts the planted pairs with Jaccard >= 0.7 that each one links.
The last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import random
import time

THRESHOLD = 0.7


def records(count: int, seed: int = 13) -> tuple[list[str], list[tuple[int, int]]]:
    """Squeezed texts and the planted (copy, original) pairs."""
    import pyarrow as pa

    from trainguard.local.demo_data import sample_text
    from trainguard.scanners.lexicon import squeeze

    rng = random.Random(seed)
    texts = [sample_text(rng, rng.choice(["zh", "en"])) for _ in range(count)]
    pairs = []
    for n in range(count // 20):  # 5 % copies, from one small edit to several
        original = rng.randrange(count)
        text = texts[original]
        for _ in range(1 + n % 4):
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(["，", "。", " 的 ", "xx"]) + text[cut + 2 :]
        texts.append(text)
        pairs.append((len(texts) - 1, original))
    return squeeze(pa.array(texts)).to_pylist(), pairs


def trainguard_detector(texts: list[str]) -> set[tuple[int, int]]:
    from trainguard.scanners.minhash import near_duplicates, signatures

    duplicate_of = near_duplicates(
        signatures(texts), THRESHOLD, lambda idx: {i: texts[i] for i in idx}
    )
    clusters: dict[int, list[int]] = {}
    for i, root in enumerate(duplicate_of.tolist()):
        clusters.setdefault(i if root < 0 else root, []).append(i)
    linked = set()
    for members in clusters.values():
        linked.update((a, b) for a in members for b in members if a != b)
    return linked


def datasketch_detector(texts: list[str]) -> set[tuple[int, int]]:
    from datasketch import MinHash, MinHashLSH

    from trainguard.scanners.minhash import shingle_set

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=128)
    hashes = []
    for i, text in enumerate(texts):
        minhash = MinHash(num_perm=128)
        minhash.update_batch([s.encode() for s in shingle_set(text)])
        lsh.insert(str(i), minhash)
        hashes.append(minhash)
    linked = set()
    for i, minhash in enumerate(hashes):
        for key in lsh.query(minhash):
            if int(key) != i:
                linked.add((i, int(key)))
    return linked


def main() -> None:
    from trainguard.scanners.minhash import jaccard

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    texts, pairs = records(args.records)
    similar = [(a, b) for a, b in pairs if jaccard(texts[a], texts[b]) >= THRESHOLD]
    print(
        f"{len(texts):,} records; {len(pairs)} planted pairs, {len(similar)} with "
        f"Jaccard >= {THRESHOLD}"
    )
    results = {}
    for name, detector in (
        ("trainguard", trainguard_detector),
        ("datasketch", datasketch_detector),
    ):
        start = time.perf_counter()
        linked = detector(texts)
        seconds = time.perf_counter() - start
        recall = sum((a, b) in linked for a, b in similar) / len(similar)
        results[name] = (len(texts) / seconds, recall)
        print(f"{name:12} {len(texts) / seconds:10,.0f} records/s  recall {recall:.3f}", flush=True)
    ours, theirs = results["trainguard"], results["datasketch"]
    print(
        f"RESULT dedup_rec_s={ours[0]:.0f} datasketch_rec_s={theirs[0]:.0f} "
        f"ratio={ours[0] / theirs[0]:.1f} recall={ours[1]:.3f} datasketch_recall={theirs[1]:.3f}"
    )


if __name__ == "__main__":
    main()
