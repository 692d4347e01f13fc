"""Peak memory of `trainguard scan` by record size and record count.

Each case is a dataset of the DESIGN.md contract, written here from real sentences
(tests/fixtures/benign_*.txt, written by hand, not by the demo generator), scanned by the
installed CLI in a child process; the peak resident set of that child (``wait4``'s
``ru_maxrss``) is printed beside the size of its data and of its largest record, and
beside the baseline of the same CLI scanning a 30-record dataset in the same run (the
fixed cost: Python, Arrow, GX, scikit-learn).

    python bench/memory.py            # 1 x 10 MB, 10^5 and 10^6 tiny records, the mix
                                      # (and 10^6 at a smaller TRAINGUARD_BATCH_ROWS)
    python bench/memory.py --quick    # 10^4 tiny records instead of 10^6
    python bench/memory.py --records 10000000   # the baseline and N tiny records only

Prints one ``RESULT`` line with every figure.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
FIXTURES = ROOT / "tests" / "fixtures"
CLI = Path(sys.executable).parent / "trainguard"
HASH_KEY = "bench-memory-key-0123456789abcdef0123"


def sentences() -> list[str]:
    from dataset_factory import fixture_sentences

    return fixture_sentences()


def write(
    root: Path,
    records: list[dict[str, str]] | None = None,
    *,
    count: int = 0,
    sentences_per_record: int = 1,
) -> Path:
    """A dataset of ``records``, or of ``count`` generated tiny records, in Parquet shards
    of 200,000 records (as a provider's export would be split).

    Generated records join ``sentences_per_record`` random fixture sentences: with one,
    nearly every record is a near-duplicate of another (332 sentences, a numeral apart);
    with three, there are 36 million combinations and near-duplicates are rare."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataset_factory import write_dataset

    lines = sentences()
    write_dataset(root, records=records or [{"record_id": "x", "source_id": "wiki", "text": "x"}])
    if records is None:
        for shard in (root / "records").iterdir():
            shard.unlink()
        rng = random.Random(7)
        sources = ("wiki", "books", "crawl")
        for start in range(0, count, 200_000):
            size = min(200_000, count - start)
            table = pa.table(
                {
                    "record_id": [f"t{start + i:08d}" for i in range(size)],
                    "source_id": [sources[(start + i) % 3] for i in range(size)],
                    "text": [
                        " ".join(rng.choice(lines) for _ in range(sentences_per_record))
                        + f" #{start + i}"
                        for i in range(size)
                    ],
                }
            )
            pq.write_table(table, root / "records" / f"part-{start // 200_000:03d}.parquet")
        # the manual spot check names a sample of the records it reviewed
        (root / "review" / "manual_verdicts.csv").write_text(
            "record_id,reviewer_id,verdict,reviewed_at\n"
            + "".join(f"t{i:08d},rev1,pass,2026-01-01T00:00:00\n" for i in range(min(count, 4000)))
        )
    return root


def tiny(count: int) -> list[dict[str, str]]:
    lines = sentences()
    return [
        {"record_id": f"b{i}", "source_id": ("wiki", "books", "crawl")[i % 3], "text": lines[i]}
        for i in range(count)
    ]


def big_record(root: Path, megabytes: int) -> Path:
    lines = sentences()
    rng = random.Random(3)
    text, size = [], 0
    while size < megabytes * 1_000_000:
        line = rng.choice(lines)
        text.append(line)
        size += len(line.encode())
    records = [
        {"record_id": "big", "source_id": "books", "text": " ".join(text)},
        *(
            {"record_id": f"s{i}", "source_id": ("wiki", "crawl")[i % 2], "text": lines[i]}
            for i in range(29)
        ),
    ]
    return write(root, records)


def mix(root: Path) -> Path:
    """The README's record mix: varied lengths, CN and EN, some PI and near misses."""
    lines = sentences()
    rng = random.Random(11)
    records = []
    for i in range(50_000):
        words = " ".join(rng.choice(lines) for _ in range(rng.choice((1, 1, 2, 4, 16))))
        if i % 16 == 0:
            words += f" 联系电话 1{rng.randrange(3, 10)}{rng.randrange(10**8, 10**9)}"
        records.append(
            {"record_id": f"m{i:06d}", "source_id": ("wiki", "books")[i % 2], "text": words}
        )
    return write(root, records)


def peak_of_scan(dataset: Path, batch_rows: int | None = None) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of `trainguard scan DATASET` in a child.

    One worker: the figure is the whole scan's, shards and fan-in in one process (with N
    workers each forked scan holds its own batch)."""
    env = dict(os.environ, TRAINGUARD_HASH_KEY=HASH_KEY, TRAINGUARD_HOME=str(dataset.parent))
    if batch_rows:
        env["TRAINGUARD_BATCH_ROWS"] = str(batch_rows)
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(CLI), "scan", str(dataset), "--quiet", "--format", "json", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"scan of {dataset} exited {code}: {child.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds, code


def data_mb(dataset: Path) -> float:
    return sum(p.stat().st_size for p in (dataset / "records").iterdir()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^4 tiny records, not 10^6")
    parser.add_argument("--records", type=int, default=0, help="the baseline and N tiny records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-bench-memory-") as folder:
        base = Path(folder)
        if args.records:
            started = time.perf_counter()
            large = write(base / "large", count=args.records)
            print(f"wrote {args.records:,} records in {time.perf_counter() - started:.0f} s")
            _report(
                {
                    "baseline: 30 records": (write(base / "baseline", tiny(30)), None),
                    f"{args.records:,} tiny records": (large, None),
                }
            )
            return
        many = 10_000 if args.quick else 1_000_000
        exponent = 4 if args.quick else 6
        e6 = write(base / "e6", count=many)
        cases = {  # name: (dataset, TRAINGUARD_BATCH_ROWS or None for the default)
            "baseline: 30 records": (write(base / "baseline", tiny(30)), None),
            "1 x 10 MB record": (big_record(base / "big", 10), None),
            "10^5 tiny records": (write(base / "e5", count=100_000), None),
            f"10^{exponent} tiny records": (e6, None),
            f"10^{exponent} tiny, batch 8192": (e6, 8192),
            f"10^{exponent} distinct records": (
                write(base / "d6", count=many, sentences_per_record=3),
                None,
            ),
            "the mix: 50,000 records": (mix(base / "mix"), None),
        }
        _report(cases)


def _report(cases: dict[str, tuple[Path, int | None]]) -> None:
    print(f"{'case':<30} {'data MB':>8} {'peak RSS MB':>12} {'seconds':>8}")
    figures = {}
    for name, (dataset, batch_rows) in cases.items():
        peak, seconds, _code = peak_of_scan(dataset, batch_rows)
        print(f"{name:<30} {data_mb(dataset):>8.1f} {peak:>12.0f} {seconds:>8.1f}", flush=True)
        key = name.split(":")[0].replace(",", "").replace("^", "e")
        figures[key.replace(" ", "_")] = round(peak)
    print("RESULT " + " ".join(f"peak_mb_{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
